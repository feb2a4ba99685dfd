/**
 * A Hugging Face Hub repo, or any mirror with the same `/{id}/resolve/{revision}/{file}` layout: downloaded with
 * per-file progress and kept in the browser's Cache Storage (`aspo-models`), so a second load makes no request.
 */
import type { CacheLike } from './cache';
import { cachedFetch, FetchedSource, type CachedFetch, type FetchLike } from './cachedFetch';
import { encodePath, normalizeName, type ModelSource } from './modelSource';

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

class HubSource extends FetchedSource {
  readonly kind = 'hub' as const;
  readonly label: string;
  readonly id: string;
  readonly revision: string;
  readonly endpoint: string;
  protected readonly download: CachedFetch;

  constructor(id: string, opts: HubSourceOptions) {
    super();
    const problem = hubIdProblem(id);
    if (problem) throw new Error(`invalid Hugging Face model id ${JSON.stringify(id)}: ${problem} (expected "owner/name", e.g. "HuggingFaceTB/SmolVLM-256M-Instruct")`);
    this.id = id;
    this.label = id;
    this.revision = opts.revision ?? 'main';
    this.endpoint = (opts.endpoint ?? 'https://huggingface.co').replace(/\/+$/, '');
    this.download = cachedFetch({
      source: `model ${id}`,
      cache: opts.cache,
      fetch: opts.fetch,
      init: opts.token ? { headers: { Authorization: `Bearer ${opts.token}` } } : undefined,
    });
  }

  url(name: string): string {
    return `${this.endpoint}/${this.id}/resolve/${encodeURIComponent(this.revision)}/${encodePath(normalizeName(name))}`;
  }
}

/**
 * A model on the Hugging Face Hub (or a mirror): files come from
 * `${endpoint}/${id}/resolve/${revision}/${file}` and are kept in the cache.
 */
export function hubSource(id: string, opts: HubSourceOptions = {}): ModelSource & { readonly id: string; url(name: string): string } {
  return new HubSource(id, opts);
}
