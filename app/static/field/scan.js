/* The 扫码 page (app/field/templates/field/scan.html): read an instrument's QR label and open its record.
 *
 * QR codes are read with the browser's BarcodeDetector where it reads them (Chrome on Android, ChromeOS and
 * macOS); elsewhere with the barcode-detector ponyfill vendored in /static/vendor (the same API, backed by
 * ZXing compiled to WebAssembly, whose .wasm is served by this app: never fetched from the internet). It is
 * loaded only when needed. A code read is sent to the server (data-resolve-url), which says whether it is this
 * user's instrument (open it), another station's (say so) or not this system's label at all (show what was read).
 */
(function () {
  "use strict";

  var root = document.getElementById("scan");
  if (!root) {
    return;
  }
  var video = document.getElementById("scan-video");
  var viewport = document.getElementById("scan-viewport");
  var statusLine = document.getElementById("scan-status");
  var result = document.getElementById("scan-result");
  var message = document.getElementById("scan-message");
  var readText = document.getElementById("scan-text");
  var openLink = document.getElementById("scan-open");
  var startButton = document.getElementById("scan-start");
  var photo = document.getElementById("scan-photo");
  var manual = document.getElementById("scan-manual");
  var codeInput = document.getElementById("scan-code");

  var FALLBACK = "可以点“从相册选择”识别标签照片，或在下方手动输入出厂编号。";
  var stream = null;
  var reader = null;      // a promise of the detector, made once
  var timer = null;
  var resolving = false;
  var lastCode = null;    // a code already answered: the camera keeps seeing it, so it is not asked again

  function say(text) {
    statusLine.textContent = text;
  }

  function show(kind, text, detail, link) {
    result.className = "alert alert-" + kind;
    message.textContent = text;
    readText.textContent = detail ? "识别到的内容：" + detail : "";
    readText.classList.toggle("d-none", !detail);
    openLink.classList.toggle("d-none", !link);
    if (link) {
      openLink.href = link;
    }
  }

  function hideResult() {
    result.className = "alert d-none";
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = src;
      tag.onload = resolve;
      tag.onerror = function () { reject(new Error("script " + src)); };
      document.head.appendChild(tag);
    });
  }

  function nativeDetector() {
    if (!("BarcodeDetector" in window)) {
      return Promise.resolve(null);
    }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      return formats.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({formats: ["qr_code"]}) : null;
    }).catch(function () { return null; });
  }

  function ponyfillDetector() {
    var wasm = new URL(root.dataset.wasmUrl, window.location.href).href;
    return loadScript(root.dataset.readerUrl).then(function () {
      var api = window.BarcodeDetectionAPI;
      return api.prepareZXingModule({
        overrides: {
          locateFile: function (path, prefix) { return /\.wasm$/.test(path) ? wasm : prefix + path; }
        },
        fireImmediately: true
      }).then(function () { return new api.BarcodeDetector({formats: ["qr_code"]}); });
    });
  }

  function detector() {
    if (!reader) {
      reader = nativeDetector().then(function (found) { return found || ponyfillDetector(); });
      reader.catch(function () { reader = null; });  // a failed load may be retried
    }
    return reader;
  }

  function cameraMessage(err) {
    var name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      return "未获得使用摄像头的许可。请在浏览器的网站设置中允许本系统使用摄像头后点“重新打开摄像头”。";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
      return "没有找到可用的摄像头。";
    }
    if (name === "NotReadableError" || name === "AbortError") {
      return "摄像头正被其他应用使用，或暂时无法打开。";
    }
    return "无法打开摄像头。";
  }

  function stopCamera() {
    clearTimeout(timer);
    timer = null;
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    video.srcObject = null;
  }

  function cameraFailed(text) {
    stopCamera();
    viewport.classList.add("d-none");
    startButton.classList.remove("d-none");
    say("");
    show("warning", text + FALLBACK);
  }

  function readerFailed() {
    say("");
    show("danger", "二维码识别组件加载失败，请刷新页面重试。" + FALLBACK);
  }

  function startCamera() {
    hideResult();
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraFailed("此浏览器不能在本页面使用摄像头（需要以 https 地址打开本系统）。");
      return;
    }
    say("正在打开摄像头……");
    navigator.mediaDevices.getUserMedia({video: {facingMode: {ideal: "environment"}}, audio: false})
      .then(function (opened) {
        stream = opened;
        video.srcObject = opened;
        viewport.classList.remove("d-none");
        startButton.classList.add("d-none");
        return video.play();
      })
      .then(function () {
        say("正在准备识别……");
        return detector().then(function () {
          say("请将二维码标签放入框内");
          scanFrame();
        }, readerFailed);
      })
      .catch(function (err) { cameraFailed(cameraMessage(err)); });
  }

  function scanFrame() {
    timer = null;
    if (!stream) {
      return;
    }
    if (resolving || video.readyState < 2) {
      timer = setTimeout(scanFrame, 200);
      return;
    }
    detector().then(function (d) { return d.detect(video); })
      .then(function (codes) {
        var code = codes.length ? codes[0].rawValue : null;
        if (code && code !== lastCode) {
          resolve(code);
        }
      })
      .catch(function () { /* a frame that cannot be read: try the next one */ })
      .then(function () {
        if (stream && !timer) {
          timer = setTimeout(scanFrame, 250);
        }
      });
  }

  // What the server says a code is; `orElse` runs when it is not one of this system's labels.
  function resolve(code, orElse) {
    resolving = true;
    lastCode = code;
    say("已识别，正在查找……");
    var url = root.dataset.resolveUrl + "?code=" + encodeURIComponent(code);
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("application/json") < 0) {
          // Anything but JSON is the login page: the session has ended.
          throw new Error(response.redirected ? "login" : "status " + response.status);
        }
        return response.json();
      })
      .then(function (answer) {
        if (answer.state === "own") {
          say("已识别：" + answer.instrument + "，正在打开……");
          stopCamera();
          window.location.assign(answer.url);
          return;
        }
        if (orElse && (answer.state === "foreign" || answer.state === "unknown")) {
          orElse();
          return;
        }
        say(stream ? "请将二维码标签放入框内" : "");
        if (answer.state === "other_station") {
          show("warning", answer.message + "（" + answer.instrument + "）", "", answer.url);
        } else {
          show(answer.state === "unknown" ? "warning" : "secondary", answer.message, answer.text);
        }
      })
      .catch(function (err) {
        lastCode = null;
        say(stream ? "请将二维码标签放入框内" : "");
        show("danger", err.message === "login" ? "登录已失效，请重新登录后再扫码。"
          : "无法连接服务器，请检查网络后重试。");
      })
      .then(function () { resolving = false; });
  }

  photo.addEventListener("change", function () {
    var file = photo.files && photo.files[0];
    photo.value = "";
    if (!file) {
      return;
    }
    hideResult();
    say("正在识别照片……");
    detector().then(function (d) {
      return createImageBitmap(file).then(function (picture) { return d.detect(picture); }, function () {
        throw new Error("image");
      });
    }, function () { throw new Error("reader"); })
      .then(function (codes) {
        if (codes.length) {
          resolve(codes[0].rawValue);
        } else {
          say("");
          show("warning", "照片中没有识别到二维码，请对准标签拍清楚后重试，或手动输入出厂编号。");
        }
      })
      .catch(function (err) {
        if (err.message === "reader") {
          readerFailed();
        } else {
          say("");
          show("warning", "无法读取这张照片，请换一张（JPEG 或 PNG）重试，或手动输入出厂编号。");
        }
      });
  });

  // Typed by hand: a label's address or code opens its record; anything else is searched for.
  manual.addEventListener("submit", function (event) {
    var code = codeInput.value.trim();
    if (!/\/public\/i\/|^[A-Za-z0-9_-]{32,43}$/.test(code)) {
      return;  // a serial number or a name: the search page
    }
    event.preventDefault();
    resolve(code, function () { manual.submit(); });
  });

  startButton.addEventListener("click", startCamera);
  // Leaving the page lets the camera go; coming back to it (the browser's back button) opens it again.
  window.addEventListener("pagehide", stopCamera);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      lastCode = null;
      startCamera();
    }
  });
  startCamera();
}());
