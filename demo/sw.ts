// The app shell's service worker, so that the site works offline once visited. Built by Vite as its own entry, at a
// fixed name (sw.js at the site root, so its scope is the whole site); registered by offline.ts (from main.ts) in
// production builds only.
//
// Hand-written on purpose: a network-first cache of the shell is a few dozen lines (most of this file is types and
// comments), and a workbox / vite-plugin-pwa setup would be heavier than the job (and would precache by build
// manifest, which the job does not need).
//
// Only the shell goes through it: same-origin GETs that are navigations (one cache entry per page, the query string
// ignored) or under the site's assets/ folder. Network first, so a new site version is seen as soon as it is online;
// on success a copy goes into the cache, on a network failure the cached copy answers. Everything else, the model
// files above all, is never answered here: the engine keeps models in its own Cache API store, with its own
// completeness rules (src/io/cachedModelFiles.ts), and a second copy or a stale answer here would undo them.
//
// First visit: the page is not controlled by the time it loaded its scripts, so on activate the worker claims the page
// and the page posts what it loaded ({ type: 'cache-shell', page, assets }), which are cached right away.

/** What this file uses of the service worker's global scope (typed here: the 'webworker' lib clashes with 'dom'). */
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}
interface MessageEventLike extends ExtendableEvent {
  readonly data: unknown;
}
interface ServiceWorkerScope {
  readonly registration: { readonly scope: string };
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
  addEventListener(type: 'message', listener: (event: MessageEventLike) => void): void;
}

const SHELL_CACHE = 'gpt-webgpu-app-shell';

const sw = self as unknown as ServiceWorkerScope;
const assetsPath = new URL('assets/', sw.registration.scope).pathname;

/** The cache key of a request, or undefined when the request is not the shell's (then it passes through untouched). */
function shellKey(request: Request): string | undefined {
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== location.origin) return undefined;
  if (request.mode === 'navigate') return url.origin + url.pathname;
  return url.pathname.startsWith(assetsPath) ? url.href : undefined;
}

/** Only pages (HTML) and assets are kept: a navigation to, say, a model file is not shell. */
const keepable = (response: Response, navigation: boolean) => response.ok && (!navigation || /^text\/html/.test(response.headers.get('content-type') ?? ''));

async function networkFirst(event: FetchEvent, key: string): Promise<Response> {
  const navigation = event.request.mode === 'navigate';
  try {
    const response = await fetch(event.request);
    if (keepable(response, navigation)) {
      const copy = response.clone();
      event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.put(key, copy)));
    }
    return response;
  } catch (error) {
    const cached = await caches.match(key, { cacheName: SHELL_CACHE });
    if (cached) return cached;
    throw error;
  }
}

/** What the page loaded before this worker controlled it: the page (without its query) and its assets. */
async function cacheShell(page: unknown, assets: unknown[]): Promise<void> {
  const sameOrigin = (url: unknown): url is string => typeof url === 'string' && new URL(url, location.href).origin === location.origin;
  const wanted: [string, boolean][] = assets.filter(sameOrigin).filter((url) => new URL(url, location.href).pathname.startsWith(assetsPath)).map((url) => [url, false]);
  if (sameOrigin(page)) wanted.push([page.split(/[?#]/)[0], true]);
  const cache = await caches.open(SHELL_CACHE);
  await Promise.all(
    wanted.map(async ([url, navigation]) => {
      try {
        const response = await fetch(url);
        if (keepable(response, navigation)) await cache.put(new URL(url, location.href).href, response);
      } catch {
        // Offline already: the next online visit caches it.
      }
    }),
  );
}

sw.addEventListener('install', () => void sw.skipWaiting());
sw.addEventListener('activate', (event) => event.waitUntil(sw.clients.claim()));
sw.addEventListener('fetch', (event) => {
  const key = shellKey(event.request);
  if (key) event.respondWith(networkFirst(event, key));
});
sw.addEventListener('message', (event) => {
  const data = event.data as { type?: unknown; page?: unknown; assets?: unknown } | null;
  if (data?.type === 'cache-shell' && Array.isArray(data.assets)) event.waitUntil(cacheShell(data.page, data.assets));
});
