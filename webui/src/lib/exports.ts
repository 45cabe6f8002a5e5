/**
 * Server-side CSV exports (`/export/…`, streamed by the query service) opened as a download. A link cannot
 * send the access token, so a one-minute download token, good for that one export of that one project, is
 * asked for first; the refresh token never goes in a URL.
 */
import { authStore } from "./auth";
import { download } from "./csv";

export type DownloadableExport = "events" | "persons";

export async function downloadExport(
  name: DownloadableExport, projectId: string, params: Record<string, string>,
): Promise<void> {
  if (authStore.accessTokenExpiring()) await authStore.refresh();
  const response = await fetch("/export/download-token", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${authStore.accessToken ?? ""}` },
    body: JSON.stringify({ projectId, export: name }),
  });
  const body = (await response.json().catch(() => ({}))) as { token?: string; message?: string };
  if (!response.ok || !body.token) throw new Error(body.message ?? `The server answered ${response.status}.`);
  // No file name: the server's Content-Disposition names the file.
  download("", `/export/${name}.csv?${new URLSearchParams({ projectId, ...params, token: body.token })}`);
}
