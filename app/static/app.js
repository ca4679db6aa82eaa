/* The app's own behaviour, loaded from a file: the Content-Security-Policy runs no inline script and no
   onclick="..." attributes. Each part acts only when its elements are on the page. */
(function () {
  "use strict";

  // <button data-print>: print the page.
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // <select data-autosubmit>: send its form when the choice changes.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // <form data-confirm="question">: ask before sending.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // The upload form: refuse a file over the limit before sending it, and show that the upload is under way.
  var upload = document.getElementById("upload-form");
  if (upload) {
    var limit = parseInt(upload.getAttribute("data-max-bytes"), 10);
    var input = upload.querySelector("input[type=file]");
    var warning = document.getElementById("too-large");
    var tooLarge = function () { return input.files.length && input.files[0].size > limit; };
    input.addEventListener("change", function () { warning.classList.toggle("d-none", !tooLarge()); });
    upload.addEventListener("submit", function (event) {
      if (tooLarge()) { event.preventDefault(); warning.classList.remove("d-none"); return; }
      var button = document.getElementById("upload-submit");
      button.disabled = true;
      button.textContent = "正在上传…";
    });
  }

  // An import job's progress: poll until it is done, then reload the batch page.
  var box = document.getElementById("import-progress");
  if (box) {
    var bar = document.getElementById("progress-bar");
    var text = document.getElementById("progress-text");
    var label = document.getElementById("progress-label");
    var poll = function () {
      fetch(box.getAttribute("data-url"), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (p) {
          if (!p.busy) { window.location.href = box.getAttribute("data-done-url"); return; }
          label.textContent = p.label;
          if (p.percent !== null) {
            bar.style.width = p.percent + "%";  // set through the CSSOM, which the policy allows
            text.textContent = p.percent + "%";
            box.querySelector(".progress").setAttribute("aria-valuenow", p.percent);
          }
          window.setTimeout(poll, 1500);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    };
    window.setTimeout(poll, 1000);
  }
})();
