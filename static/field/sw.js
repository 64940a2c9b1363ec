// FieldKit service worker. The server puts VERSION (a hash of every precached file) and PRECACHE (their
// URLs, content-hashed like the shell's) above.
// It serves the app shell with no network and never touches IndexedDB: the data and the outbox belong
// to the app, so a new worker version can never lose a change.
const CACHE = `fieldkit-shell-${VERSION}`;
const SHELL = "/static/field/index.html";
const NAVIGATION_TIMEOUT = 4000; // a basement with one bar of signal: show the cached shell instead of waiting

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // A hashed URL (?v=…) names the same bytes for good, so the copy the page just downloaded will do; the
    // shell and the manifest, which have no hash, skip the HTTP cache so the new version never stores an old one.
    await cache.addAll(PRECACHE.map((url) => new Request(url, {
      cache: url.includes("?v=") ? "default" : "reload", credentials: "same-origin" })));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith("fieldkit-shell-") && n !== CACHE).map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

function isAppPage(url) {
  return url.pathname === "/field" || url.pathname.startsWith("/field/") || url.pathname.startsWith("/t/");
}

async function fromNetworkOrShell(request) {
  const cached = () => caches.match(SHELL, { cacheName: CACHE });
  try {
    const response = await Promise.race([
      fetch(request),
      new Promise((_, reject) => setTimeout(() => reject(new Error("slow network")), NAVIGATION_TIMEOUT)),
    ]);
    // A server error behind a proxy is no reason to leave a technician without their checklist.
    if (response.status >= 500) return (await cached()) || response;
    return response;
  } catch (error) {
    return (await cached()) || Response.error();
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    if (isAppPage(url)) event.respondWith(fromNetworkOrShell(request));
    return;
  }
  // The precached URLs carry their content hash (?v=…), so the cached copy is the one asked for.
  const cached = url.pathname + url.search;
  if (PRECACHE.includes(cached)) {
    event.respondWith(caches.match(cached, { cacheName: CACHE }).then((hit) => hit || fetch(request)));
  }
});

// Background Sync: the browser wakes the worker when the network is back; the app (which owns the
// outbox in IndexedDB) does the sending. No open window: the app sends on its next start.
self.addEventListener("sync", (event) => {
  if (event.tag === "fieldkit-outbox") event.waitUntil(askWindowsToFlush());
});

async function askWindowsToFlush() {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  if (!windows.length) return;
  const answers = await Promise.all(windows.map((client) => new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(false), 25000);
    channel.port1.onmessage = (message) => { clearTimeout(timer); resolve(Boolean(message.data && message.data.ok)); };
    client.postMessage({ type: "flush" }, [channel.port2]);
  })));
  if (!answers.some(Boolean)) throw new Error("nothing was sent yet; the browser retries later");
}
