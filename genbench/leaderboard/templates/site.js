// Sorting by a metric (best first, in that metric's direction), per-seed rows, enlarged plots.
// Plain script, no dependencies: the page opens from disk.
"use strict";

function cellValue(body, key) {
  const cell = body.querySelector('tr.main td[data-key="' + CSS.escape(key) + '"]');
  const text = cell ? cell.dataset.value : "";
  return text === "" ? NaN : Number(text);
}

function sortBy(th) {
  const table = th.closest("table");
  const key = th.dataset.key;
  // First click: best first (descending when higher is better); another click reverses.
  const best = th.dataset.direction === "higher" ? "descending" : "ascending";
  const order = th.getAttribute("aria-sort") === best ? (best === "ascending" ? "descending" : "ascending") : best;
  table.querySelectorAll("th.metric").forEach((h) => h.setAttribute("aria-sort", "none"));
  th.setAttribute("aria-sort", order);
  const sign = order === "ascending" ? 1 : -1;
  const bodies = Array.from(table.tBodies);
  bodies.sort((a, b) => {
    const x = cellValue(a, key), y = cellValue(b, key);
    if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y); // missing values last, either way
    return sign * (x - y);
  });
  bodies.forEach((b) => table.appendChild(b));
}

document.querySelectorAll("th.metric button").forEach((b) => b.addEventListener("click", () => sortBy(b.closest("th"))));

document.querySelectorAll("button.toggle").forEach((b) => b.addEventListener("click", () => {
  const row = b.closest("tbody").querySelector("tr.seeds");
  row.hidden = !row.hidden;
  b.setAttribute("aria-expanded", String(!row.hidden));
  b.textContent = row.hidden ? "▸" : "▾";
}));

const dialog = document.getElementById("enlarged");
if (dialog) {
  // A thumbnail is a link to its full-size image (it works without script); here it opens in place.
  document.querySelectorAll("a.enlarge").forEach((a) => a.addEventListener("click", (event) => {
    event.preventDefault();
    const img = a.querySelector("img");
    dialog.querySelector("img").src = a.href;
    dialog.querySelector("img").alt = img.alt;
    dialog.showModal();
  }));
  dialog.addEventListener("click", () => dialog.close());
}
