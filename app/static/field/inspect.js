/* The inspection page of one merchant, drawn from the offline packet (or the merchant's JSON): each instrument
   marked 未发现问题 / 发现问题, findings inline, photos taken with the camera (reduced on the phone, shown as
   thumbnails), on-screen signatures and, when allowed, the location. Saving keeps the draft on the phone with an
   id made here; sync.js sends it. */
(function () {
  "use strict";
  var root = document.getElementById("inspect-app");
  if (!root) { return; }
  var params = new URLSearchParams(window.location.search);
  var merchantId = parseInt(params.get("merchant_id"), 10);
  var scannedId = parseInt(params.get("instrument_id"), 10) || null;
  var openProblem = params.get("problem") === "1";
  var homeUrl = document.body.getAttribute("data-home-url");
  var userId = window.FieldSync.userId;
  var form = document.getElementById("inspect-form");

  var checks = {};        // instrument id -> "ok" | "problem"
  var findings = [];      // {key, instrumentId, node}
  var photos = [];        // {id, blob, name, taken_at, thumb, finding_key}
  var pads = [];          // {role, user_id, name (or input), pad, signed_at}
  var place = null;       // {latitude, longitude, accuracy}
  var packet = null;
  var merchant = null;
  var instruments = [];
  var findingSeq = 0;
  var photoSeq = 0;

  var el = window.FieldSync.el;

  function option(select, value, label) {
    var o = el("option", "", label);
    o.value = value;
    select.appendChild(o);
  }

  function localDate(d) {
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate());
  }

  function fail(message) {
    var box = document.getElementById("load-error");
    box.textContent = message;
    box.classList.remove("d-none");
    document.getElementById("merchant-name").textContent = "现场检查";
  }

  function instrumentLabel(i) { return i.kind_name + " " + i.serial_no; }

  // --- photos -------------------------------------------------------------------------------------

  function showThumbs(container, key) {
    container.textContent = "";
    photos.filter(function (p) { return (p.finding_key || "") === key; }).forEach(function (p) {
      var figure = el("figure", "field-thumb");
      if (p.thumb) {
        var img = el("img");
        img.src = p.thumb;
        img.alt = p.name;
        figure.appendChild(img);
      } else {
        figure.appendChild(el("div", "field-thumb-name", p.name));
      }
      var remove = el("button", "btn btn-sm btn-light field-thumb-remove", "移除");
      remove.type = "button";
      remove.addEventListener("click", function () {
        photos = photos.filter(function (q) { return q.id !== p.id; });
        showThumbs(container, key);
      });
      figure.appendChild(remove);
      container.appendChild(figure);
    });
  }

  function watchPhotos(input, container, keyOf) {
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files);
      input.value = "";
      container.appendChild(el("div", "small text-muted field-busy", "正在处理照片…"));
      Promise.all(files.map(window.FieldPhotos.reduce)).then(function (reduced) {
        reduced.forEach(function (p) {
          p.id = ++photoSeq;
          p.finding_key = keyOf() || null;
          photos.push(p);
        });
        showThumbs(container, keyOf());
      });
    });
  }

  // --- findings -----------------------------------------------------------------------------------

  function addFinding(container, instrumentId) {
    var node = document.getElementById("tpl-finding").content.firstElementChild.cloneNode(true);
    var key = "f" + (++findingSeq);
    node.setAttribute("data-key", key);
    var code = node.querySelector(".finding-code");
    option(code, "", "请选择");
    packet.finding_codes.forEach(function (c) { option(code, c.id, c.code + " " + c.name_zh); });
    var measure = node.querySelector(".finding-measure");
    packet.measures.forEach(function (m) { option(measure, m.value, m.label); });
    var caseBox = node.querySelector(".finding-case");
    measure.addEventListener("change", function () { caseBox.classList.toggle("d-none", measure.value !== "case"); });
    var entry = {key: key, instrumentId: instrumentId, node: node};
    node.querySelector(".finding-remove").addEventListener("click", function () {
      findings = findings.filter(function (f) { return f !== entry; });
      photos = photos.filter(function (p) { return p.finding_key !== key; });
      node.remove();
    });
    watchPhotos(node.querySelector(".finding-photos"), node.querySelector(".field-thumbs"),
                function () { return key; });
    findings.push(entry);
    container.appendChild(node);
    return node;
  }

  // --- instruments --------------------------------------------------------------------------------

  function showInstrument(inst) {
    var card = document.getElementById("tpl-instrument").content.firstElementChild.cloneNode(true);
    card.setAttribute("data-instrument-id", inst.id);
    if (inst.id === scannedId) { card.classList.add("field-scanned"); }
    card.querySelector(".inst-title").textContent = instrumentLabel(inst) + (inst.id === scannedId ? "（扫码）" : "");
    card.querySelector(".inst-meta").textContent = [inst.model, inst.status_label, inst.due_label]
      .filter(Boolean).join(" · ");
    var box = card.querySelector(".inst-findings");
    var more = card.querySelector(".inst-more");
    var buttons = card.querySelectorAll("[data-outcome]");
    var mark = function (outcome) {
      checks[inst.id] = outcome;
      buttons.forEach(function (b) {
        var on = b.getAttribute("data-outcome") === outcome;
        var ok = b.getAttribute("data-outcome") === "ok";
        var look = ok ? "success" : "danger";
        b.className = "btn field-big " + (on ? "btn-" + look : "btn-outline-" + look);
        b.setAttribute("aria-pressed", on ? "true" : "false");
      });
      more.classList.toggle("d-none", outcome !== "problem");
    };
    buttons.forEach(function (b) {
      b.addEventListener("click", function () {
        var outcome = b.getAttribute("data-outcome");
        var mine = findings.filter(function (f) { return f.instrumentId === inst.id; });
        if (outcome === "ok" && mine.length) {
          if (!window.confirm("改为“未发现问题”将删除为这台器具填写的问题和照片，确定吗？")) { return; }
          mine.forEach(function (f) { f.node.querySelector(".finding-remove").click(); });
        }
        mark(outcome);
        if (outcome === "problem" && !mine.length) { addFinding(box, inst.id); }
      });
    });
    more.addEventListener("click", function () { addFinding(box, inst.id); });
    if (inst.id === scannedId && openProblem) {
      mark("problem");
      addFinding(box, inst.id);
    }
    return card;
  }

  // --- signatures ---------------------------------------------------------------------------------

  function makePad(box, role, signerId, signerName) {
    var canvas = box.querySelector("canvas");
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    var entry = {role: role, user_id: signerId, name: signerName, signed_at: null, box: box};
    entry.pad = new window.SignaturePad(canvas, {backgroundColor: "rgb(255,255,255)"});
    entry.pad.addEventListener("endStroke", function () { entry.signed_at = new Date().toISOString(); });
    box.querySelector("[data-clear]").addEventListener("click", function () {
      entry.pad.clear();
      entry.signed_at = null;
    });
    pads.push(entry);
    return entry;
  }

  function inspectorPads() {
    var place = document.getElementById("inspector-signatures");
    var chosen = chosenInspectors();
    pads = pads.filter(function (p) {
      var keep = p.role !== "inspector" || chosen.indexOf(p.user_id) >= 0;
      if (!keep) { p.box.remove(); }
      return keep;
    });
    chosen.forEach(function (id) {
      if (pads.some(function (p) { return p.role === "inspector" && p.user_id === id; })) { return; }
      var person = packet.inspectors.filter(function (i) { return i.id === id; })[0];
      var box = el("div", "field-signature");
      box.setAttribute("data-role", "inspector");
      box.setAttribute("data-user-id", id);
      box.appendChild(el("div", "form-label", "检查人员签名：" + person.name));
      var canvas = el("canvas", "field-pad");
      canvas.setAttribute("aria-label", "检查人员" + person.name + "签名");
      box.appendChild(canvas);
      var clear = el("button", "btn btn-outline-secondary btn-sm", "重签");
      clear.type = "button";
      clear.setAttribute("data-clear", "");
      box.appendChild(clear);
      place.appendChild(box);
      makePad(box, "inspector", id, person.name);
    });
  }

  function chosenInspectors() {
    return Array.prototype.map.call(document.querySelectorAll("#inspectors input:checked"), function (c) {
      return parseInt(c.value, 10);
    });
  }

  // --- location -----------------------------------------------------------------------------------

  function takeLocation() {
    var text = document.getElementById("location-text");
    if (!navigator.geolocation) { text.textContent = "这部手机的浏览器不能提供位置。"; return; }
    text.textContent = "正在取得位置…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      place = {latitude: pos.coords.latitude, longitude: pos.coords.longitude, accuracy: pos.coords.accuracy};
      text.textContent = "已记录位置（精度约 " + Math.round(pos.coords.accuracy) + " 米）。";
    }, function (err) {
      place = null;
      text.textContent = err.code === 1 ? "未获允许，不记录位置。" : "未能取得位置，不记录位置。";
    }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 60000});
  }

  // --- saving -------------------------------------------------------------------------------------

  function problems() {
    var found = [];
    var day = document.getElementById("inspected-on").value;
    if (!day) { found.push("请填写检查日期。"); }
    if (day > localDate(new Date())) { found.push("检查日期不能晚于今天。"); }
    if (chosenInspectors().length < 2) { found.push("监督检查应由两名以上检查人员实施，请至少选择两人。"); }
    findings.forEach(function (f, n) {
      if (!f.node.querySelector(".finding-code").value) { found.push("第 " + (n + 1) + " 条问题：请选择问题类型。"); }
    });
    var merchantPad = pads.filter(function (p) { return p.role === "merchant"; })[0];
    if (merchantPad && !merchantPad.pad.isEmpty() && !document.getElementById("merchant-signer").value.trim()) {
      found.push("请填写签名的被检查单位代表姓名。");
    }
    return found;
  }

  function padBlob(entry) {
    return new Promise(function (resolve) { entry.pad.canvas.toBlob(resolve, "image/png"); });
  }

  function save(event) {
    event.preventDefault();
    var errors = problems();
    var box = document.getElementById("save-error");
    box.classList.toggle("d-none", !errors.length);
    box.textContent = errors.join(" ");
    if (errors.length) { box.scrollIntoView(); return; }
    var button = document.getElementById("save-draft");
    button.disabled = true;
    button.textContent = "正在保存…";
    var labels = {};
    instruments.forEach(function (i) { labels[i.id] = instrumentLabel(i); });
    var signed = pads.filter(function (p) { return !p.pad.isEmpty(); });
    Promise.all(signed.map(padBlob)).then(function (blobs) {
      var draft = {
        client_id: window.crypto.randomUUID(),
        user_id: userId,
        merchant_id: merchantId,
        merchant_name: merchant.name,
        created_at: new Date().toISOString(),
        state: "pending",
        reasons: [],
        labels: labels,
        payload: {
          merchant_id: merchantId,
          inspected_on: document.getElementById("inspected-on").value,
          visit_outcome: document.getElementById("visit-outcome").value,
          notes: document.getElementById("notes").value,
          inspector_ids: chosenInspectors(),
          campaign_id: document.getElementById("campaign").value ? +document.getElementById("campaign").value : null,
          location: place,
          checks: Object.keys(checks).map(function (id) {
            var inst = instruments.filter(function (i) { return i.id === +id; })[0];
            return {instrument_id: +id, outcome: checks[id], seen_version: inst.version};
          }),
          findings: findings.map(function (f) {
            var n = f.node;
            var measure = n.querySelector(".finding-measure").value;
            return {key: f.key, instrument_id: f.instrumentId,
                    code_id: parseInt(n.querySelector(".finding-code").value, 10),
                    description: n.querySelector(".finding-description").value, measure: measure,
                    deadline: n.querySelector(".finding-deadline").value || null,
                    case_no: measure === "case" ? n.querySelector(".finding-case-no").value : ""};
          })
        },
        photos: photos.map(function (p) {
          return {blob: p.blob, name: p.name, taken_at: p.taken_at, finding_key: p.finding_key, thumb: p.thumb};
        }),
        signatures: signed.map(function (p, n) {
          var name = p.role === "merchant" ? document.getElementById("merchant-signer").value.trim() : p.name;
          return {blob: blobs[n], role: p.role, user_id: p.role === "inspector" ? p.user_id : null, name: name,
                  signed_at: p.signed_at || new Date().toISOString()};
        })
      };
      return window.FieldStore.saveDraft(draft);
    }).then(function () {
      return window.FieldSync.syncAll();
    }).then(function () {
      window.location.href = homeUrl;
    }).catch(function (err) {
      button.disabled = false;
      button.textContent = "保存检查记录";
      box.textContent = "未能保存到手机：" + (err && err.message ? err.message : err);
      box.classList.remove("d-none");
    });
  }

  // --- drawing the page ---------------------------------------------------------------------------

  // The campaigns of the merchant's station whose period holds the visit's date; a merchant planned in one is
  // put in it (the inspector may change that). Drawn again when the date changes.
  function showCampaigns() {
    var select = document.getElementById("campaign");
    var day = document.getElementById("inspected-on").value;
    var chosen = select.value || String((packet.planned || {})[merchant.id] || "");
    while (select.options.length > 1) { select.remove(1); }
    (packet.campaigns || []).filter(function (c) {
      return c.station_ids.indexOf(merchant.station_id) >= 0 && c.starts_on <= day && day <= c.ends_on;
    }).forEach(function (c) { option(select, c.id, c.name + "（" + c.starts_on + " 至 " + c.ends_on + "）"); });
    select.value = chosen;
    if (select.value !== chosen) { select.value = ""; }  // the chosen one does not hold the new date
  }

  function show(data) {
    packet = data.packet;
    merchant = data.merchant;
    instruments = data.instruments.slice().sort(function (a, b) {
      return (b.id === scannedId) - (a.id === scannedId);
    });
    document.title = merchant.name + " · 现场检查";
    document.getElementById("merchant-name").textContent = merchant.name;
    document.getElementById("merchant-address").textContent = merchant.address || "";
    document.getElementById("inspected-on").value = localDate(new Date());
    var outcome = document.getElementById("visit-outcome");
    packet.visit_outcomes.forEach(function (o) { option(outcome, o.value, o.label); });
    showCampaigns();
    document.getElementById("inspected-on").addEventListener("change", showCampaigns);
    var people = document.getElementById("inspectors");
    packet.inspectors.forEach(function (person) {
      var label = el("label", "form-check field-check");
      var box = el("input", "form-check-input");
      box.type = "checkbox";
      box.value = person.id;
      box.checked = person.id === userId;
      box.addEventListener("change", inspectorPads);
      label.appendChild(box);
      label.appendChild(el("span", "form-check-label", person.name));
      people.appendChild(label);
    });
    var list = document.getElementById("instruments");
    if (!instruments.length) { list.appendChild(el("p", "text-muted", "该单位尚未登记计量器具。")); }
    instruments.forEach(function (i) { list.appendChild(showInstrument(i)); });
    document.getElementById("add-finding").addEventListener("click", function () {
      addFinding(document.getElementById("general-findings"), null);
    });
    watchPhotos(document.getElementById("inspection-photos"), document.querySelector("[data-thumbs-for='']"),
                function () { return ""; });
    document.getElementById("take-location").addEventListener("click", takeLocation);
    form.classList.remove("d-none");
    makePad(document.querySelector(".field-signature[data-role=merchant]"), "merchant", null, "");
    inspectorPads();
    form.addEventListener("submit", save);
    var scanned = document.querySelector(".field-scanned");
    if (scanned) { scanned.scrollIntoView(); }
  }

  if (!merchantId) {
    fail("请先在现场检查首页选择使用单位或扫描器具标签。");
    return;
  }
  window.FieldSync.merchant(merchantId, false).then(function (data) {
    if (!data || !data.packet) {
      fail(navigator.onLine ? "未能读取该单位的资料，请稍后再试。"
                            : "该单位不在手机的离线资料中：请在有信号时打开一次，或回到首页从工作清单中选择。");
      return;
    }
    show(data);
  }, function () { fail("未能读取该单位的资料，请稍后再试。"); });
})();
