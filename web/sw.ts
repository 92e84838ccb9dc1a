/// <reference lib="webworker" />
/**
 * The page's service worker: after the first visit, the page and its runtime files come from a
 * cache, so the page works offline. Files are fetched from the network first (a rebuilt page is
 * picked up at once) and the cache answers when the network cannot.
 *
 * @module
 */

const CACHE = "nncompress-web-v1";
const FILES = [
  "./",
  "./index.html",
  "./style.css",
  "./main.js",
  "./worker.js",
  "./ort-wasm-simd-threaded.wasm",
  "./ort-wasm-simd-threaded.mjs",
];

const sw = self as unknown as ServiceWorkerGlobalScope;

sw.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => sw.skipWaiting()));
});

sw.addEventListener("activate", (event) => {
  event.waitUntil(sw.clients.claim());
});

sw.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== sw.location.origin) return;
  event.respondWith(
    fetch(event.request).then((res) => {
      if (res.ok) {
        const copy = res.clone();
        caches.open(CACHE).then((c) => c.put(event.request, copy));
      }
      return res;
    }).catch(async () =>
      (await caches.match(event.request, { ignoreSearch: true })) ??
        new Response("offline and not cached", { status: 504 })
    ),
  );
});
