// Where the SDK keeps what must outlive a page or process: the last processed seq and the offline
// send queue. A small key-value interface; `memoryStorage` (default) and `localStorageStorage`
// (browsers) implement it; any other (IndexedDB, AsyncStorage, a file) can, synchronously or not.

export interface KeyValueStorage {
  get(key: string): string | null | Promise<string | null>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

export function memoryStorage(): KeyValueStorage {
  const m = new Map<string, string>();
  return {
    get: (k) => m.get(k) ?? null,
    set: (k, v) => { m.set(k, v); },
    remove: (k) => { m.delete(k); },
  };
}

/** The browser's `localStorage` (or any object with its three methods). */
export function localStorageStorage(ls: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> = globalThis.localStorage): KeyValueStorage {
  if (!ls) throw new Error('localStorage is not available here: pass a storage');
  return {
    get: (k) => ls.getItem(k),
    set: (k, v) => ls.setItem(k, v),
    remove: (k) => ls.removeItem(k),
  };
}
