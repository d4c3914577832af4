/*
 * factlab's service worker (registered by production builds only): precaches the app and
 * the default model on first visit, so the lab and the classroom lesson open offline.
 * The build writes precache.json (every file of the build) next to it.
 *
 * Precached files are served from the cache; the page itself is fetched from the network
 * first (to pick up new versions) and from the cache when offline. Everything else, and
 * every cross-origin request (Hub downloads), passes through untouched.
 */
const PREFIX = 'factlab-precache-';
/** The build this worker belongs to (the page registers sw.js?v=<build id>). */
const CACHE = PREFIX + (new URL(self.location.href).searchParams.get('v') ?? 'dev');

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const response = await fetch('precache.json', { cache: 'no-cache' });
      if (!response.ok) throw new Error(`precache.json: HTTP ${response.status}`);
      const { files } = await response.json();
      const cache = await caches.open(CACHE);
      await cache.addAll(files.map((f) => new Request(f, { cache: 'reload' })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const stale = (await caches.keys()).filter((k) => k.startsWith(PREFIX) && k !== CACHE);
      await Promise.all(stale.map((k) => caches.delete(k)));
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    event.respondWith(
      (async () => {
        try {
          return await fetch(request);
        } catch {
          const scope = self.registration.scope;
          return (await caches.match(new URL('index.html', scope).href, { cacheName: CACHE })) ?? Response.error();
        }
      })(),
    );
    return;
  }
  event.respondWith(
    (async () => {
      const url = new URL(request.url);
      url.search = '';
      return (await caches.match(url.href, { cacheName: CACHE })) ?? fetch(request);
    })(),
  );
});
