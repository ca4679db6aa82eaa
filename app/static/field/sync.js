/* Sending drafts and keeping the offline packet, on every field page.

   A draft is sent with the id made on the phone when it was saved (crypto.randomUUID): the server records a
   client id once, so a send retried after a lost answer never makes a second inspection. Sending starts when the
   connection returns (the online event), when a field page loads, and with the 立即同步 button; a fresh CSRF
   token is fetched first (a draft may be sent hours after its page was loaded). A draft's state is one of
   pending (待发送), sent (已发送, with the inspection's link), conflict (an instrument changed meanwhile: the
   server's reasons are shown, nothing is merged) and refused (被退回, with the reasons). */
(function () {
  "use strict";
  var body = document.body;
  var urls = {
    worker: body.getAttribute("data-sw"),
    scope: body.getAttribute("data-scope"),
    token: body.getAttribute("data-token-url"),
    packet: body.getAttribute("data-packet-url"),
    merchant: body.getAttribute("data-merchant-url"),
    submit: body.getAttribute("data-submit-url")
  };
  var userId = parseInt(body.getAttribute("data-user-id"), 10);
  var STATE_LABELS = {pending: "待发送", sending: "正在发送", sent: "已发送", conflict: "有冲突", refused: "被退回"};
  var syncing = null;
  var lastProblem = "";

  function changed() { document.dispatchEvent(new CustomEvent("field:drafts-changed")); }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (r) {
      if (r.status === 401) { throw new SyncStop("登录已过期：请重新登录后再同步。"); }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  function SyncStop(message) { this.message = message; }

  // The packet: fetched when online (and kept), else the one kept on the phone.
  function packet(fresh) {
    // Another user's packet (a shared phone) is never shown: the stations may differ.
    var kept = window.FieldStore.getPacket().then(function (p) { return p && p.user.id === userId ? p : null; });
    if (!navigator.onLine) { return kept; }
    return kept.then(function (old) {
      if (old && !fresh && Date.now() - old.fetched_at < 60 * 1000) {
        return old;
      }
      return getJSON(urls.packet).then(function (p) {
        p.fetched_at = Date.now();
        return window.FieldStore.setPacket(p).then(function () { return p; });
      }).catch(function () { return old; });
    });
  }

  // One merchant with its instruments: from the packet, else (online) from the server, else as kept earlier.
  function merchant(id, fresh) {
    return packet(false).then(function (p) {
      var inPacket = p && p.merchants.filter(function (m) { return m.id === id; })[0];
      if (inPacket && !fresh) {
        return {packet: p, merchant: inPacket,
                instruments: p.instruments.filter(function (i) { return i.merchant_id === id; })};
      }
      var kept = window.FieldStore.getMerchant(userId, id);
      if (!navigator.onLine) {
        return kept.then(function (m) { return m ? {packet: p, merchant: m, instruments: m.instruments} : null; });
      }
      return getJSON(urls.merchant + id).then(function (m) {
        return window.FieldStore.setMerchant(userId, m).then(function () {
          return {packet: p, merchant: m, instruments: m.instruments};
        });
      }).catch(function () {
        return kept.then(function (m) { return m ? {packet: p, merchant: m, instruments: m.instruments} : null; });
      });
    });
  }

  function formData(draft) {
    var data = new FormData();
    var payload = JSON.parse(JSON.stringify(draft.payload));
    payload.client_id = draft.client_id;
    payload.photos = draft.photos.map(function (photo, n) {
      data.append("photo-" + n, photo.blob, photo.name);
      return {field: "photo-" + n, finding_key: photo.finding_key || null, taken_at: photo.taken_at || null,
              name: photo.name};
    });
    payload.signatures = draft.signatures.map(function (sig, n) {
      data.append("signature-" + n, sig.blob, "signature-" + n + ".png");
      return {field: "signature-" + n, role: sig.role, user_id: sig.user_id || null, name: sig.name,
              signed_at: sig.signed_at};
    });
    data.append("draft", JSON.stringify(payload));
    return data;
  }

  function record(id, fields) {
    return window.FieldStore.updateDraft(id, function (d) { return Object.assign(d, fields); });
  }

  // Send one draft; resolves when its new state is stored. A SyncStop ends the whole round.
  function send(draft, token) {
    return fetch(urls.submit, {method: "POST", credentials: "same-origin", body: formData(draft),
                               headers: {"X-CSRFToken": token, "Accept": "application/json"}})
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (answer) {
          var reasons = answer && (answer.reasons || answer.errors);
          if (r.status === 200 || r.status === 201) {
            return record(draft.client_id, {state: "sent", inspection_id: answer.inspection_id, url: answer.url,
                                            sent_at: new Date().toISOString(), reasons: []});
          }
          if (r.status === 401) { throw new SyncStop("登录已过期：请重新登录后再同步。"); }
          if (r.status === 409) {
            return record(draft.client_id, {state: "conflict", reasons: reasons || ["器具资料在检查后有变化。"]});
          }
          if (r.status >= 500 || !answer) {
            // The server could not answer now (or the CSRF check failed): the draft waits for the next round.
            lastProblem = "服务器暂时无法接收（HTTP " + r.status + "），稍后会再试。";
            return null;
          }
          return record(draft.client_id, {state: "refused", reasons: reasons || ["服务器拒收（HTTP " + r.status + "）。"]});
        });
      }, function () {
        lastProblem = "网络中断，草稿留在手机上，稍后再发送。";
      });
  }

  // Send every pending draft of this user, one after another; one round at a time.
  function syncAll() {
    if (syncing) { return syncing; }
    if (!navigator.onLine) { showStatus(); return Promise.resolve(); }
    lastProblem = "";
    syncing = window.FieldStore.drafts(userId).then(function (list) {
      var pending = list.filter(function (d) { return d.state === "pending"; });
      if (!pending.length) { return null; }
      setMessage("正在发送…");
      return getJSON(urls.token).then(function (t) {
        return pending.reduce(function (chain, d) {
          return chain.then(function () { return send(d, t.csrf_token); }).then(changed);
        }, Promise.resolve());
      });
    }).catch(function (err) {
      lastProblem = err instanceof SyncStop ? err.message : "暂时连不上服务器，草稿留在手机上，稍后再发送。";
    }).then(function () {
      syncing = null;
      return window.FieldStore.pruneSent();
    }).then(function () { changed(); });
    return syncing;
  }

  function setMessage(text) {
    var el = document.getElementById("sync-message");
    if (el) { el.textContent = text; }
  }

  // The status bar on every field page: network, drafts waiting, sent, refused.
  function showStatus() {
    var summary = document.getElementById("sync-summary");
    if (!summary) { return Promise.resolve(); }
    var net = document.getElementById("net-state");
    net.textContent = navigator.onLine ? "在线" : "无信号";
    net.className = "badge " + (navigator.onLine ? "bg-success" : "bg-secondary");
    return window.FieldStore.drafts(userId).then(function (list) {
      var count = {};
      list.forEach(function (d) { count[d.state] = (count[d.state] || 0) + 1; });
      var parts = ["pending", "conflict", "refused", "sent"].filter(function (s) { return count[s]; })
        .map(function (s) { return STATE_LABELS[s] + " " + count[s]; });
      summary.textContent = parts.length ? parts.join(" · ") : "手机上没有草稿";
      setMessage(lastProblem);
    });
  }

  function registerWorker() {
    if (!("serviceWorker" in navigator) || !urls.worker) { return; }
    navigator.serviceWorker.register(urls.worker, {scope: urls.scope}).catch(function () {
      setMessage("无法启用离线功能（浏览器未允许 Service Worker）。");
    });
  }

  // A new element with its class and text (never HTML: what users typed is shown as text), for the page scripts.
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  window.FieldSync = {
    userId: userId, labels: STATE_LABELS, packet: packet, merchant: merchant, syncAll: syncAll,
    showStatus: showStatus, changed: changed, el: el
  };

  document.addEventListener("field:drafts-changed", showStatus);
  window.addEventListener("online", function () { showStatus(); syncAll(); });
  window.addEventListener("offline", showStatus);
  var button = document.getElementById("sync-now");
  if (button) { button.addEventListener("click", function () { syncAll(); }); }
  registerWorker();
  showStatus();
  syncAll();
})();
