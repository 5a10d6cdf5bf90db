// ollama-webmgr service worker. web/pwa.py serves it at /service-worker.js with
// CONFIG filled in: {"version", "shell", "pages", "offline"}; the
// version comes from the built assets' hashes, so each deploy changes this file,
// the browser installs the new worker and the old caches are deleted.
//
// Strategies:
// - built assets (/static/dist/, content-hashed): cache first, they never change;
// - pages (navigations): stale-while-revalidate, the offline page as last resort;
// - /api/*, /health, event streams, HTMX fragments, writes: network only, never cached.
"use strict";

const CONFIG = __WEBMGR_CONFIG__;
const PREFIX = "webmgr-";
const SHELL_CACHE = `${PREFIX}shell-${CONFIG.version}`;
const PAGES_CACHE = `${PREFIX}pages-${CONFIG.version}`;
const NETWORK_ONLY = [/^\/api\//, /^\/health(\/|$)/, /^\/service-worker\.js$/];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    // cache: "reload" skips the HTTP cache so the shell is fresh from the server.
    const fetchFresh = (url) => fetch(new Request(url, { cache: "reload" }));
    const shell = await caches.open(SHELL_CACHE);
    await Promise.all(CONFIG.shell.map(async (url) => {
      const response = await fetchFresh(url);
      if (!response.ok) throw new Error(`precache ${url}: HTTP ${response.status}`);
      await shell.put(url, response);
    }));
    const pages = await caches.open(PAGES_CACHE);
    await Promise.all(CONFIG.pages.map(async (url) => {
      const response = await fetchFresh(url);
      if (isCacheablePage(response)) await pages.put(url, response);
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const current = new Set([SHELL_CACHE, PAGES_CACHE]);
    const names = await caches.keys();
    await Promise.all(names
      .filter((name) => name.startsWith(PREFIX) && !current.has(name))
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

function isCacheablePage(response) {
  return response.ok && response.type === "basic" && !response.redirected
    && !(response.headers.get("Cache-Control") || "").includes("no-store")
    && (response.headers.get("Content-Type") || "").startsWith("text/html");
}

async function cacheFirst(request) {
  const cached = await caches.match(request, { ignoreVary: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) {
    const shell = await caches.open(SHELL_CACHE);
    await shell.put(request, response.clone());
  }
  return response;
}

async function staleWhileRevalidate(event) {
  const pages = await caches.open(PAGES_CACHE);
  const cached = await pages.match(event.request, { ignoreVary: true });
  const refresh = fetch(event.request).then(async (response) => {
    if (isCacheablePage(response)) await pages.put(event.request, response.clone());
    return response;
  });
  if (cached) {
    event.waitUntil(refresh.catch(() => undefined));
    return cached;
  }
  try {
    return await refresh;
  } catch (error) {
    const offline = await caches.match(CONFIG.offline);
    if (offline) return offline;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== "GET") {
    // A write may change any page: forget them rather than show stale ones.
    event.waitUntil(caches.delete(PAGES_CACHE));
    return;
  }
  if (NETWORK_ONLY.some((pattern) => pattern.test(url.pathname))) return;
  if (request.headers.get("HX-Request") || request.headers.get("Accept") === "text/event-stream") {
    return; // fragments and live streams are never cached
  }
  if (url.pathname.startsWith("/static/dist/")) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(staleWhileRevalidate(event));
  } else if (CONFIG.shell.includes(url.pathname)) {
    // e.g. /manifest.json: fresh when online, the precached copy when not.
    event.respondWith(fetch(request).catch(async (error) => {
      const cached = await caches.match(url.pathname);
      if (cached) return cached;
      throw error;
    }));
  }
});

// A click on a job notification focuses the app (or opens it) on the job's page.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.url || "/", self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((client) => client.url === target) || windows[0];
    if (open) {
      const shown = open.url === target ? open : await open.navigate(target);
      return (shown || open).focus();
    }
    return self.clients.openWindow(target);
  })());
});
