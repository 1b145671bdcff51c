// The table view: rows (of an SQL answer or a dataset) as an HTML table that screen readers and
// keyboards can use. Rows are focusable; Enter or a click calls back with the row's index.

/** At most this many rows are put in the page; the caption says when more were cut. */
export const MAX_ROWS = 500;

function text(value) {
  if (value === null || value === undefined) return "—";
  // Geometries (GeoJSON objects in json answers) are named by type, not dumped.
  if (typeof value === "object") return value.type ? `${value.type} geometry` : JSON.stringify(value);
  return String(value);
}

/**
 * Fills `#rows`: `rows` are objects; `columns` their keys in order; `onActivate(i)` (optional) runs when
 * row i is activated.
 */
export function showRows(app, { caption, columns, rows, onActivate }) {
  const { $ } = app;
  const table = $("rows");
  const shown = rows.slice(0, MAX_ROWS);
  table.caption.textContent =
    rows.length > shown.length ? `${caption}: first ${shown.length} of ${rows.length} rows` : `${caption}: ${rows.length} row(s)`;
  const head = table.tHead;
  head.replaceChildren();
  const hr = head.insertRow();
  for (const c of columns) hr.append(Object.assign(document.createElement("th"), { scope: "col", textContent: c }));
  const body = table.tBodies[0];
  body.replaceChildren();
  shown.forEach((row, i) => {
    const tr = body.insertRow();
    for (const c of columns) tr.insertCell().textContent = text(row[c]);
    if (onActivate) {
      tr.tabIndex = 0;
      tr.addEventListener("click", () => onActivate(i));
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          onActivate(i);
        }
      });
    }
  });
  $("table-hint").hidden = true;
}
