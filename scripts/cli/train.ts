import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RawImage } from '@huggingface/transformers';
import { parsePairsJsonl, type PreferencePair } from '../../src/data/pairs';
import { decodeUtf8 } from '../../src/data/utf8';
import type { BatchMetrics } from '../../src/aspo/objective';
import { loadClipScorer, type ClipScorer } from '../../src/models/clip';
import { loadTfjsEngine } from '../../src/models/tfjs/engine';
import { SANDBOX_HELD_OUT_SIZE, SANDBOX_KEY_PREFIX, SANDBOX_TRAIN_SIZE, sandboxPairs } from '../../src/sandbox/preferences';
import { exportPeftAdapter } from '../../src/train/peft';
import { requirement, type Setting } from '../../src/aspo/settings';
import {
  resolveSettings,
  settingValue,
  TRAIN_SETTING_KEYS,
  TRAIN_SETTINGS,
  withSetting,
  type TrainSettingKey,
  type TrainSettings,
  type TrainSettingsInput,
} from '../../src/train/settings';
import { pairsFingerprint } from '../../src/train/checkpoint';
import type { StepReport } from '../../src/train/optimizerStep';
import { clipSimilarities, lazily } from '../../src/train/clipSimilarity';
import { sandboxImageLoader, type ImageLoader, type SimilarityFn } from '../../src/train/pairPreparation';
import { loraOptions, Trainer } from '../../src/train/trainer';
import { FIXTURE_MODELS, nodeFolderSource } from '../lib/nodeModelSource';
import { integerOption, numberOption, requiredString, UsageError, type Command } from './args';
import { BACKEND_HELP, BACKEND_OPTION, BACKEND_USAGE, backendOption, startBackend, type BackendRecord } from './backend';
import {
  appendMetrics,
  checkOutFolder,
  clearRunFiles,
  createOutFolder,
  fileSha256,
  readCheckpoint,
  readRunRecord,
  RUN_FILES,
  saveCheckpointFiles,
  writeMetrics,
  writeRunRecord,
  type RunRecord,
  type RunStatus,
} from './runFolder';

/** Steps between checkpoints when --save-every is not given: a lost tail of at most this many steps. */
export const DEFAULT_SAVE_EVERY = 10;

/** The settings the command line sets, each by its `--flag` (TRAIN_SETTINGS declares them). */
const FLAG_SETTINGS = TRAIN_SETTING_KEYS.flatMap((key) => {
  const setting: Setting = TRAIN_SETTINGS[key];
  return setting.flag === undefined ? [] : [{ key, flag: setting.flag, setting }];
});
/** Settings with no default on the command line. */
const REQUIRED_SETTINGS = new Set<TrainSettingKey>(['objective', 'steps']);

/** The options that make a run what it is: recorded in run.json, and compared on --resume. */
const RUN_OPTIONS = ['model', 'pairs', ...FLAG_SETTINGS.map((f) => f.flag), 'base-model', 'eval', 'clip'];
/** Options naming files, compared as absolute paths. */
const PATH_OPTIONS = new Set(['model', 'pairs', 'eval', 'clip']);
/** The CLIP that scores the sandbox's pairs when --clip names none: the bundled sandbox CLIP. */
export const SANDBOX_CLIP_DIR = join(FIXTURE_MODELS, 'sandbox-clip');

/** The setting's option, parsed (decimal numbers, integers in the setting's range, one of its choices); undefined when not given. */
function settingOption(values: Record<string, unknown>, flag: string, setting: Setting): string | number | undefined {
  const v = values[flag];
  if (v === undefined) return undefined;
  if (setting.kind === 'choice') {
    const allowed = setting.choices.map((c) => c.value);
    if (typeof v !== 'string' || !allowed.includes(v)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got "${String(v)}"`);
    return v;
  }
  if (!setting.integer) return numberOption(values, flag, 0);
  const min = setting.min === undefined ? -Number.MAX_SAFE_INTEGER : setting.aboveMin ? setting.min + 1 : setting.min;
  return integerOption(values, flag, { min, max: setting.max });
}

function settingsFrom(options: Record<string, string>): TrainSettings {
  let input: TrainSettingsInput = {};
  for (const { key, flag, setting } of FLAG_SETTINGS) {
    const value = settingOption(options, flag, setting);
    if (value === undefined && REQUIRED_SETTINGS.has(key)) {
      const choices = setting.kind === 'choice' ? ` (${setting.choices.map((c) => c.value).join(' or ')})` : '';
      throw new UsageError(`--${flag} is required${choices}`);
    }
    if (value !== undefined) input = withSetting(input, key, value);
  }
  // A given rank keeps the default alpha / rank ratio of 2 unless --lora-alpha says otherwise.
  if (input.lora?.r !== undefined && input.lora.alpha === undefined) input = withSetting(input, 'lora.alpha', 2 * input.lora.r);
  try {
    return resolveSettings(input);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The run-defining options given on the command line, paths made absolute. */
function runOptions(values: Record<string, unknown>): Record<string, string> {
  const options: Record<string, string> = {};
  for (const name of RUN_OPTIONS) {
    const v = values[name];
    if (typeof v !== 'string') continue;
    options[name] = PATH_OPTIONS.has(name) && v !== 'sandbox' ? resolve(v) : v;
  }
  return options;
}

/** Each option given to --resume that would make another run than the recorded one, with both values. */
function resumeDifferences(record: RunRecord, given: Record<string, string>, settings: TrainSettings): string[] {
  const differences: string[] = [];
  for (const name of ['model', 'pairs', 'eval', 'base-model', 'clip']) {
    if (given[name] !== undefined && given[name] !== record.options[name]) {
      differences.push(`--${name} (the run used ${record.options[name] ?? 'none'}, given ${given[name]})`);
    }
  }
  for (const { key, flag } of FLAG_SETTINGS) {
    const was = JSON.stringify(settingValue(record.settings, key));
    const now = JSON.stringify(settingValue(settings, key));
    if (was !== now) differences.push(`--${flag} (the run used ${was}, given ${now})`);
  }
  return differences;
}

interface PairsFile {
  pairs: PreferencePair[];
  /** how messages name each pair: `file:line`, or undefined for the sandbox (`training pair N`) */
  labels?: string[];
  /** the file's line of each pair (sandbox: its position) */
  lines: number[];
  base: string;
  skipped: number[];
}

/** Reads --pairs / --eval, refusing a missing file or a folder with the fix; bad lines are reported and skipped. */
function readPairs(file: string, option: string, role: 'training' | 'evaluation', warn: Warn): PairsFile {
  if (file === 'sandbox') {
    const { train, heldOut } = sandboxPairs();
    const pairs = role === 'training' ? train : heldOut;
    return { pairs, lines: pairs.map((_, i) => i + 1), base: process.cwd(), skipped: [] };
  }
  let isFolder: boolean;
  try {
    isFolder = statSync(file).isDirectory();
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(`--${option} ${file}: ${missing ? 'no such file' : (err as Error).message}; give a JSONL file of pairs, or "sandbox"`);
  }
  if (isFolder) {
    const inside = readdirSync(file).filter((n) => n.endsWith('.jsonl'));
    throw new Error(
      `--${option} ${file} is a folder; give a JSONL file (one { "prompt", "chosen", "rejected", "image"? } object per line)` +
        (inside.length > 0 ? `, e.g. --${option} ${join(file, inside[0])}` : ''),
    );
  }
  const { pairs, errors, lines } = parsePairsJsonl(decodeUtf8(readFileSync(file), file), file);
  for (const e of errors) warn(`skipped line ${e.line}: ${e.message}`);
  if (pairs.length === 0) throw new Error(`${file} holds no valid pair`);
  return { pairs, labels: lines.map((l) => `${file}:${l}`), lines, base: dirname(resolve(file)), skipped: errors.map((e) => e.line) };
}

/** An image path of the data, read with a message that names the file and what is wrong with it. */
export async function readImage(path: string): Promise<RawImage> {
  let isFolder: boolean;
  try {
    isFolder = statSync(path).isDirectory();
  } catch {
    throw new Error(`no such file ${path}`);
  }
  if (isFolder) throw new Error(`${path} is a folder, not an image file`);
  try {
    return await RawImage.read(path);
  } catch (err) {
    throw new Error(`${path} is not an image that can be decoded (${(err as Error).message}); use PNG, JPEG, WebP, GIF, AVIF or TIFF`);
  }
}

/**
 * On the CPU backend a step's read-backs resolve as microtasks, so a loop of steps never returns to the event
 * loop, and a SIGINT handler would not run until the run is over.
 */
const yieldToEvents = () => new Promise<void>((resolve) => setImmediate(resolve));

function sameBackend(a: BackendRecord, b: BackendRecord): boolean {
  return a.name === b.name && a.threads === b.threads && a.adapter === b.adapter;
}

/** Where the command reports skipped lines and notices (stderr in the CLI; a collector in tests). */
export type Warn = (line: string) => void;

const toStderr: Warn = (line) => process.stderr.write(`aspo train: ${line}\n`);

/** How a caller stops a run: `stop` aborted (with the signal's name as reason) ends it after the step in flight. */
export interface TrainControl {
  stop?: AbortSignal;
  /** told after every step, once its metrics line is written */
  onStep?: (report: StepReport) => void;
}

/** A run stopped while preparing: nothing to save; exits with the signal's conventional code. */
export class Interrupted extends Error {
  readonly exitCode: number;
  constructor(readonly signal: string) {
    super(`stopped by ${signal} while preparing: no step was taken and no file of the run changed`);
    this.exitCode = exitCodeOf(signal);
  }
}

/** 128 + the signal's number, as a shell reports a process ended by that signal (SIGINT 130, SIGTERM 143). */
function exitCodeOf(signal: string): number {
  const n = (osConstants.signals as Record<string, number>)[signal];
  return n === undefined ? 1 : 128 + n;
}

export interface TrainSummary {
  out: string;
  files: string[];
  /** pairs trained on (lines of the file minus skipped ones) */
  pairs: number;
  /** lines skipped: malformed, an image that does not load, a prompt longer than --max-seq-len */
  skippedLines: number[];
  steps: number;
  totalSteps: number;
  /** the step a --resume continued from */
  resumedFrom?: number;
  /** the signal that stopped the run (then `steps` < `totalSteps` and a checkpoint holds them) */
  interrupted?: string;
  skippedSteps: number;
  secondsPerStep: number;
  first?: BatchMetrics;
  last?: BatchMetrics;
  eval?: { pairs: number; skippedLines: number[]; before?: BatchMetrics; after?: BatchMetrics };
  settings: TrainSettings;
  /** what this session's steps ran on (run.json's `backends` holds every session's) */
  backend: BackendRecord;
}

/** One line per setting: its option, what it takes, its label and range, and its default. */
function settingsUsage(): string {
  const rows = FLAG_SETTINGS.map(({ key, flag, setting }) => {
    const takes = setting.kind === 'choice' ? setting.choices.map((c) => c.value).join('|') : setting.integer ? 'N' : 'X';
    const range = setting.kind === 'number' ? `, ${requirement(setting)}` : '';
    const fallback = REQUIRED_SETTINGS.has(key) ? 'required' : key === 'lora.alpha' ? 'default 2·rank' : `default ${setting.default}`;
    return [`--${flag} ${takes}`, `${setting.label}${range} (${fallback})`];
  });
  const width = Math.max(...rows.map(([option]) => option.length));
  return rows.map(([option, text]) => `      ${option.padEnd(width)}  ${text}`).join('\n');
}

const PARSE_OPTIONS = {
  ...Object.fromEntries(RUN_OPTIONS.map((name) => [name, { type: 'string' as const }])),
  out: { type: 'string' },
  overwrite: { type: 'boolean' },
  resume: { type: 'string' },
  'save-every': { type: 'string' },
  ...BACKEND_OPTION,
} as const;

export const trainCommand: Command & { runWith(args: string[], warn: Warn, control?: TrainControl): Promise<TrainSummary> } = {
  usage: `train --model DIR --pairs JSONL --objective dpo|aspo --steps N --out DIR [--overwrite] [SETTINGS]
      [--base-model ID] [--eval JSONL|sandbox] [--clip DIR] [--save-every N (default ${DEFAULT_SAVE_EVERY})] [${BACKEND_USAGE}]
    train --resume DIR [the same options, or none] [${BACKEND_USAGE}]
    SETTINGS:
${settingsUsage()}
      LoRA fine-tuning with DPO or ASPO, with the same trainer as the tab.
      ${BACKEND_HELP}
      The JSONL holds { prompt, chosen, rejected, image?, similarity? } per line (image: a path relative to the file);
      bad lines (and lines whose image does not load) are reported on stderr with their number and skipped.
      ASPO with α > 0 needs S_i per chosen sentence: a pair's similarity.chosen, or else the CLIP in --clip DIR
      scores each sentence against the pair's image (ONNX, as \`similarity\` does); sandbox pictures are scored by
      the bundled sandbox CLIP when --clip is not given.
      --pairs sandbox / --eval sandbox use the bundled sandbox world (${SANDBOX_TRAIN_SIZE} training / ${SANDBOX_HELD_OUT_SIZE} held-out pairs of 64×64
      scenes: the correct description against one with sentences corrupted).
      Writes into --out (refused when it holds files, unless --overwrite): adapter_model.safetensors and
      adapter_config.json (PEFT), metrics.jsonl (one line per step), run.json (options, settings, model, data,
      progress) and checkpoint.safetensors (adapter, optimizer, data order, step), saved every --save-every steps
      and on SIGINT/SIGTERM (then it exits with 130/143). --resume DIR continues that run to the same weights as
      an uninterrupted one; options given again must match the run's. A resumed run may change --backend (the
      backends agree within 1e-4, not bit for bit): run.json's backends lists each one with the step it took
      over from. Prints a summary, with the --eval metrics before and after training.`,
  async run(args) {
    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller.signal.aborted) {
        toStderr(`${signal} again: quitting without saving the step in flight (the last checkpoint stays)`);
        process.exit(exitCodeOf(signal));
      }
      toStderr(`${signal}: stopping after the step in flight and saving a checkpoint (${signal} again quits at once)`);
      controller.abort(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const summary = await this.runWith(args, toStderr, { stop: controller.signal });
      if (summary.interrupted) {
        toStderr(
          `stopped by ${summary.interrupted} after step ${summary.steps} of ${summary.totalSteps}; adapter and checkpoint saved in ${summary.out}; ` +
            `continue with: npm run aspo -- train --resume ${summary.out}`,
        );
        process.exitCode = exitCodeOf(summary.interrupted);
      }
      return summary;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
  async runWith(args, warn, control = {}) {
    const { values } = parseArgs({ args, options: PARSE_OPTIONS });
    const given = runOptions(values);
    const stopped = () => (control.stop?.aborted ? String(control.stop.reason) : undefined);

    // Everything that can be refused without the model is checked first.
    let out: string;
    let resumed: RunRecord | undefined;
    let options = given;
    if (typeof values.resume === 'string') {
      if (values.overwrite) throw new UsageError('--resume continues a run and --overwrite replaces one; give one of them');
      out = resolve(values.resume);
      if (typeof values.out === 'string' && resolve(values.out) !== out) {
        throw new UsageError(`--resume ${values.resume} writes into that folder; leave out --out (given ${values.out})`);
      }
      resumed = readRunRecord(out);
      if (resumed.status === 'complete') {
        throw new Error(`--resume ${out}: the run is complete (${resumed.step} of ${resumed.totalSteps} steps); start a new run with another --out to train further`);
      }
      options = { ...resumed.options, ...given };
    } else {
      out = resolve(requiredString(values, 'out'));
      checkOutFolder(out, values.overwrite === true);
    }
    const settings = settingsFrom(options);
    if (resumed) {
      const differences = resumeDifferences(resumed, given, settings);
      if (differences.length > 0) {
        throw new UsageError(
          `--resume ${out}: ${differences.join('; ')}. Leave these out to continue the run as it was, or start a new run with another --out`,
        );
      }
    }
    const saveEvery = integerOption(values, 'save-every', { min: 1 }) ?? DEFAULT_SAVE_EVERY;
    const backendName = backendOption(values);
    const modelDir = requiredString(options, 'model');
    if (options.clip !== undefined && !existsSync(join(options.clip, 'config.json'))) {
      throw new Error(`--clip ${options.clip} is not a CLIP model folder: it has no config.json (give the folder with config.json and onnx/text_model.onnx, onnx/vision_model.onnx)`);
    }
    const training = readPairs(requiredString(options, 'pairs'), 'pairs', 'training', warn);
    const evaluation = options.eval !== undefined ? readPairs(options.eval, 'eval', 'evaluation', warn) : undefined;
    const fingerprint = pairsFingerprint(training.pairs);
    if (resumed && fingerprint !== resumed.data.fingerprint) {
      throw new Error(`--resume ${out}: ${options.pairs} is not the data the run started on (fingerprint ${fingerprint}, the run's ${resumed.data.fingerprint}); resuming needs the same pairs`);
    }
    if (!resumed) createOutFolder(out);
    const source = nodeFolderSource(modelDir);

    // Images are paths relative to their own JSONL file.
    const bases = new Map<PreferencePair, string>();
    const labels = new Map<PreferencePair, string>();
    for (const set of [training, evaluation]) {
      set?.pairs.forEach((p, i) => {
        bases.set(p, set.base);
        labels.set(p, set.labels?.[i] ?? `pair ${i + 1}`);
      });
    }
    const loadImage: ImageLoader = (key, pair) =>
      key.startsWith(SANDBOX_KEY_PREFIX) ? sandboxImageLoader(key, pair) : readImage(resolve(bases.get(pair) ?? process.cwd(), key));
    // Each CLIP is loaded the first time a pair needs it, and released with the run.
    const scorers = new Map<string, () => Promise<ClipScorer>>();
    const loadedScorers: ClipScorer[] = [];
    const scorerOf = (clipDir: string) => {
      let scorer = scorers.get(clipDir);
      if (!scorer) {
        scorer = lazily(async () => {
          const loaded = await loadClipScorer(nodeFolderSource(clipDir), { device: 'cpu' });
          loadedScorers.push(loaded);
          return loaded;
        });
        scorers.set(clipDir, scorer);
      }
      return scorer;
    };
    const label = (pair: PreferencePair) => labels.get(pair) ?? 'a pair';
    const similarity: SimilarityFn = async (pair, sentences) => {
      const clipDir = options.clip ?? (pair.image?.startsWith(SANDBOX_KEY_PREFIX) ? SANDBOX_CLIP_DIR : undefined);
      if (clipDir === undefined) {
        throw new Error(
          `${label(pair)}: the pair has no similarity.chosen: ASPO with α > 0 needs S_i per chosen sentence ` +
            '(give --clip DIR to score them against the image, or store them with `npm run aspo -- similarity`), or use --alpha 0 (ASPO-P) or --objective dpo',
        );
      }
      return clipSimilarities(scorerOf(clipDir), loadImage, label)(pair, sentences);
    };

    const backend = await startBackend(backendName);
    const engine = await loadTfjsEngine(source, { lora: loraOptions(settings) });
    // Hashed once the engine has read the file, so that a folder without it gets the engine's message.
    const weightsSha256 = await fileSha256(join(modelDir, 'model.safetensors'));
    if (resumed && weightsSha256 !== resumed.model.weightsSha256) {
      engine.dispose();
      throw new Error(`--resume ${out}: ${join(modelDir, 'model.safetensors')} is not the file the run started with (its SHA-256 differs); resuming needs the same model weights`);
    }
    const trainer = new Trainer({ engine, pairs: training.pairs, settings, loadImage, similarity, pairLabels: training.labels });
    const baseModel = options['base-model'] ?? resolve(modelDir);
    try {
      await trainer.prepare(async () => {
        await yieldToEvents();
        const signal = stopped();
        if (signal) throw new Interrupted(signal);
      });
      for (const n of trainer.notices) warn(n);
      const leftOutLines = trainer.leftOut.map((i) => training.lines[i]);
      const skippedLines = [...training.skipped, ...leftOutLines].sort((a, b) => a - b);

      let record: RunRecord;
      let evalLeftOut: number[] = [];
      if (resumed) {
        if (JSON.stringify(leftOutLines) !== JSON.stringify(resumed.data.leftOutLines)) {
          throw new Error(
            `--resume ${out}: the lines left out now (${leftOutLines.join(', ') || 'none'}) are not those of the run (${resumed.data.leftOutLines.join(', ') || 'none'}); ` +
              'an image or the model changed since the run started',
          );
        }
        await trainer.importState(readCheckpoint(out));
        writeMetrics(out, trainer.history);
        // A session that saved no step past the checkpoint ran none of the steps it holds.
        const backends = (resumed.backends ?? []).filter((b) => b.fromStep < trainer.stepsDone);
        const before = backends.at(-1);
        if (!before || !sameBackend(before, backend)) {
          if (before) warn(`resuming on ${backend.name}: steps ${before.fromStep + 1}–${trainer.stepsDone} ran on ${before.name} (backends agree within 1e-4, not bit for bit)`);
          backends.push({ ...backend, fromStep: trainer.stepsDone });
        }
        record = { ...resumed, backends, status: 'running', message: undefined };
      } else {
        const evalBefore = evaluation ? await trainer.evaluate(evaluation.pairs, evaluation.labels) : undefined;
        for (const n of evalBefore?.notices ?? []) warn(n);
        if (evalBefore && evaluation) evalLeftOut = evalBefore.leftOut.map((i) => evaluation.lines[i]);
        // Only now, with the new run ready to take its first step, do the old run's files go.
        clearRunFiles(out);
        const now = new Date().toISOString();
        record = {
          format: 'aspo-train-run',
          version: 1,
          status: 'running',
          step: 0,
          totalSteps: trainer.totalSteps,
          options,
          settings,
          model: { path: resolve(modelDir), id: baseModel, modelType: engine.config.modelType, weightsSha256 },
          data: { pairs: options.pairs, fingerprint, pairCount: training.pairs.length, skippedLines: training.skipped, leftOutLines, ...(options.eval ? { eval: options.eval } : {}) },
          backends: [{ ...backend, fromStep: 0 }],
          ...(evalBefore ? { evalBefore: evalBefore.metrics } : {}),
          startedAt: now,
          updatedAt: now,
        };
        writeRunRecord(out, record);
        writeMetrics(out, []);
      }
      const resumedFrom = resumed ? trainer.stepsDone : undefined;

      const save = async (status: RunStatus, message?: string) => {
        const checkpoint = await trainer.exportState();
        saveCheckpointFiles(out, checkpoint, await exportPeftAdapter(engine.model.lora, { baseModel }));
        record = { ...record, status, step: checkpoint.step, ...(message ? { message } : {}) };
        writeRunRecord(out, record);
      };
      const started = performance.now();
      const sessionStart = trainer.stepsDone;
      try {
        while (!trainer.done && !stopped()) {
          const report = await trainer.step();
          appendMetrics(out, report);
          // Said as it happens: a diverging run is worth stopping before its last step.
          if (report.skipped) warn(`step ${report.step} of ${trainer.totalSteps} skipped: ${report.skipped}`);
          control.onStep?.(report);
          await yieldToEvents();
          if (!trainer.done && !stopped() && trainer.stepsDone % saveEvery === 0) await save('running');
        }
        const interrupted = stopped();
        if (interrupted && !trainer.done) await save('interrupted', `stopped by ${interrupted} after step ${trainer.stepsDone} of ${trainer.totalSteps}`);
        else await save('complete');
      } catch (err) {
        writeRunRecord(out, { ...record, status: 'failed', message: (err as Error).message });
        throw err;
      }
      const sessionSteps = trainer.stepsDone - sessionStart;
      const seconds = (performance.now() - started) / 1000;
      const interrupted = trainer.done ? undefined : stopped();
      const evalAfter = evaluation && !interrupted ? await trainer.evaluate(evaluation.pairs, evaluation.labels) : undefined;
      for (const n of evalAfter?.notices ?? []) warn(n);
      if (evalAfter && evaluation) evalLeftOut = evalAfter.leftOut.map((i) => evaluation.lines[i]);
      const evalSkipped = evaluation ? [...evaluation.skipped, ...evalLeftOut].sort((a, b) => a - b) : [];
      return {
        out,
        files: [...RUN_FILES],
        pairs: training.pairs.length - leftOutLines.length,
        skippedLines,
        steps: trainer.stepsDone,
        totalSteps: trainer.totalSteps,
        ...(resumedFrom !== undefined ? { resumedFrom } : {}),
        ...(interrupted ? { interrupted } : {}),
        skippedSteps: trainer.history.filter((r) => r.skipped).length,
        secondsPerStep: sessionSteps > 0 ? seconds / sessionSteps : 0,
        first: trainer.history[0]?.metrics,
        last: trainer.history.at(-1)?.metrics,
        ...(evaluation
          ? { eval: { pairs: evaluation.pairs.length - evalLeftOut.length, skippedLines: evalSkipped, before: record.evalBefore, after: evalAfter?.metrics } }
          : {}),
        settings,
        backend,
      };
    } finally {
      trainer.dispose();
      engine.dispose();
      for (const scorer of loadedScorers) scorer.dispose();
    }
  },
};
