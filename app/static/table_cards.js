/* Lists marked <table class="table-cards"> are stacked cards at phone width (app.css, "Phone width"): each
   body and footer cell gets its column's heading as data-label, which the card shows before the value, and
   the class `card-key` when its heading has it. The markup stays a plain table, so no template repeats its
   headings. */
(function () {
  "use strict";

  document.querySelectorAll("table.table-cards").forEach(function (table) {
    var head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    if (!head) return;
    var columns = [];
    Array.prototype.forEach.call(head.cells, function (th) {
      var label = th.textContent.replace(/[↑↓]/g, "").replace(/\s+/g, " ").trim();
      for (var i = 0; i < th.colSpan; i++) columns.push({label: label, key: th.classList.contains("card-key")});
    });
    var bodies = Array.prototype.slice.call(table.tBodies).concat(table.tFoot ? [table.tFoot] : []);
    bodies.forEach(function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        if (row.querySelector(":scope > th")) return;  // the row heads its own cells
        var at = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var column = columns[at];
          at += cell.colSpan;
          if (!column || cell.colSpan > 1) return;  // "暂无记录" across the table: no heading of its own
          if (column.key) cell.classList.add("card-key");
          else if (column.label && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", column.label);
        });
      });
    });
  });
})();
