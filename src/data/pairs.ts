/**
 * Preference pairs: the training data of DPO and ASPO. One pair is a prompt (with an optional image) and two
 * answers, the preferred (`chosen`) and the dispreferred (`rejected`) one. Files are JSONL, one pair a line,
 * as TRL's DPO datasets are written: `{ "prompt": …, "chosen": …, "rejected": …, "image"?: … }`.
 *
 * Pure TS (no DOM, no Node): used by the tab, the training worker and the CLI alike.
 */

export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
  /**
   * The image the prompt is about: a path relative to the JSONL file (CLI), a key of the bundled sandbox
   * (`sandbox:…`), or any key the caller's image loader understands. Absent for text-only pairs.
   */
  image?: string;
  /**
   * Per-sentence image–text similarities `S_i` (Eq. 6) of the chosen response, one per sentence of
   * `splitSentences(chosen)`, when they are already known (e.g. computed by the CLIP scorer and stored with
   * the data). Otherwise the trainer asks its `similarity` callback (`clipSimilarities`: the CLIP scorer).
   */
  similarity?: { chosen: number[] };
}

export interface PairLineError {
  /** 1-based line number in the file. */
  line: number;
  message: string;
}

export interface ParsedPairs {
  pairs: PreferencePair[];
  /** Lines that were skipped, each with its number and what is wrong with it. */
  errors: PairLineError[];
  /** 1-based line number of each pair in `pairs`, for messages about it later. */
  lines: number[];
}

const REQUIRED = ['prompt', 'chosen', 'rejected'] as const;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

/** Validates one decoded JSON value as a pair; returns the pair or a message naming the offending field. */
export function validatePair(value: unknown): PreferencePair | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `expected a JSON object with "prompt", "chosen" and "rejected", got ${describe(value)}`;
  }
  const record = value as Record<string, unknown>;
  for (const field of REQUIRED) {
    if (!(field in record)) return `field "${field}" is missing`;
    if (typeof record[field] !== 'string') return `field "${field}" must be a string, got ${describe(record[field])}`;
  }
  for (const field of ['chosen', 'rejected'] as const) {
    if ((record[field] as string).trim() === '') return `field "${field}" is empty`;
  }
  const pair: PreferencePair = {
    prompt: record.prompt as string,
    chosen: record.chosen as string,
    rejected: record.rejected as string,
  };
  if (record.image !== undefined && record.image !== null) {
    if (typeof record.image !== 'string' || record.image === '') {
      return `field "image" must be a non-empty string (a path relative to the file), got ${describe(record.image)}`;
    }
    pair.image = record.image;
  }
  if (record.similarity !== undefined && record.similarity !== null) {
    const sim = record.similarity as { chosen?: unknown };
    if (typeof sim !== 'object' || !Array.isArray(sim.chosen)) {
      return 'field "similarity" must be an object { "chosen": [numbers, one per sentence] }';
    }
    const bad = sim.chosen.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
    if (bad >= 0) return `field "similarity.chosen[${bad}]" must be a finite number, got ${JSON.stringify(sim.chosen[bad])}`;
    pair.similarity = { chosen: (sim.chosen as number[]).slice() };
  }
  return pair;
}

/**
 * Parses a JSONL file of pairs. Blank lines are ignored; a line that is not valid JSON or not a valid pair is
 * reported with its 1-based number and the field at fault, and skipped, so one bad line does not lose the file.
 */
export function parsePairsJsonl(text: string, fileName: string): ParsedPairs {
  const pairs: PreferencePair[] = [];
  const errors: PairLineError[] = [];
  const lines: number[] = [];
  const rows = text.split(/\r?\n/);
  rows.forEach((raw, k) => {
    const line = k + 1;
    const row = k === 0 ? raw.replace(/^\uFEFF/, '') : raw;
    if (row.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(row);
    } catch (err) {
      errors.push({ line, message: `${fileName}:${line}: not valid JSON (${(err as Error).message})` });
      return;
    }
    const pair = validatePair(value);
    if (typeof pair === 'string') {
      errors.push({ line, message: `${fileName}:${line}: ${pair}` });
      return;
    }
    pairs.push(pair);
    lines.push(line);
  });
  return { pairs, errors, lines };
}

/** One JSON object per line, fields in a fixed order, ending with a newline. */
export function toJsonl(pairs: readonly PreferencePair[]): string {
  return pairs
    .map((p) => {
      const out: Record<string, unknown> = { prompt: p.prompt, chosen: p.chosen, rejected: p.rejected };
      if (p.image !== undefined) out.image = p.image;
      if (p.similarity !== undefined) out.similarity = { chosen: p.similarity.chosen };
      return `${JSON.stringify(out)}\n`;
    })
    .join('');
}
