/** A model served under a URL prefix: the models bundled with the app, served at `/models/`. */
import type { CacheLike } from './cache';
import { cachedFetch, FetchedSource, type CachedFetch, type FetchLike } from './cachedFetch';
import { encodePath, normalizeName, type ModelSource } from './modelSource';

export interface UrlPrefixSourceOptions {
  fetch?: FetchLike;
  /** Optional cache (none by default: bundled files are served by the app itself). */
  cache?: CacheLike | null;
}

class UrlPrefixSource extends FetchedSource {
  readonly kind = 'url' as const;
  readonly label: string;
  readonly prefix: string;
  protected readonly download: CachedFetch;

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
    this.download = cachedFetch({ source: this.label, cache: opts.cache ?? null, fetch: opts.fetch, htmlIsMissing: true });
  }

  url(name: string): string {
    return this.prefix + encodePath(normalizeName(name));
  }
}

/** A model served under a URL prefix, e.g. `urlPrefixSource('/models/tiny-smolvlm')` for a bundled model. */
export function urlPrefixSource(prefix: string, opts: UrlPrefixSourceOptions = {}): ModelSource & { readonly prefix: string; url(name: string): string } {
  return new UrlPrefixSource(prefix, opts);
}
