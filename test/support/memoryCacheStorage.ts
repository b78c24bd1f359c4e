// An in-memory CacheStorage for tests in Node (which has no Cache API), with the contract the loader relies on:
// put() reads the whole body first and rejects, storing nothing, when the body errors; match/delete/keys by URL.
export class MemoryCache {
  readonly entries = new Map<string, { bytes: Uint8Array<ArrayBuffer>; headers: Headers }>();
  async match(request: RequestInfo | URL): Promise<Response | undefined> {
    const e = this.entries.get(urlOf(request));
    return e && new Response(e.bytes.slice(), { headers: e.headers });
  }
  async put(request: RequestInfo | URL, response: Response): Promise<void> {
    const bytes = new Uint8Array(await response.arrayBuffer());
    this.entries.set(urlOf(request), { bytes, headers: new Headers(response.headers) });
  }
  async delete(request: RequestInfo | URL): Promise<boolean> {
    return this.entries.delete(urlOf(request));
  }
  async keys(): Promise<Request[]> {
    return [...this.entries.keys()].map((url) => new Request(url));
  }
}

export class MemoryCacheStorage {
  readonly caches = new Map<string, MemoryCache>();
  async open(name: string): Promise<MemoryCache> {
    if (!this.caches.has(name)) this.caches.set(name, new MemoryCache());
    return this.caches.get(name)!;
  }
  async has(name: string): Promise<boolean> {
    return this.caches.has(name);
  }
  async delete(name: string): Promise<boolean> {
    return this.caches.delete(name);
  }
  async keys(): Promise<string[]> {
    return [...this.caches.keys()];
  }
  /** Typed as the DOM's CacheStorage for the code under test. */
  asCacheStorage(): CacheStorage {
    return this as unknown as CacheStorage;
  }
}

function urlOf(request: RequestInfo | URL): string {
  return typeof request === 'string' ? request : request instanceof URL ? request.href : request.url;
}
