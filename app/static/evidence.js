/* The evidence form (inspections/evidence_form.html): thumbnails of the chosen files and photos before they
   are uploaded, a file over the limit said before sending, and the button showing the upload is under way. */
(function () {
  "use strict";
  var form = document.getElementById("evidence-form");
  if (!form) { return; }
  var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
  var box = document.getElementById("evidence-previews");
  var warning = document.getElementById("evidence-too-large");
  var inputs = form.querySelectorAll("input[type=file]");

  function chosen() {
    var files = [];
    inputs.forEach(function (input) { Array.prototype.push.apply(files, input.files); });
    return files;
  }

  function preview(file) {
    var item = document.createElement("div");
    item.className = "evidence-preview";
    // Thumbnails as data: URLs (the Content-Security-Policy allows data: images, not blob:); a HEIC photo
    // or a PDF, which browsers do not draw, shows its name only.
    if (/^image\/(jpeg|png|gif|webp)$/.test(file.type) && file.size <= limit) {
      var img = document.createElement("img");
      img.alt = file.name;
      var reader = new FileReader();
      reader.onload = function () { img.src = reader.result; };
      reader.readAsDataURL(file);
      item.appendChild(img);
    }
    var name = document.createElement("div");
    name.textContent = file.name + "（" + Math.round(file.size / 1024) + " KB）";
    item.appendChild(name);
    return item;
  }

  function refresh() {
    var files = chosen();
    box.textContent = "";
    files.forEach(function (file) { box.appendChild(preview(file)); });
    warning.classList.toggle("d-none", !files.some(function (f) { return f.size > limit; }));
  }

  inputs.forEach(function (input) { input.addEventListener("change", refresh); });
  form.addEventListener("submit", function (event) {
    if (chosen().some(function (f) { return f.size > limit; })) {
      event.preventDefault();
      warning.classList.remove("d-none");
      return;
    }
    var button = document.getElementById("evidence-submit");
    button.disabled = true;
    button.textContent = "正在上传…";
  });
})();
