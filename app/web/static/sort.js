// Click a column header of a table.sortable to sort it in place (server-side ?sort= still works without JS).
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th[data-key]").forEach(function (th, col) {
    th.style.cursor = "pointer";
    th.addEventListener("click", function (ev) {
      ev.preventDefault();
      var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var desc = th.dataset.dir !== "desc";
      rows.sort(function (a, b) {
        var x = a.cells[idx].dataset.v || a.cells[idx].textContent.trim();
        var y = b.cells[idx].dataset.v || b.cells[idx].textContent.trim();
        var nx = parseFloat(x), ny = parseFloat(y), r;
        r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, "zh-CN");
        return desc ? -r : r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      table.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted"); });
      th.classList.add("sorted"); th.dataset.dir = desc ? "desc" : "asc";
    });
  });
});
