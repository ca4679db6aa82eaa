/* The field pages' service worker (scope /field/): keeps the app shell (the two pages and their CSS, scripts
   and icons) so the pages open without signal. Pages: from the network, kept for next time, the kept copy when
   there is no network (or it does not answer within a few seconds). Static files: fingerprinted (?v=), so a kept
   copy is always right. The offline packet and the drafts live in IndexedDB (static/field/store.js), not here.
   A new version of any shell file changes this script, and the new worker replaces the old cache. */
"use strict";
var CACHE = "field-shell-" + {{ version|tojson }};
var SHELL = {{ shell|tojson }};
var PAGES = [{{ url_for('field.index')|tojson }}, {{ url_for('field.inspect')|tojson }}];
var MANIFEST = {{ url_for('field.manifest')|tojson }};
// A page that does not answer within this long on a weak signal is opened from the kept copy.
var PAGE_WAIT_MS = 6000;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    // The pages are kept when the user may open them (a supervisor may not record, so has no inspection page).
    var pages = PAGES.concat([MANIFEST]).map(function (url) {
      return fetch(url, {credentials: "same-origin"}).then(function (response) {
        if (response.ok && !response.redirected) { return cache.put(url, response); }
        return null;
      }).catch(function () { return null; });
    });
    return Promise.all([cache.addAll(SHELL)].concat(pages));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("field-shell-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function keptPage(path) {
  return caches.open(CACHE).then(function (cache) { return cache.match(path); });
}

function page(request, url) {
  var path = url.pathname;
  var fromNetwork = fetch(request).then(function (response) {
    // Search results (?q=) are not the shell; a redirect (to the login page) is not the page.
    if (response.ok && !response.redirected && !url.searchParams.has("q")) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(path, copy); });
    }
    return response;
  });
  var slow = new Promise(function (resolve) {
    setTimeout(function () { keptPage(path).then(resolve); }, PAGE_WAIT_MS);
  });
  var answer = Promise.race([fromNetwork, slow]).then(function (response) { return response || fromNetwork; });
  return answer.catch(function () {
    return keptPage(path).then(function (kept) {
      return kept || new Response("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>无信号</title>" +
        "<p>无信号，且这部手机上还没有保存此页面。请在有信号时打开一次现场检查。</p></html>",
        {status: 503, headers: {"Content-Type": "text/html; charset=utf-8"}});
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate" && PAGES.indexOf(url.pathname) >= 0) {
    event.respondWith(page(request, url));
    return;
  }
  if (SHELL.indexOf(url.pathname + url.search) >= 0 || url.pathname === MANIFEST) {
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (kept) { return kept || fetch(request); });
    }));
  }
});
