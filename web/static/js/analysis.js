// Analysis pages: sort a result table by clicking a column header (numbers sort as numbers).
// No data is written into the page as HTML here: rows are moved, never rebuilt.
(function () {
  "use strict";
  function cellValue(row, index, numeric) {
    var text = row.cells[index] ? row.cells[index].textContent.trim() : "";
    if (!numeric) { return text; }
    var value = parseFloat(text.replace(/[,\s]/g, ""));
    return isNaN(value) ? -Infinity : value;
  }
  function sortBy(table, index, numeric, th) {
    var body = table.tBodies[0];
    var descending = th.getAttribute("aria-sort") !== "descending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      var order = x < y ? -1 : (x > y ? 1 : 0);
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) { cell.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }
  document.querySelectorAll("table.an-table").forEach(function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      var numeric = th.getAttribute("data-sort") === "num";
      th.tabIndex = 0;
      th.classList.add("an-sortable");
      th.addEventListener("click", function () { sortBy(table, index, numeric, th); });
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, index, numeric, th); }
      });
    });
  });
})();
