/**
 * The CSV button of a chart or table: one click downloads the server's export of the query the card shows
 * (the same variables), saved under the server's file name; a refusal shows beside the button.
 */
import { useState } from "react";
import { downloadAnalyticsExport, type CsvExport } from "../lib/exports";

export function CsvButton({
  csv,
  disabled = false,
  title = "Download the data as CSV",
}: {
  /** The export and the variables of the card's query; null while there is no query to export. */
  csv: CsvExport | null;
  disabled?: boolean;
  title?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = () => {
    if (!csv) return;
    setBusy(true);
    setError(null);
    downloadAnalyticsExport(csv)
      .catch((failure: Error) => setError(failure.message))
      .finally(() => setBusy(false));
  };
  return (
    <>
      {error ? (
        <span className="inline-error csv-error" role="alert" data-testid="csv-error" title={error}>
          CSV failed: {error}
        </span>
      ) : null}
      <button type="button" className="button button-ghost button-small" onClick={run} title={title}
        disabled={disabled || busy || csv === null} aria-busy={busy || undefined}>
        CSV
      </button>
    </>
  );
}
