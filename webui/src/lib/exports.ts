/**
 * Server-side CSV exports (`/export/…`, run by the query service) saved as downloads.
 *
 * Analytics answers (`POST /export/<name>.csv`): a chart posts the variables of its own GraphQL query with
 * the access token, and the answer is saved under the server's file name. Streamed exports (events,
 * persons) are opened as a link instead, so the browser writes them as they arrive: a link cannot send the
 * access token, so a one-minute download token, good for that one export of that one project, is asked
 * for first; the refresh token never goes in a URL.
 */
import { authStore } from "./auth";
import { download } from "./csv";
import { ApiError, type ErrorCode } from "./errors";

export type DownloadableExport = "events" | "persons" | "person";

/** Each streamed export's file type: everything about one person is JSON Lines, the lists are CSV. */
const EXTENSION: Record<DownloadableExport, string> = { events: "csv", persons: "csv", person: "ndjson" };

/** The analytics exports of query/exports/analytics.py, by the name in their URL. */
export type AnalyticsExportName = "trends" | "funnel" | "retention" | "activeUsers" | "sessions" | "topValues" | "backtest";

/** What a chart's CSV button downloads: an analytics export and the variables of the chart's query. */
export interface CsvExport {
  name: AnalyticsExportName;
  variables: Record<string, unknown>;
}

/** A fresh enough access token, refreshed first if it is about to expire. */
async function accessToken(): Promise<string> {
  if (authStore.accessTokenExpiring()) await authStore.refresh();
  return authStore.accessToken ?? "";
}

/** The refusal of an export (`{"code", "message"}`) as an ApiError. */
async function refusal(response: Response): Promise<ApiError> {
  const body = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
  return new ApiError(body.message ?? `The server answered ${response.status}.`,
    (body.code as ErrorCode | undefined) ?? "INTERNAL");
}

/** The file name of a `Content-Disposition: attachment; filename="…"` header. */
export function attachmentName(header: string | null): string | null {
  const match = header ? /filename="?([^";]+)"?/i.exec(header) : null;
  return match?.[1] ?? null;
}

async function postExport(name: AnalyticsExportName, variables: Record<string, unknown>): Promise<Response> {
  try {
    return await fetch(`/export/${name}.csv`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await accessToken()}` },
      body: JSON.stringify(variables),
    });
  } catch {
    throw new ApiError("Cannot reach the TrackMint server. Check your connection and try again.", "NETWORK");
  }
}

/** Download the server's CSV of an analytics query; rejects with the server's refusal (an ApiError). */
export async function downloadAnalyticsExport({ name, variables }: CsvExport): Promise<void> {
  let response = await postExport(name, variables);
  // The token may have expired since it was judged fresh (a sleeping laptop): refresh once and retry.
  if (response.status === 401 && (await authStore.refresh())) response = await postExport(name, variables);
  if (!response.ok) throw await refusal(response);
  const url = URL.createObjectURL(await response.blob());
  download(attachmentName(response.headers.get("content-disposition")) ?? `${name}.csv`, url);
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function downloadExport(
  name: DownloadableExport, projectId: string, params: Record<string, string>,
): Promise<void> {
  const response = await fetch("/export/download-token", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await accessToken()}` },
    body: JSON.stringify({ projectId, export: name }),
  });
  const body = (await response.json().catch(() => ({}))) as { token?: string; message?: string };
  if (!response.ok || !body.token) throw new Error(body.message ?? `The server answered ${response.status}.`);
  // No file name: the server's Content-Disposition names the file.
  download("", `/export/${name}.${EXTENSION[name]}?${new URLSearchParams({ projectId, ...params, token: body.token })}`);
}
