/** CSV export and file downloads for charts and tables. */

export type Cell = string | number | boolean | null | undefined;

export interface Table {
  header: string[];
  rows: Cell[][];
}

function escape(cell: Cell): string {
  if (cell === null || cell === undefined) return "";
  const text = String(cell);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(table: Table): string {
  return [table.header, ...table.rows].map((row) => row.map(escape).join(",")).join("\r\n") + "\r\n";
}

export function download(filename: string, href: string): void {
  const link = document.createElement("a");
  link.href = href;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

export function downloadCsv(filename: string, table: Table): void {
  const url = URL.createObjectURL(new Blob([toCsv(table)], { type: "text/csv;charset=utf-8" }));
  download(filename, url);
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** "Events over time" -> "events-over-time". */
export function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "chart";
}
