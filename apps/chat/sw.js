// The demo's Service Worker (a module): the origin's OpenAI endpoint (tabllm/sw: fetch('/v1/...') from any
// page of the demo is answered by the model a tab hosts for all), and the page's own files, cached when
// the demo is first opened, so it starts offline. The build writes the version and file list below.
// Models are not handled here: the loader keeps them in OPFS and needs range requests to reach the network
// untouched.
import { serveOpenAI } from './js/dist/sw/index.mjs';

serveOpenAI();

const VERSION = '__VERSION__';
const FILES = __FILES__;
const CACHE = `tabllm-chat-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name.startsWith('tabllm-chat-') && name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || request.headers.has('range') || url.pathname.endsWith('.gguf')) return;
  event.respondWith((async () => {
    const cached = await caches.match(request, { cacheName: CACHE, ignoreSearch: true });
    return cached ?? fetch(request);
  })());
});
