/**
 * The one interface every model source has, its progress events, its error, and what every kind shares: file
 * names checked once, text and JSON read from the bytes, `tryGetFile` as "missing is null".
 */

import { jsonSyntaxError } from '../../data/jsonSyntax';
import { decodeUtf8, Utf8Error } from '../../data/utf8';

export type SourceKind = 'hub' | 'folder' | 'url';

/** Progress of one file. `total` is the expected size in bytes (0 while unknown). */
export interface FileProgress {
  file: string;
  loaded: number;
  total: number;
  /** true when the bytes came from the cache or a local file rather than the network */
  fromCache: boolean;
}

export type ProgressCallback = (p: FileProgress) => void;

export interface ModelSource {
  readonly kind: SourceKind;
  /** Human-readable name used in messages: the repo id, folder name or URL prefix. */
  readonly label: string;
  /** The bytes of `name` (a path inside the model folder, e.g. `onnx/model.onnx`). */
  getFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array>;
  getText(name: string, onProgress?: ProgressCallback): Promise<string>;
  getJson<T = unknown>(name: string, onProgress?: ProgressCallback): Promise<T>;
  /** Like getFile, but `null` when the file does not exist (other failures still throw). */
  tryGetFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array | null>;
}

export type ModelFileErrorReason = 'missing' | 'refused' | 'http' | 'network' | 'invalid';

/** Every failure to get a model file; `message` names the model, the file and (for HTTP) the status and URL. */
export class ModelFileError extends Error {
  readonly reason: ModelFileErrorReason;
  readonly file: string;
  readonly source: string;
  readonly status?: number;
  readonly url?: string;
  constructor(
    message: string,
    init: { reason: ModelFileErrorReason; file: string; source: string; status?: number; url?: string; cause?: unknown },
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ModelFileError';
    this.reason = init.reason;
    this.file = init.file;
    this.source = init.source;
    this.status = init.status;
    this.url = init.url;
  }
}

/** A file name inside a model folder, with "/" separators; refuses names that leave the folder. */
export function normalizeName(name: string): string {
  const n = name.replace(/\\/g, '/').replace(/^\.?\/+/, '');
  if (n === '' || n.split('/').some((p) => p === '..' || p === '')) {
    throw new Error(`invalid model file name ${JSON.stringify(name)}`);
  }
  return n;
}

/** A file name as a URL path (each part percent-encoded, the "/" kept). */
export function encodePath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

/** What to do about a model file whose content is broken, by kind of source. */
function brokenFileFix(kind: SourceKind, file: string): string {
  switch (kind) {
    case 'folder':
      return `replace ${file} with the original from the model's repository`;
    case 'hub':
      return `choose a repository whose ${file} is valid, or load the model from a local folder`;
    case 'url':
      return 'the bundled model is broken: write it again with `npm run models`';
  }
}

/**
 * A model file's JSON, or a {@link ModelFileError} naming the source, the file, the line and the fix: strict UTF-8
 * (a Latin-1 file is refused, not read as U+FFFD) and where the JSON breaks, as a cut-off download does. Every JSON
 * file of a model passes here: ours through `getJson`, transformers.js' through `transformersEnv.ts`.
 */
export function parseModelJson(bytes: Uint8Array, file: string, source: Pick<ModelSource, 'kind' | 'label'>): unknown {
  const invalid = (why: string, cause: unknown) =>
    new ModelFileError(`${source.label}: file ${file} is not valid JSON${why}`, { reason: 'invalid', file, source: source.label, cause });
  let text: string;
  try {
    text = decodeUtf8(bytes, file);
  } catch (e) {
    throw e instanceof Utf8Error ? invalid(`: ${e.detail}`, e) : e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const at = jsonSyntaxError(text);
    const where = at
      ? `line ${at.line}, column ${at.column}: ${at.endsEarly ? 'the file ends before its JSON does, as a cut-off download would' : `expected ${at.expected}`}`
      : (e as Error).message;
    throw invalid(` (${where}); ${brokenFileFix(source.kind, file)}`, e);
  }
}

/** Read a response body to the end, reporting progress; falls back to arrayBuffer() without a stream. */
export async function readBody(
  res: Response,
  file: string,
  fromCache: boolean,
  onProgress: ProgressCallback | undefined,
): Promise<Uint8Array> {
  const header = Number(res.headers.get('content-length'));
  let total = Number.isFinite(header) && header > 0 ? header : 0;
  if (!res.body || typeof res.body.getReader !== 'function') {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ file, loaded: bytes.length, total: bytes.length, fromCache });
    return bytes;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ file, loaded: 0, total, fromCache });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    // A compressed transfer can report a smaller content-length than the decoded body.
    if (loaded > total && total !== 0) total = loaded;
    if (onProgress) onProgress({ file, loaded, total, fromCache });
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  onProgress?.({ file, loaded, total: loaded, fromCache });
  return out;
}

/** A source kind implements `getFile`; text, JSON and "missing is null" are the same for all. */
export abstract class BaseSource implements ModelSource {
  abstract readonly kind: SourceKind;
  abstract readonly label: string;
  abstract getFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array>;

  async getText(name: string, onProgress?: ProgressCallback): Promise<string> {
    const file = normalizeName(name);
    return decodeUtf8(await this.getFile(file, onProgress), `${this.label}: file ${file}`);
  }

  async getJson<T = unknown>(name: string, onProgress?: ProgressCallback): Promise<T> {
    const file = normalizeName(name);
    return parseModelJson(await this.getFile(file, onProgress), file, this) as T;
  }

  async tryGetFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    try {
      return await this.getFile(name, onProgress);
    } catch (e) {
      if (e instanceof ModelFileError && e.reason === 'missing') return null;
      throw e;
    }
  }
}
