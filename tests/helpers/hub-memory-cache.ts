/** In-memory stand-in for the browser's CacheStorage, for testing src/core/hub/cache.ts in Node. */
import type { CacheLike, CacheStorageLike } from '../../src/core/hub/cache';

interface Entry {
  body: Uint8Array;
  headers: Array<[string, string]>;
}

export class MemoryCache implements CacheLike {
  readonly entries = new Map<string, Entry>();
  puts = 0;

  async match(request: string): Promise<Response | undefined> {
    const entry = this.entries.get(request);
    return entry ? new Response(entry.body.slice(), { headers: entry.headers }) : undefined;
  }

  async put(request: string, response: Response): Promise<void> {
    const body = new Uint8Array(await response.arrayBuffer());
    this.entries.set(request, { body, headers: [...response.headers.entries()] });
    this.puts++;
  }

  async delete(request: string): Promise<boolean> {
    return this.entries.delete(request);
  }

  async keys(): Promise<ReadonlyArray<{ url: string }>> {
    return [...this.entries.keys()].map((url) => ({ url }));
  }

  /** Test hook: rewrite a stored entry in place (tampering, corruption). */
  tamper(request: string, change: (entry: Entry) => Entry): void {
    const entry = this.entries.get(request);
    if (!entry) throw new Error(`no cache entry ${request}`);
    this.entries.set(request, change(entry));
  }
}

export class MemoryCacheStorage implements CacheStorageLike {
  readonly caches = new Map<string, MemoryCache>();

  async open(name: string): Promise<MemoryCache> {
    let cache = this.caches.get(name);
    if (!cache) {
      cache = new MemoryCache();
      this.caches.set(name, cache);
    }
    return cache;
  }

  async delete(name: string): Promise<boolean> {
    return this.caches.delete(name);
  }
}
