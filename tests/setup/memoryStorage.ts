/**
 * The stores persist to localStorage, which Node lacks: importing this module installs a Map-backed one (before
 * the test imports the store). Node ≥ 22 may define its own localStorage accessor; defineProperty replaces it.
 */
export const storage = new Map<string, string>();

Object.defineProperty(globalThis, 'localStorage', {
  configurable: true,
  value: {
    getItem: (k: string) => storage.get(k) ?? null,
    setItem: (k: string, v: string) => void storage.set(k, v),
    removeItem: (k: string) => void storage.delete(k),
    clear: () => storage.clear(),
    key: (i: number) => [...storage.keys()][i] ?? null,
    get length() {
      return storage.size;
    },
  } as Storage,
});
