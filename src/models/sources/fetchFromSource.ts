/** A bridge for libraries that fetch by URL (transformers.js `env.fetch`): their requests answered from a source. */
import type { ModelSource } from './modelSource';

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
