/* Photos reduced on the phone before they are kept and sent: the long side to about 2,000 px, JPEG, at most
   500 KB (room under the 600 KB a photo may take on a phone network), with the time the photo was taken (the
   camera's EXIF DateTimeOriginal, else the file's time) kept beside it, since re-encoding drops the EXIF block.
   A photo the browser cannot decode (an iPhone HEIC in Chromium) is kept as it is: the server converts it. */
(function () {
  "use strict";
  var LONG_SIDE = 2000;
  var MAX_BYTES = 500 * 1024;
  var THUMB = 160;

  // "2026:12:03 09:41:05" read from the JPEG's EXIF block, as an ISO time on the phone's clock; null without.
  function exifTakenAt(buffer) {
    var view = new DataView(buffer);
    if (view.byteLength < 4 || view.getUint16(0) !== 0xFFD8) { return null; }
    var offset = 2;
    while (offset + 4 <= view.byteLength) {
      var marker = view.getUint16(offset);
      var size = view.getUint16(offset + 2);
      if (marker === 0xFFE1 && view.getUint32(offset + 4) === 0x45786966) {  // "Exif"
        return readTiff(view, offset + 10);
      }
      if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) { return null; }
      offset += 2 + size;
    }
    return null;
  }

  function readTiff(view, tiff) {
    try {
      var little = view.getUint16(tiff) === 0x4949;
      var u16 = function (at) { return view.getUint16(at, little); };
      var u32 = function (at) { return view.getUint32(at, little); };
      var tags = function (ifd) {
        var found = {};
        var count = u16(tiff + ifd);
        for (var n = 0; n < count; n++) {
          var entry = tiff + ifd + 2 + n * 12;
          found[u16(entry)] = entry;
        }
        return found;
      };
      var text = function (entry) {
        var length = u32(entry + 4);
        var at = length > 4 ? tiff + u32(entry + 8) : entry + 8;
        var chars = [];
        for (var n = 0; n < length - 1; n++) { chars.push(String.fromCharCode(view.getUint8(at + n))); }
        return chars.join("");
      };
      var ifd0 = tags(u32(tiff + 4));
      var stamp = null;
      if (ifd0[0x8769]) {
        var exif = tags(u32(ifd0[0x8769] + 8));
        if (exif[0x9003]) { stamp = text(exif[0x9003]); }
      }
      if (!stamp && ifd0[0x0132]) { stamp = text(ifd0[0x0132]); }
      var m = stamp && /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})/.exec(stamp);
      if (!m) { return null; }
      return new Date(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6]).toISOString();
    } catch (err) {
      return null;
    }
  }

  function takenAt(file) {
    var fallback = new Date(file.lastModified || Date.now()).toISOString();
    return file.slice(0, 128 * 1024).arrayBuffer()
      .then(function (buffer) { return exifTakenAt(buffer) || fallback; })
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
