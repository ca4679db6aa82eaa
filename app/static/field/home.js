/* The 现场检查 home page: the drafts on this phone with their state, today's worklist and merchant search from
   the offline packet. A conflict is shown with the server's reasons and is never resent by itself: the
   inspector refreshes the instruments' data, looks at it, and resends, or discards the draft. */
(function () {
  "use strict";
  var box = document.getElementById("drafts");
  if (!box) { return; }
  var body = document.body;
  var inspectUrl = body.getAttribute("data-inspect-url");
  var userId = window.FieldSync.userId;
  var BADGES = {pending: "bg-warning text-dark", sent: "bg-success", conflict: "bg-danger", refused: "bg-danger"};
  // Worklist merchants shown at once (the rest are behind the search box).
  var WORKLIST_SHOWN = 30;

  var el = window.FieldSync.el;

  function button(text, className, onClick) {
    var b = el("button", "btn " + className, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function when(iso) {
    var d = new Date(iso);
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " + two(d.getHours()) + ":" +
      two(d.getMinutes());
  }

  function inspectLink(merchantId, instrumentId) {
    return inspectUrl + "?merchant_id=" + merchantId + (instrumentId ? "&instrument_id=" + instrumentId : "");
  }

  function discard(draft) {
    if (window.confirm("确定放弃这份检查草稿吗？其中的检查结果、照片和签名将从手机上删除，无法恢复。")) {
      window.FieldStore.deleteDraft(draft.client_id).then(window.FieldSync.changed);
    }
  }

  function resend(draft, fields) {
    return window.FieldStore.updateDraft(draft.client_id, function (d) {
      return Object.assign(d, {state: "pending", reasons: []}, fields || {});
    }).then(function () { window.FieldSync.changed(); return window.FieldSync.syncAll(); });
  }

  // Conflict: fetch the merchant's instruments as they are now and show them beside the draft's checks;
  // the resend carries the versions the inspector has seen (an instrument gone from the merchant is dropped).
  function review(draft, card) {
    var place = card.querySelector(".draft-review");
    place.textContent = "正在读取最新的器具资料…";
    window.FieldSync.merchant(draft.merchant_id, true).then(function (data) {
      place.textContent = "";
      if (!data || !navigator.onLine) { place.textContent = "需要联网才能读取最新资料。"; return; }
      var now = {};
      data.instruments.forEach(function (i) { now[i.id] = i; });
      var list = el("ul", "small mb-2");
      var gone = [];
      draft.payload.checks.forEach(function (c) {
        var inst = now[c.instrument_id];
        var label = (draft.labels && draft.labels[c.instrument_id]) || ("器具 " + c.instrument_id);
        if (!inst) {
          gone.push(c.instrument_id);
          list.appendChild(el("li", "text-danger", label + "：已不在该单位名下（已报废或迁出），重新发送时不再包含对它的检查"));
        } else {
          list.appendChild(el("li", "", inst.kind_name + " " + inst.serial_no + "：现状态 " + inst.status_label +
            (inst.due_label ? "，" + inst.due_label : "")));
        }
      });
      place.appendChild(el("div", "small fw-bold", "最新的器具资料："));
      place.appendChild(list);
      place.appendChild(button("已查看，按最新资料重新发送", "btn-primary field-big", function () {
        var payload = JSON.parse(JSON.stringify(draft.payload));
        payload.checks = payload.checks.filter(function (c) { return gone.indexOf(c.instrument_id) < 0; });
        payload.checks.forEach(function (c) { c.seen_version = now[c.instrument_id].version; });
        payload.findings.forEach(function (f) {
          if (gone.indexOf(f.instrument_id) >= 0) { f.instrument_id = null; }
        });
        resend(draft, {payload: payload});
      }));
    });
  }

  function showDraft(draft) {
    var card = document.getElementById("tpl-draft").content.firstElementChild.cloneNode(true);
    card.setAttribute("data-client-id", draft.client_id);
    card.setAttribute("data-state", draft.state);
    card.querySelector(".draft-merchant").textContent = draft.merchant_name;
    var badge = card.querySelector(".draft-state");
    badge.textContent = window.FieldSync.labels[draft.state] || draft.state;
    badge.className += " " + (BADGES[draft.state] || "bg-secondary");
    card.querySelector(".draft-meta").textContent = "检查日期 " + draft.payload.inspected_on + " · 保存于 " +
      when(draft.created_at) + " · 照片 " + draft.photos.length + " 张 · 问题 " + draft.payload.findings.length + " 条";
    var reasons = card.querySelector(".draft-reasons");
    (draft.reasons || []).forEach(function (r) { reasons.appendChild(el("li", "text-danger", r)); });
    var buttons = card.querySelector(".draft-buttons");
    if (draft.state === "sent") {
      var link = el("a", "btn btn-outline-success field-big", "查看检查记录");
      link.href = draft.url;
      buttons.appendChild(link);
      buttons.appendChild(button("从手机上清除", "btn-outline-secondary", function () {
        window.FieldStore.deleteDraft(draft.client_id).then(window.FieldSync.changed);
      }));
    } else if (draft.state === "conflict") {
      buttons.appendChild(button("刷新器具资料并查看", "btn-primary field-big", function () { review(draft, card); }));
      buttons.appendChild(button("放弃草稿", "btn-outline-danger", function () { discard(draft); }));
    } else if (draft.state === "refused") {
      buttons.appendChild(button("重新发送", "btn-outline-primary", function () { resend(draft); }));
      buttons.appendChild(button("放弃草稿", "btn-outline-danger", function () { discard(draft); }));
    } else {
      buttons.appendChild(button("放弃草稿", "btn-outline-danger", function () { discard(draft); }));
    }
    return card;
  }

  function showDrafts() {
    return window.FieldStore.drafts(userId).then(function (list) {
      box.textContent = "";
      if (!list.length) { box.appendChild(el("p", "text-muted", "这部手机上没有检查草稿。")); }
      list.forEach(function (d) { box.appendChild(showDraft(d)); });
    });
  }

  function merchantItem(m, instruments) {
    var item = el("li", "list-group-item");
    var a = el("a", "field-link", m.name);
    a.href = inspectLink(m.id);
    item.appendChild(a);
    if (m.address) { item.appendChild(el("div", "small text-muted", m.address)); }
    (instruments || []).forEach(function (i) {
      var line = el("a", "d-block small field-instrument-link", i.kind_name + " " + i.serial_no + " · " +
        (i.due_label || i.status_label));
      line.href = inspectLink(m.id, i.id);
      item.appendChild(line);
    });
    return item;
  }

  function showWorklist(p) {
    var info = document.getElementById("packet-info");
    var place = document.getElementById("worklist");
    place.textContent = "";
    if (!p) {
      info.textContent = "手机上还没有离线资料：请在有信号时打开本页一次。";
      return;
    }
    info.textContent = "离线资料更新于 " + when(p.generated_at) + "：" + p.merchants.length + " 家单位、" +
      p.instruments.length + " 台器具（最多 " + p.limits.merchants + " 家、" + p.limits.instruments + " 台）。";
    var merchants = {};
    p.merchants.forEach(function (m) { merchants[m.id] = m; });
    var instruments = {};
    p.instruments.forEach(function (i) { instruments[i.id] = i; });
    var order = [];
    var due = {};
    p.worklist.forEach(function (id) {
      var inst = instruments[id];
      if (!inst || !merchants[inst.merchant_id]) { return; }
      if (!due[inst.merchant_id]) { due[inst.merchant_id] = []; order.push(inst.merchant_id); }
      due[inst.merchant_id].push(inst);
    });
    if (!order.length) { place.appendChild(el("p", "text-muted", "今天没有到期或超期的器具。")); return; }
    var list = el("ul", "list-group field-results");
    order.slice(0, WORKLIST_SHOWN).forEach(function (id) { list.appendChild(merchantItem(merchants[id], due[id])); });
    place.appendChild(list);
    if (order.length > WORKLIST_SHOWN) {
      place.appendChild(el("p", "small text-muted", "另有 " + (order.length - WORKLIST_SHOWN) + " 家单位，请用上面的查找。"));
    }
  }

  // Search within the packet as the inspector types (the only search without signal).
  function searchPacket(p) {
    var input = document.getElementById("field-q");
    var results = document.getElementById("packet-results");
    var asked = new URLSearchParams(window.location.search).get("q");
    if (!input.value && asked) { input.value = asked; }  // the page kept for offline use has no value filled in
    var run = function () {
      results.textContent = "";
      var q = input.value.trim().toLowerCase();
      var online = document.getElementById("online-results");
      if (!q || !p || (online && navigator.onLine)) { return; }
      var found = p.merchants.filter(function (m) {
        return (m.name || "").toLowerCase().indexOf(q) >= 0 || (m.address || "").toLowerCase().indexOf(q) >= 0;
      });
      results.appendChild(el("li", "list-group-item small text-muted", "离线资料中有 " + found.length + " 家" +
        (found.length > 20 ? "（只列出前 20 家）" : "") + "："));
      found.slice(0, 20).forEach(function (m) { results.appendChild(merchantItem(m)); });
    };
    input.addEventListener("input", run);
    run();
  }

  document.addEventListener("field:drafts-changed", showDrafts);
  showDrafts();
  window.FieldSync.packet(false).then(function (p) {
    showWorklist(p);
    searchPacket(p);
  });
})();
