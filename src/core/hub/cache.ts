/**
 * Browser cache of downloaded checkpoint files (Cache API, cache `factlab-models-v1`),
 * keyed by source id (`hub:owner/name@rev`, `url:…`) and file name.
 *
 * Each entry records the file's size and, when the source stated one, its SHA-256; both
 * are checked before a cached file is used, and a bad entry is dropped (so it is
 * downloaded again). Files the source does not have (404) are remembered as "absent"
 * markers: for a Hub commit they are final, so a cached model loads without the network;
 * for a branch or URL they answer only when the server cannot be reached (files.ts).
 *
 * In Node `caches` is undefined and caching is skipped. Tests inject a
 * CacheStorage-like object (see `CacheStorageLike`).
 */

export const CACHE_NAME = 'factlab-models-v1';

/** The part of the Cache interface we use (a real `Cache` satisfies it). */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete(request: string): Promise<boolean>;
  keys(): Promise<ReadonlyArray<{ url: string }>>;
}

/** The part of CacheStorage we use (`globalThis.caches` satisfies it). */
export interface CacheStorageLike {
  open(name: string): Promise<CacheLike>;
  delete(name: string): Promise<boolean>;
}

export interface CachedFileInfo {
  name: string;
  bytes: number;
  sha256?: string;
}

export interface CachedModel {
  sourceId: string;
  files: CachedFileInfo[];
  totalBytes: number;
  /** ISO time of the most recent file stored. */
  storedAt?: string;
}

export type CacheLookup = { status: 'hit'; bytes: Uint8Array; sha256?: string } | { status: 'absent' } | { status: 'miss' };

const KEY_BASE = 'https://cache.factlab.invalid/v1/';
const H_SOURCE = 'x-factlab-source';
const H_FILE = 'x-factlab-file';
const H_SIZE = 'x-factlab-size';
const H_SHA = 'x-factlab-sha256';
const H_ABSENT = 'x-factlab-absent';
const H_STORED = 'x-factlab-stored-at';

/** `globalThis.caches` when the environment has the Cache API (browser window or worker), else undefined. */
export function browserCacheStorage(): CacheStorageLike | undefined {
  const c = (globalThis as { caches?: CacheStorageLike }).caches;
  return c && typeof c.open === 'function' ? c : undefined;
}

export function cacheKey(sourceId: string, file: string): string {
  return `${KEY_BASE}${encodeURIComponent(sourceId)}/${encodeURIComponent(file)}`;
}

/** SHA-256 as lower-case hex, or undefined where Web Crypto is unavailable (insecure context). */
export async function sha256Hex(bytes: Uint8Array): Promise<string | undefined> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle) return undefined;
  const digest = await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Model file cache. With no storage (Node, or caching disabled) every lookup misses and
 * every store is skipped. Errors of the underlying cache (quota, private mode) never fail
 * a model load: lookups miss and stores return false.
 */
export class ModelCache {
  private opened: Promise<CacheLike | undefined> | undefined;

  /** `storage` undefined → the browser's `caches` if any; null → caching disabled. */
  constructor(storage?: CacheStorageLike | null) {
    this.storage = storage === undefined ? browserCacheStorage() : (storage ?? undefined);
  }

  readonly storage: CacheStorageLike | undefined;

  get enabled(): boolean {
    return this.storage !== undefined;
  }

  private open(): Promise<CacheLike | undefined> {
    if (!this.storage) return Promise.resolve(undefined);
    this.opened ??= this.storage.open(CACHE_NAME).catch(() => undefined);
    return this.opened;
  }

  /** A verified cached file, an "absent" marker, or a miss. Bad entries are deleted. */
  async get(sourceId: string, file: string): Promise<CacheLookup> {
    const cache = await this.open();
    if (!cache) return { status: 'miss' };
    const key = cacheKey(sourceId, file);
    try {
      const response = await cache.match(key);
      if (!response) return { status: 'miss' };
      if (response.headers.get(H_ABSENT) === '1') return { status: 'absent' };
      const size = Number(response.headers.get(H_SIZE));
      const sha = response.headers.get(H_SHA) ?? undefined;
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (!Number.isSafeInteger(size) || bytes.byteLength !== size) {
        await cache.delete(key);
        return { status: 'miss' };
      }
      if (sha) {
        const actual = await sha256Hex(bytes);
        if (actual !== undefined && actual !== sha) {
          await cache.delete(key);
          return { status: 'miss' };
        }
      }
      return sha ? { status: 'hit', bytes, sha256: sha } : { status: 'hit', bytes };
    } catch {
      return { status: 'miss' };
    }
  }

  /** Stores a file (replacing any entry). Returns false when it could not be stored. */
  async put(sourceId: string, file: string, bytes: Uint8Array, info: { sha256?: string } = {}): Promise<boolean> {
    const headers: Record<string, string> = {
      [H_SIZE]: String(bytes.byteLength),
      'content-type': 'application/octet-stream',
    };
    if (info.sha256) headers[H_SHA] = info.sha256.toLowerCase();
    return this.store(sourceId, file, bytes, headers);
  }

  /** Remembers that the source has no such file (HTTP 404). */
  async putAbsent(sourceId: string, file: string): Promise<boolean> {
    return this.store(sourceId, file, new Uint8Array(0), { [H_ABSENT]: '1' });
  }

  private async store(sourceId: string, file: string, bytes: Uint8Array, headers: Record<string, string>): Promise<boolean> {
    const cache = await this.open();
    if (!cache) return false;
    try {
      const response = new Response(bytes as Uint8Array<ArrayBuffer>, {
        headers: {
          ...headers,
          [H_SOURCE]: encodeURIComponent(sourceId),
          [H_FILE]: encodeURIComponent(file),
          [H_STORED]: new Date().toISOString(),
        },
      });
      await cache.put(cacheKey(sourceId, file), response);
      return true;
    } catch {
      return false;
    }
  }

  async list(): Promise<CachedModel[]> {
    const cache = await this.open();
    if (!cache) return [];
    const models = new Map<string, CachedModel>();
    for (const request of await cache.keys()) {
      if (!request.url.startsWith(KEY_BASE)) continue;
      const response = await cache.match(request.url);
      if (!response) continue;
      const headers = response.headers;
      await response.body?.cancel().catch(() => {});
      const id = decodeHeader(headers.get(H_SOURCE));
      const name = decodeHeader(headers.get(H_FILE));
      if (id === undefined || name === undefined) continue;
      let model = models.get(id);
      if (!model) {
        model = { sourceId: id, files: [], totalBytes: 0 };
        models.set(id, model);
      }
      const storedAt = headers.get(H_STORED) ?? undefined;
      if (storedAt && (!model.storedAt || storedAt > model.storedAt)) model.storedAt = storedAt;
      if (headers.get(H_ABSENT) === '1') continue;
      const bytes = Number(headers.get(H_SIZE)) || 0;
      const sha = headers.get(H_SHA) ?? undefined;
      model.files.push(sha ? { name, bytes, sha256: sha } : { name, bytes });
      model.totalBytes += bytes;
    }
    const out = [...models.values()];
    for (const m of out) m.files.sort((a, b) => a.name.localeCompare(b.name));
    return out.sort((a, b) => a.sourceId.localeCompare(b.sourceId));
  }

  /** Deletes every entry of one source; returns how many entries were removed. */
  async clear(sourceId: string): Promise<number> {
    const cache = await this.open();
    if (!cache) return 0;
    const prefix = `${KEY_BASE}${encodeURIComponent(sourceId)}/`;
    let removed = 0;
    for (const request of await cache.keys()) {
      if (request.url.startsWith(prefix) && (await cache.delete(request.url))) removed++;
    }
    return removed;
  }

  async clearAll(): Promise<void> {
    if (!this.storage) return;
    this.opened = undefined;
    await this.storage.delete(CACHE_NAME);
  }
}

function decodeHeader(value: string | null): string | undefined {
  if (value === null) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** Models in the cache (empty where there is no Cache API). */
export function listCachedModels(storage?: CacheStorageLike | null): Promise<CachedModel[]> {
  return new ModelCache(storage).list();
}

/** Removes one model (by source id) from the cache; returns the number of entries removed. */
export function clearCachedModel(id: string, storage?: CacheStorageLike | null): Promise<number> {
  return new ModelCache(storage).clear(id);
}

export function clearAllCachedModels(storage?: CacheStorageLike | null): Promise<void> {
  return new ModelCache(storage).clearAll();
}
