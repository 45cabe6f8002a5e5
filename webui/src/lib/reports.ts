/**
 * PDF reports (`POST /export/report.pdf`, query/reports/): the report's JSON is posted with the access token
 * and the answer saved under the server's file name. The JSON is the same a report schedule stores, plus the
 * project and the date range.
 */
import { authStore } from "./auth";
import { download } from "./csv";
import { ApiError, type ErrorCode } from "./errors";

export type ReportKind = "OVERVIEW" | "INSIGHTS";

/** One insight of an INSIGHTS report; its fields are the GraphQL query's arguments of the same name. */
export type ReportItem =
  | { type: "TRENDS"; title?: string; series: { event: string | null; math: string }[] }
  | { type: "FUNNEL"; title?: string; steps: { event: string }[] }
  | { type: "RETENTION"; title?: string; startEvent: string; returnEvent: string; period: string; periods: number }
  | { type: "SESSIONS"; title?: string; breakdown: string | null };

export interface ReportContent {
  title: string;
  kind: ReportKind;
  items?: ReportItem[];
}

async function post(body: unknown): Promise<Response> {
  if (authStore.accessTokenExpiring()) await authStore.refresh();
  try {
    return await fetch("/export/report.pdf", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${authStore.accessToken ?? ""}` },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError("Cannot reach the TrackMint server. Check your connection and try again.", "NETWORK");
  }
}

/** Build the report on the server and save the PDF; rejects with the server's refusal (an ApiError). */
export async function downloadReport(
  projectId: string, dateRange: { from: string; to: string }, content: ReportContent,
): Promise<void> {
  const body = { projectId, dateRange, ...content };
  let response = await post(body);
  // The token may have expired since it was judged fresh (a sleeping laptop): refresh once and retry.
  if (response.status === 401 && (await authStore.refresh())) response = await post(body);
  if (!response.ok) {
    const refusal = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
    throw new ApiError(refusal.message ?? `The server answered ${response.status}.`,
      (refusal.code as ErrorCode | undefined) ?? "INTERNAL");
  }
  const match = /filename="?([^";]+)"?/i.exec(response.headers.get("content-disposition") ?? "");
  const url = URL.createObjectURL(await response.blob());
  download(match?.[1] ?? "report.pdf", url);
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
