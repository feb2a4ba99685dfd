/**
 * Where a model's files come from. One interface, three kinds:
 *
 * - {@link hubSource}: a Hugging Face Hub repo (or any mirror with the same
 *   `/{id}/resolve/{revision}/{file}` layout), downloaded with per-file
 *   progress and kept in the browser's Cache Storage (`aspo-models`), so a
 *   second load makes no request;
 * - {@link folderSource}: a folder the user picked (`<input webkitdirectory>`),
 *   fully offline;
 * - {@link urlPrefixSource}: a model bundled with the app under `public/models/`.
 *
 * Pure data: no React, no TF.js. Node tests pass an in-memory cache
 * ({@link memoryCache}) and their own `fetch` where they need to.
 */

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

/** The part of the Web Cache API this module uses (a `Cache` from `caches.open()` fits). */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete?(request: string): Promise<boolean>;
}

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

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

function defaultFetch(): FetchLike {
  if (typeof globalThis.fetch !== 'function') throw new Error('no fetch() in this environment');
  return (input, init) => globalThis.fetch(input, init);
}

function normalizeName(name: string): string {
  const n = name.replace(/\\/g, '/').replace(/^\.?\/+/, '');
  if (n === '' || n.split('/').some((p) => p === '..' || p === '')) {
    throw new Error(`invalid model file name ${JSON.stringify(name)}`);
  }
  return n;
}

function encodePath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

const utf8 = new TextDecoder('utf-8');

function textOf(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

function jsonOf<T>(bytes: Uint8Array, source: string, file: string): T {
  try {
    return JSON.parse(textOf(bytes)) as T;
  } catch (e) {
    throw new ModelFileError(`${source}: file ${file} is not valid JSON (${(e as Error).message})`, {
      reason: 'invalid',
      file,
      source,
      cause: e,
    });
  }
}

/** Read a response body to the end, reporting progress; falls back to arrayBuffer() without a stream. */
async function readBody(
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

abstract class BaseSource implements ModelSource {
  abstract readonly kind: SourceKind;
  abstract readonly label: string;
  abstract getFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array>;

  async getText(name: string, onProgress?: ProgressCallback): Promise<string> {
    return textOf(await this.getFile(name, onProgress));
  }

  async getJson<T = unknown>(name: string, onProgress?: ProgressCallback): Promise<T> {
    return jsonOf<T>(await this.getFile(name, onProgress), this.label, normalizeName(name));
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

// ---------------------------------------------------------------------------
// Caches
// ---------------------------------------------------------------------------

/** The Cache Storage name this app keeps downloaded model files in. */
export const MODEL_CACHE_NAME = 'aspo-models';

/** A Map-backed {@link CacheLike}, for Node and tests. */
export function memoryCache(): CacheLike & { readonly size: number; keys(): string[] } {
  const store = new Map<string, { body: Uint8Array; headers: [string, string][] }>();
  return {
    get size() {
      return store.size;
    },
    keys: () => [...store.keys()],
    async match(request: string) {
      const hit = store.get(request);
      if (!hit) return undefined;
      return new Response(hit.body.slice(), { status: 200, headers: hit.headers });
    },
    async put(request: string, response: Response) {
      const body = new Uint8Array(await response.arrayBuffer());
      store.set(request, { body, headers: [...response.headers.entries()] });
    },
    async delete(request: string) {
      return store.delete(request);
    },
  };
}

/** The browser's Cache Storage for model files, or null where there is none (Node, insecure contexts). */
export async function browserModelCache(name = MODEL_CACHE_NAME): Promise<CacheLike | null> {
  try {
    const storage = (globalThis as { caches?: CacheStorage }).caches;
    if (!storage) return null;
    return await storage.open(name);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// Hub
// ---------------------------------------------------------------------------

export interface HubSourceOptions {
  revision?: string;
  endpoint?: string;
  /** A cache to keep responses in. Default: Cache Storage `aspo-models` when available; `null` disables caching. */
  cache?: CacheLike | null;
  /** An access token for gated or private repos (sent as `Authorization: Bearer`). */
  token?: string;
  fetch?: FetchLike;
}

/**
 * Why `id` is not a Hugging Face repo id, or `null` when it is one. The rules are the Hub's own
 * (`huggingface_hub.utils.validate_repo_id`): "name" or "owner/name"; letters, digits, "-", "_" and "."; no "--"
 * or ".."; a part neither starts nor ends with "-" or "."; the name at most 96 characters and not ending in ".git".
 * Checked before any request, so a typo gets its reason instead of a 404 or a malformed URL.
 */
export function hubIdProblem(id: string): string | null {
  if (id === '') return 'it is empty';
  const bad = [...id].find((c) => !/[A-Za-z0-9._/-]/.test(c));
  if (bad !== undefined) return `it contains ${JSON.stringify(bad)}; only letters, digits, "-", "_", "." and one "/" are allowed`;
  const parts = id.split('/');
  if (parts.length > 2) return 'it has more than one "/"';
  if (parts.some((p) => p === '')) return 'a part before or after "/" is empty';
  if (id.includes('--') || id.includes('..')) return '"--" and ".." are not allowed';
  if (parts.some((p) => /^[-.]|[-.]$/.test(p))) return 'a part starts or ends with "-" or "."';
  const name = parts[parts.length - 1];
  if (name.length > 96) return `the name has ${name.length} characters; at most 96 are allowed`;
  if (name.endsWith('.git')) return 'the name ends with ".git"';
  return null;
}

class HubSource extends BaseSource {
  readonly kind = 'hub' as const;
  readonly label: string;
  readonly id: string;
  readonly revision: string;
  readonly endpoint: string;
  private readonly cacheOption: CacheLike | null | undefined;
  private cachePromise: Promise<CacheLike | null> | null = null;
  private readonly token?: string;
  private readonly fetchFn: FetchLike;
  private readonly inflight = new Map<string, Promise<Uint8Array>>();

  constructor(id: string, opts: HubSourceOptions) {
    super();
    const problem = hubIdProblem(id);
    if (problem) throw new Error(`invalid Hugging Face model id ${JSON.stringify(id)}: ${problem} (expected "owner/name", e.g. "HuggingFaceTB/SmolVLM-256M-Instruct")`);
    this.id = id;
    this.label = id;
    this.revision = opts.revision ?? 'main';
    this.endpoint = (opts.endpoint ?? 'https://huggingface.co').replace(/\/+$/, '');
    this.cacheOption = opts.cache;
    this.token = opts.token;
    this.fetchFn = opts.fetch ?? defaultFetch();
  }

  /** The download URL of a file. */
  url(name: string): string {
    return `${this.endpoint}/${this.id}/resolve/${encodeURIComponent(this.revision)}/${encodePath(normalizeName(name))}`;
  }

  private cache(): Promise<CacheLike | null> {
    if (this.cachePromise === null) {
      this.cachePromise =
        this.cacheOption === undefined ? browserModelCache() : Promise.resolve(this.cacheOption);
    }
    return this.cachePromise;
  }

  getFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
    const file = normalizeName(name);
    // Concurrent requests for one file share a download (progress goes to the first caller).
    const pending = this.inflight.get(file);
    if (pending) return pending.then((b) => b.slice());
    const p = this.load(file, onProgress).finally(() => this.inflight.delete(file));
    this.inflight.set(file, p);
    return p;
  }

  private async load(file: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
    const url = this.url(file);
    const cache = await this.cache();
    if (cache) {
      let hit: Response | undefined;
      try {
        hit = await cache.match(url);
      } catch {
        hit = undefined;
      }
      if (hit) return readBody(hit, file, true, onProgress);
    }
    let res: Response;
    try {
      res = await this.fetchFn(url, this.token ? { headers: { Authorization: `Bearer ${this.token}` } } : undefined);
    } catch (e) {
      throw networkError(`model ${this.id}`, file, url, e);
    }
    if (!res.ok) throw httpError(`model ${this.id}`, file, url, res);
    let bytes: Uint8Array;
    try {
      bytes = await readBody(res, file, false, onProgress);
    } catch (e) {
      throw networkError(`model ${this.id}`, file, url, e);
    }
    if (cache) {
      try {
        await cache.put(
          url,
          new Response(bytes.slice(), {
            status: 200,
            headers: {
              'content-type': res.headers.get('content-type') ?? 'application/octet-stream',
              'content-length': String(bytes.length),
            },
          }),
        );
      } catch {
        // Out of quota or no storage: the bytes are still good, only the next load downloads again.
      }
    }
    return bytes;
  }
}

function httpError(what: string, file: string, url: string, res: Response): ModelFileError {
  const s = res.status;
  const text = res.statusText ? ` ${res.statusText}` : '';
  if (s === 404) {
    return new ModelFileError(`${what} has no file ${file} (HTTP 404 at ${url})`, {
      reason: 'missing',
      file,
      source: what,
      status: s,
      url,
    });
  }
  if (s === 401 || s === 403) {
    return new ModelFileError(
      `${what}: access to ${file} was refused (HTTP ${s}${text} at ${url}); the model may be private or gated — it needs an access token`,
      { reason: 'refused', file, source: what, status: s, url },
    );
  }
  return new ModelFileError(`${what}: could not download ${file} (HTTP ${s}${text} at ${url})`, {
    reason: 'http',
    file,
    source: what,
    status: s,
    url,
  });
}

function networkError(what: string, file: string, url: string, cause: unknown): ModelFileError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ModelFileError(
    `${what}: could not download ${file} from ${url}: network error (${detail}). Check the connection, or load the model from a local folder.`,
    { reason: 'network', file, source: what, url, cause },
  );
}

/**
 * A model on the Hugging Face Hub (or a mirror): files come from
 * `${endpoint}/${id}/resolve/${revision}/${file}` and are kept in the cache.
 */
export function hubSource(id: string, opts: HubSourceOptions = {}): ModelSource & { readonly id: string; url(name: string): string } {
  return new HubSource(id, opts);
}

// ---------------------------------------------------------------------------
// Folder picked by the user
// ---------------------------------------------------------------------------

function relPath(f: File): string {
  const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath;
  return (rel && rel.length > 0 ? rel : f.name).replace(/\\/g, '/').replace(/^\/+/, '');
}

class FolderSource extends BaseSource {
  readonly kind = 'folder' as const;
  readonly label: string;
  private readonly files = new Map<string, File>();

  constructor(files: Iterable<File>, label?: string) {
    super();
    const all = [...files].map((f) => ({ f, p: relPath(f) }));
    // The model root is the folder that holds config.json (the shallowest one);
    // without one, the common top folder of the selection.
    const configs = all
      .filter(({ p }) => p === 'config.json' || p.endsWith('/config.json'))
      .map(({ p }) => p.slice(0, p.length - 'config.json'.length))
      .sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
    let root = configs.length > 0 ? configs[0] : '';
    if (configs.length === 0) {
      const tops = new Set(all.map(({ p }) => (p.includes('/') ? p.slice(0, p.indexOf('/') + 1) : '')));
      if (tops.size === 1) root = [...tops][0];
    }
    for (const { f, p } of all) {
      if (p.startsWith(root)) this.files.set(p.slice(root.length), f);
    }
    const rootName = root.replace(/\/$/, '').split('/').pop();
    this.label = `folder ${label ?? (rootName || 'selection')}`;
  }

  /** Paths available, relative to the model root. */
  list(): string[] {
    return [...this.files.keys()].sort();
  }

  async getFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
    const file = normalizeName(name);
    const f = this.files.get(file);
    if (!f) {
      const have = this.list();
      const shown = have.slice(0, 12).join(', ') + (have.length > 12 ? ', …' : '');
      throw new ModelFileError(`${this.label} has no file ${file} (it holds: ${shown || 'nothing'})`, {
        reason: 'missing',
        file,
        source: this.label,
      });
    }
    try {
      if (typeof f.stream === 'function') {
        return await readBody(
          new Response(f.stream(), { headers: { 'content-length': String(f.size) } }),
          file,
          true,
          onProgress,
        );
      }
      const bytes = new Uint8Array(await f.arrayBuffer());
      onProgress?.({ file, loaded: bytes.length, total: bytes.length, fromCache: true });
      return bytes;
    } catch (e) {
      throw new ModelFileError(`${this.label}: could not read ${file} (${(e as Error).message})`, {
        reason: 'network',
        file,
        source: this.label,
        cause: e,
      });
    }
  }
}

/**
 * A model folder the user picked (`<input type="file" webkitdirectory>` gives
 * `File`s with `webkitRelativePath` such as `my-model/onnx/model.onnx`). Offline.
 */
export function folderSource(files: Iterable<File>, opts: { label?: string } = {}): ModelSource & { list(): string[] } {
  return new FolderSource(files, opts.label);
}

// ---------------------------------------------------------------------------
// Bundled with the app
// ---------------------------------------------------------------------------

export interface UrlPrefixSourceOptions {
  fetch?: FetchLike;
  /** Optional cache (none by default: bundled files are served by the app itself). */
  cache?: CacheLike | null;
}

class UrlPrefixSource extends BaseSource {
  readonly kind = 'url' as const;
  readonly label: string;
  readonly prefix: string;
  private readonly fetchFn: FetchLike;
  private readonly cache: CacheLike | null;

  constructor(prefix: string, opts: UrlPrefixSourceOptions) {
    super();
    const base = (globalThis as { location?: { href: string } }).location?.href;
    let abs: string;
    try {
      abs = new URL(prefix.endsWith('/') ? prefix : `${prefix}/`, base).href;
    } catch {
      throw new Error(`invalid model URL prefix ${JSON.stringify(prefix)} (a relative prefix needs a page to resolve against)`);
    }
    this.prefix = abs;
    this.label = `bundled model at ${prefix.replace(/\/+$/, '')}`;
    this.fetchFn = opts.fetch ?? defaultFetch();
    this.cache = opts.cache ?? null;
  }

  url(name: string): string {
    return this.prefix + encodePath(normalizeName(name));
  }

  async getFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
    const file = normalizeName(name);
    const url = this.url(file);
    if (this.cache) {
      const hit = await this.cache.match(url).catch(() => undefined);
      if (hit) return readBody(hit, file, true, onProgress);
    }
    let res: Response;
    try {
      res = await this.fetchFn(url);
    } catch (e) {
      throw networkError(this.label, file, url, e);
    }
    if (!res.ok) throw httpError(this.label, file, url, res);
    // Dev servers answer unknown paths with the app's index.html (status 200): that is a missing file.
    const type = res.headers.get('content-type') ?? '';
    if (type.startsWith('text/html') && !/\.html?$/i.test(file)) {
      await res.body?.cancel().catch(() => undefined);
      throw new ModelFileError(`${this.label} has no file ${file} (the server answered with an HTML page at ${url})`, {
        reason: 'missing',
        file,
        source: this.label,
        status: res.status,
        url,
      });
    }
    let bytes: Uint8Array;
    try {
      bytes = await readBody(res, file, false, onProgress);
    } catch (e) {
      throw networkError(this.label, file, url, e);
    }
    if (this.cache) {
      await this.cache
        .put(url, new Response(bytes.slice(), { headers: { 'content-length': String(bytes.length) } }))
        .catch(() => undefined);
    }
    return bytes;
  }
}

/** A model served under a URL prefix, e.g. `urlPrefixSource('/models/tiny-smolvlm')` for `public/models/`. */
export function urlPrefixSource(prefix: string, opts: UrlPrefixSourceOptions = {}): ModelSource & { readonly prefix: string; url(name: string): string } {
  return new UrlPrefixSource(prefix, opts);
}

// ---------------------------------------------------------------------------
// Several files with one progress bar
// ---------------------------------------------------------------------------

export interface TotalProgress {
  /** the file whose progress changed */
  file: string;
  /** bytes loaded over all files */
  loaded: number;
  /** bytes expected over all files (known sizes; a file of unknown size counts what it has loaded) */
  total: number;
  /** files finished / requested */
  filesDone: number;
  filesTotal: number;
  perFile: Readonly<Record<string, FileProgress>>;
}

/**
 * Load several files of one model concurrently with a combined progress
 * report. The last event has `loaded === total` and `filesDone === filesTotal`.
 * `optional` files are loaded too, and come back as `null` when they do not exist.
 */
export async function loadFiles(
  source: ModelSource,
  names: readonly string[],
  onProgress?: (p: TotalProgress) => void,
  opts: { optional?: readonly string[] } = {},
): Promise<Record<string, Uint8Array | null>> {
  const perFile: Record<string, FileProgress> = {};
  const done = new Set<string>();
  const optional = new Set((opts.optional ?? []).map(normalizeName));
  const files = [...new Set([...names, ...(opts.optional ?? [])].map(normalizeName))];
  for (const f of files) perFile[f] = { file: f, loaded: 0, total: 0, fromCache: false };
  const emit = (file: string) => {
    if (!onProgress) return;
    let loaded = 0;
    let total = 0;
    for (const p of Object.values(perFile)) {
      loaded += p.loaded;
      total += Math.max(p.total, p.loaded);
    }
    onProgress({ file, loaded, total, filesDone: done.size, filesTotal: files.length, perFile: { ...perFile } });
  };
  const results = await Promise.all(
    files.map(async (f) => {
      const cb: ProgressCallback = (p) => {
        perFile[f] = { ...p, file: f };
        emit(f);
      };
      const bytes = optional.has(f) ? await source.tryGetFile(f, cb) : await source.getFile(f, cb);
      if (bytes === null) perFile[f] = { file: f, loaded: 0, total: 0, fromCache: false };
      else perFile[f] = { file: f, loaded: bytes.length, total: bytes.length, fromCache: perFile[f].fromCache };
      done.add(f);
      emit(f);
      return [f, bytes] as const;
    }),
  );
  return Object.fromEntries(results);
}

// ---------------------------------------------------------------------------
// Bridge for libraries that fetch by URL (e.g. transformers.js `env.fetch`)
// ---------------------------------------------------------------------------

/**
 * A `fetch` that answers URLs under `urlPrefix` from `source` (404 for missing
 * files) and passes every other request to `fallback`. With transformers.js:
 * `env.fetch = fetchFromSource(source, 'https://huggingface.co/my/model/resolve/main/')`
 * (or any made-up prefix that `env.remoteHost`/`localModelPath` points at).
 */
export function fetchFromSource(
  source: ModelSource,
  urlPrefix: string,
  fallback?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>,
): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> {
  const prefix = urlPrefix.endsWith('/') ? urlPrefix : `${urlPrefix}/`;
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(prefix)) {
      if (fallback) return fallback(input, init);
      if (typeof globalThis.fetch === 'function') return globalThis.fetch(input, init);
      return new Response(null, { status: 404, statusText: 'Not Found' });
    }
    const name = decodeURIComponent(url.slice(prefix.length).split(/[?#]/)[0]);
    const bytes = await source.tryGetFile(name);
    if (bytes === null) return new Response(null, { status: 404, statusText: 'Not Found' });
    const body = init?.method === 'HEAD' ? null : new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length);
    return new Response(body, { status: 200, headers: { 'content-length': String(bytes.length) } });
  };
}
