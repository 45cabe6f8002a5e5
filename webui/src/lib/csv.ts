/**
 * What a chart shows, as rows (its accessible data table), and saving a file. The CSV files themselves
 * come from the server's exports (lib/exports.ts).
 */

export type Cell = string | number | boolean | null | undefined;

export interface Table {
  header: string[];
  rows: Cell[][];
}

export function download(filename: string, href: string): void {
  const link = document.createElement("a");
  link.href = href;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

/** "Events over time" -> "events-over-time". */
export function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "chart";
}
