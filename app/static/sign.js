/* The 签名 page (inspections/sign.html): draw on the canvas with signature_pad, send it as a PNG data URL. */
(function () {
  "use strict";
  var canvas = document.getElementById("signature-pad");
  if (!canvas || typeof SignaturePad === "undefined") { return; }
  var form = document.getElementById("sign-form");
  var field = form.querySelector("input[name=signature]");
  var empty = document.getElementById("signature-empty");
  // A white background: the PNG stays legible when printed or shown on a dark screen.
  var pad = new SignaturePad(canvas, { backgroundColor: "rgb(255,255,255)", penColor: "rgb(0,0,0)" });

  // The canvas is drawn at the screen's pixel density, so the signature is sharp on a phone.
  function resize() {
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    var kept = pad.toData();
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    pad.fromData(kept);
  }
  window.addEventListener("resize", resize);
  resize();

  document.getElementById("signature-clear").addEventListener("click", function () { pad.clear(); });
  form.addEventListener("submit", function (event) {
    if (pad.isEmpty()) {
      event.preventDefault();
      empty.classList.remove("d-none");
      return;
    }
    empty.classList.add("d-none");
    field.value = pad.toDataURL("image/png");
    document.getElementById("sign-submit").disabled = true;
  });
})();
