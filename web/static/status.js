// netkan: the /status table. The rows come from /status/rows.json as compact arrays
// [identifier, game, last inflated, last indexed, released, frozen, error, warnings,
// resources]; they are rendered with textContent (never as HTML), searched and sorted here.
(function () {
  "use strict";
  var tbody = document.getElementById("rows");
  if (!tbody) { return; }
  var search = document.getElementById("search");
  var game = document.getElementById("game");
  var problems = document.getElementById("problems");
  var count = document.getElementById("count");
  var rows = [];
  var sortCol = 0;
  var sortDir = 1;

  function text(td, value) { td.textContent = value === null || value === undefined ? "" : String(value); }

  function row(r) {
    var tr = document.createElement("tr");
    for (var i = 0; i < 8; i++) {
      var td = document.createElement("td");
      if (i === 5) { text(td, r[5] ? "frozen" : ""); }
      else { text(td, r[i]); }
      if (i >= 2 && i <= 4) { td.className = "when"; }
      if (i === 6 && r[6]) { td.className = "error-message"; }
      if (i === 7 && r[7]) { td.className = "warnings"; }
      tr.appendChild(td);
    }
    var links = document.createElement("td");
    var res = r[8] || {};
    Object.keys(res).sort().forEach(function (key) {
      var url = res[key];
      // Only web links: a `javascript:` resource must not become a link.
      if (typeof url !== "string" || !/^https?:\/\//i.test(url)) { return; }
      var a = document.createElement("a");
      a.href = url;
      a.rel = "nofollow noopener";
      a.textContent = key;
      links.appendChild(a);
      links.appendChild(document.createTextNode(" "));
    });
    tr.appendChild(links);
    return tr;
  }

  function compare(a, b) {
    var x = a[sortCol], y = b[sortCol];
    var ex = x === null || x === "" || x === false, ey = y === null || y === "" || y === false;
    if (ex !== ey) { return ex ? 1 : -1; } // empty cells last, whichever the direction
    if (ex) { return 0; }
    if (sortCol === 0) { x = String(x).toLowerCase(); y = String(y).toLowerCase(); }
    return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
  }

  function render() {
    var q = search.value.trim().toLowerCase();
    var g = game.value;
    var onlyProblems = problems.checked;
    var shown = rows.filter(function (r) {
      if (g && r[1] !== g) { return false; }
      if (onlyProblems && !r[6] && !r[7]) { return false; }
      if (!q) { return true; }
      return r[0].toLowerCase().indexOf(q) >= 0 ||
        (r[6] || "").toLowerCase().indexOf(q) >= 0 ||
        (r[7] || "").toLowerCase().indexOf(q) >= 0;
    });
    shown.sort(compare);
    var frag = document.createDocumentFragment();
    shown.forEach(function (r) { frag.appendChild(row(r)); });
    tbody.replaceChildren(frag);
    count.textContent = shown.length + " of " + rows.length + " mods";
    Array.prototype.forEach.call(document.querySelectorAll("#status th[data-col]"), function (th) {
      th.className = Number(th.dataset.col) === sortCol ? (sortDir > 0 ? "sorted-asc" : "sorted-desc") : "";
    });
  }

  var timer = null;
  function later() { window.clearTimeout(timer); timer = window.setTimeout(render, 80); }
  search.addEventListener("input", later);
  game.addEventListener("change", render);
  problems.addEventListener("change", render);
  Array.prototype.forEach.call(document.querySelectorAll("#status th[data-col]"), function (th) {
    th.addEventListener("click", function () {
      var col = Number(th.dataset.col);
      if (col === sortCol) { sortDir = -sortDir; } else { sortCol = col; sortDir = col >= 2 && col <= 4 ? -1 : 1; }
      render();
    });
  });
  fetch("/status/rows.json", { headers: { "Accept": "application/json" } })
    .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
    .then(function (data) { rows = data.rows; render(); })
    .catch(function (e) { count.textContent = "could not load the status: " + e.message; });
})();
