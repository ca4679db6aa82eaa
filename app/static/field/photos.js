/* Photos reduced on the phone before they are kept and sent: the long side to about 2,000 px, JPEG, at most
   500 KB (room under the 600 KB a photo may take on a phone network), with the time the photo was taken (the
   camera's EXIF DateTimeOriginal, else the file's time) kept beside it, since re-encoding drops the EXIF block.
   A photo the browser cannot decode (an iPhone HEIC in Chromium) is kept as it is: the server converts it. */
(function () {
  "use strict";
  var LONG_SIDE = 2000;
  var MAX_BYTES = 500 * 1024;
  var THUMB = 160;

  // When the photo was taken: the camera's EXIF DateTimeOriginal (read by the vendored exifr, from a JPEG or an
  // iPhone HEIC), else the file's own time.
  function takenAt(file) {
    var fallback = new Date(file.lastModified || Date.now()).toISOString();
    if (!window.exifr) { return Promise.resolve(fallback); }
    // Only the EXIF block's one tag ("pick" by name needs the dictionaries the lite build leaves out).
    return window.exifr.parse(file, {ifd0: false, exif: ["DateTimeOriginal"], gps: false, interop: false, ifd1: false})
      .then(function (tags) {
        var when = tags && tags.DateTimeOriginal;
        return when instanceof Date && !isNaN(when) ? when.toISOString() : fallback;
      })
      .catch(function () { return fallback; });
  }

  function toBlob(canvas, type, quality) {
    return new Promise(function (resolve) { canvas.toBlob(resolve, type, quality); });
  }

  // JPEG at falling quality until it is under MAX_BYTES (detailed photos need a lower one).
  function encode(canvas, quality) {
    return toBlob(canvas, "image/jpeg", quality).then(function (blob) {
      return blob.size > MAX_BYTES && quality > 0.45 ? encode(canvas, quality - 0.1) : blob;
    });
  }

  function thumbnail(source, width, height) {
    var scale = THUMB / Math.max(width, height);
    var canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.7);
  }

  function jpegName(name) { return (name || "photo").replace(/\.[^.]*$/, "") + ".jpg"; }

  // One chosen file -> {blob, name, taken_at, thumb (a small data: URL, or null)}.
  function reduce(file) {
    return takenAt(file).then(function (time) {
      return createImageBitmap(file, {imageOrientation: "from-image"}).then(function (bitmap) {
        var scale = Math.min(1, LONG_SIDE / Math.max(bitmap.width, bitmap.height));
        var thumb = thumbnail(bitmap, bitmap.width, bitmap.height);
        if (scale === 1 && file.type === "image/jpeg" && file.size <= MAX_BYTES) {
          return {blob: file, name: file.name, taken_at: time, thumb: thumb};  // already small: EXIF kept
        }
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(bitmap.width * scale);
        canvas.height = Math.round(bitmap.height * scale);
        canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        bitmap.close();
        return encode(canvas, 0.82).then(function (blob) {
          return {blob: blob, name: jpegName(file.name), taken_at: time, thumb: thumb};
        });
      }, function () {
        return {blob: file, name: file.name, taken_at: time, thumb: null};
      });
    });
  }

  window.FieldPhotos = {reduce: reduce, LONG_SIDE: LONG_SIDE, MAX_BYTES: MAX_BYTES};
})();
