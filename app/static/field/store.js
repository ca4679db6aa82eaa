/* What the phone keeps for work without signal, in IndexedDB through the vendored idb-keyval: the offline
   packet (key "packet"), merchants fetched online ("merchant:<user id>:<id>") and inspection drafts
   ("draft:<client id>")
   with their photos and signatures as Blobs. Drafts stay until the inspector clears them: a sent draft keeps
   its link to the inspection; a pending one is never dropped by the app. */
(function () {
  "use strict";
  var kv = window.idbKeyval;
  var db = kv.createStore("metrology-field", "kv");
  var DRAFT = "draft:";
  // Sent drafts (their photos included) are cleared from the phone this long after the server recorded them.
  var KEEP_SENT_MS = 7 * 24 * 3600 * 1000;

  function drafts(userId) {
    return kv.entries(db).then(function (entries) {
      return entries
        .filter(function (e) { return String(e[0]).indexOf(DRAFT) === 0; })
        .map(function (e) { return e[1]; })
        .filter(function (d) { return userId === undefined || d.user_id === userId; })
        .sort(function (a, b) { return a.created_at < b.created_at ? 1 : -1; });
    });
  }

  function pruneSent() {
    var now = Date.now();
    return drafts().then(function (list) {
      return Promise.all(list.filter(function (d) {
        return d.state === "sent" && d.sent_at && now - Date.parse(d.sent_at) > KEEP_SENT_MS;
      }).map(function (d) { return kv.del(DRAFT + d.client_id, db); }));
    });
  }

  window.FieldStore = {
    getPacket: function () { return kv.get("packet", db); },
    setPacket: function (packet) { return kv.set("packet", packet, db); },
    getMerchant: function (userId, id) { return kv.get("merchant:" + userId + ":" + id, db); },
    setMerchant: function (userId, merchant) { return kv.set("merchant:" + userId + ":" + merchant.id, merchant, db); },
    drafts: drafts,
    getDraft: function (id) { return kv.get(DRAFT + id, db); },
    saveDraft: function (draft) { return kv.set(DRAFT + draft.client_id, draft, db); },
    deleteDraft: function (id) { return kv.del(DRAFT + id, db); },
    // Change a stored draft in one transaction (fn gets the draft and returns it changed).
    updateDraft: function (id, fn) { return kv.update(DRAFT + id, function (d) { return d ? fn(d) : d; }, db); },
    pruneSent: pruneSent
  };
})();
