/** Where downloaded model files are kept: the browser's Cache Storage, or a Map in Node and tests. */

/** The part of the Web Cache API the sources use (a `Cache` from `caches.open()` fits). */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete?(request: string): Promise<boolean>;
}

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
