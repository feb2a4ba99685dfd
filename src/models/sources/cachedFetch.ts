/**
 * The one download path of the sources that fetch by URL (hub, bundled): cache → fetch → error → store. A file
 * in the cache makes no request; a failure becomes a {@link ModelFileError} that names the model, the file, the
 * status and the URL, and is not cached; concurrent reads of one file share one download.
 */
import { browserModelCache, type CacheLike } from './cache';
import { BaseSource, ModelFileError, normalizeName, readBody, type ProgressCallback } from './modelSource';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface CachedFetchOptions {
  /** the model as messages name it, e.g. `model owner/name` */
  source: string;
  /** `undefined`: the browser's Cache Storage `aspo-models` where there is one; `null`: no cache */
  cache: CacheLike | null | undefined;
  fetch?: FetchLike;
  /** sent with every request (e.g. an access token) */
  init?: RequestInit;
  /** Dev servers answer unknown paths with the app's index.html (status 200): then that is a missing file. */
  htmlIsMissing?: boolean;
}

/** Reads `file` at `url` through the cache; progress of a shared download goes to its first caller. */
export type CachedFetch = (file: string, url: string, onProgress?: ProgressCallback) => Promise<Uint8Array>;

export function cachedFetch(opts: CachedFetchOptions): CachedFetch {
  const fetchFn = opts.fetch ?? defaultFetch();
  let cachePromise: Promise<CacheLike | null> | null = null;
  const cache = () => (cachePromise ??= opts.cache === undefined ? browserModelCache() : Promise.resolve(opts.cache));
  const inflight = new Map<string, Promise<Uint8Array>>();

  async function load(file: string, url: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
    const store = await cache();
    if (store) {
      let hit: Response | undefined;
      try {
        hit = await store.match(url);
      } catch {
        hit = undefined;
      }
      if (hit) return readBody(hit, file, true, onProgress);
    }
    let res: Response;
    try {
      res = await fetchFn(url, opts.init);
    } catch (e) {
      throw networkError(opts.source, file, url, e);
    }
    if (!res.ok) throw httpError(opts.source, file, url, res);
    if (opts.htmlIsMissing && (res.headers.get('content-type') ?? '').startsWith('text/html') && !/\.html?$/i.test(file)) {
      await res.body?.cancel().catch(() => undefined);
      throw new ModelFileError(`${opts.source} has no file ${file} (the server answered with an HTML page at ${url})`, {
        reason: 'missing',
        file,
        source: opts.source,
        status: res.status,
        url,
      });
    }
    let bytes: Uint8Array;
    try {
      bytes = await readBody(res, file, false, onProgress);
    } catch (e) {
      throw networkError(opts.source, file, url, e);
    }
    if (store) {
      try {
        await store.put(
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

  return (file, url, onProgress) => {
    const pending = inflight.get(url);
    if (pending) return pending.then((b) => b.slice());
    const p = load(file, url, onProgress).finally(() => inflight.delete(url));
    inflight.set(url, p);
    return p;
  };
}

/** A source whose files each have a URL, read through one {@link cachedFetch}. */
export abstract class FetchedSource extends BaseSource {
  protected abstract readonly download: CachedFetch;
  /** The download URL of a file. */
  abstract url(name: string): string;

  getFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
    const file = normalizeName(name);
    return this.download(file, this.url(file), onProgress);
  }
}

function defaultFetch(): FetchLike {
  if (typeof globalThis.fetch !== 'function') throw new Error('no fetch() in this environment');
  return (input, init) => globalThis.fetch(input, init);
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
