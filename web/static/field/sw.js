/* Service worker of the field page (scope /field): keeps the page's shell available offline.
 *
 * Why only the shell: entries made offline are queued by field.js in IndexedDB and uploaded by the
 * page itself (exactly once, by the phone's UUIDs); the worker only makes sure the page, its script,
 * styles, Leaflet and icons load without a network. Pages are network-first (a fresh task list when
 * online), static files cache-first; API calls are never cached here.
 */
"use strict";
// Bump with every change of a shell file: static files are served cache-first, so a phone keeps the
// old script until the cache name changes (the activate step then drops the old cache).
const CACHE = "gridmap-field-v2";
const SHELL = [
  "/field",
  "/field/manifest.webmanifest",
  "/static/field/field.js",
  "/static/field/field.css",
  "/static/field/icon-192.png",
  "/static/field/icon-512.png",
  "/static/vendor/leaflet-1.9.3/leaflet.js",
  "/static/vendor/leaflet-1.9.3/leaflet.css",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(
    keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))).then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) {
    return;
  }
  if (event.request.mode === "navigate") {
    event.respondWith(fetch(event.request).then((response) => {
      const copy = response.clone();
      if (response.ok) caches.open(CACHE).then((cache) => cache.put("/field", copy));
      return response;
    }).catch(() => caches.match("/field")));
    return;
  }
  event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request)));
});
