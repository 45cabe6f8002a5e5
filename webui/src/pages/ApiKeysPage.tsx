/** The project's write keys: create (the secret is shown once), rotate with a grace period, revoke. */
import { useState, type FormEvent } from "react";
import { gql, useMutation, useQuery } from "urql";
import { CopyButton } from "../components/CopyButton";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { errorMessage } from "../lib/errors";
import { useProject } from "../lib/project";
import { formatDateTime, formatRelative } from "../lib/time";

interface ApiKey {
  id: string;
  prefix: string;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

const KEY_FIELDS = "id prefix label createdAt lastUsedAt expiresAt revokedAt";

const API_KEYS = gql`
  query ApiKeys($projectId: ID!) { apiKeys(projectId: $projectId) { ${KEY_FIELDS} } }
`;
const CREATE = gql`
  mutation CreateApiKey($projectId: ID!, $label: String!) {
    createApiKey(projectId: $projectId, label: $label) { key apiKey { ${KEY_FIELDS} } }
  }
`;
const ROTATE = gql`
  mutation RotateApiKey($id: ID!, $graceSeconds: Int!) {
    rotateApiKey(id: $id, graceSeconds: $graceSeconds) { key apiKey { ${KEY_FIELDS} } }
  }
`;
const REVOKE = gql`mutation RevokeApiKey($id: ID!) { revokeApiKey(id: $id) }`;

const GRACE_PERIODS = [
  { seconds: 0, label: "immediately" },
  { seconds: 600, label: "after 10 minutes" },
  { seconds: 3600, label: "after 1 hour" },
  { seconds: 86_400, label: "after 1 day" },
  { seconds: 604_800, label: "after 7 days" },
];

interface Secret {
  key: string;
  label: string;
  rotated: boolean;
}

function status(key: ApiKey, now: Date): { label: string; tone: "ok" | "warn" | "off" } {
  if (key.revokedAt) return { label: "Revoked", tone: "off" };
  if (key.expiresAt) {
    return new Date(key.expiresAt) <= now
      ? { label: "Expired", tone: "off" }
      : { label: `Expires ${formatRelative(key.expiresAt, now)}`, tone: "warn" };
  }
  return { label: "Active", tone: "ok" };
}

function SecretCallout({ secret, onDone }: { secret: Secret; onDone: () => void }) {
  return (
    <div className="card callout" role="status" data-testid="new-key">
      <div className="callout-title">
        {secret.rotated ? "New secret" : "New write key"} for “{secret.label}”: copy it now
      </div>
      <p className="muted">This is the only time the secret is shown. Store it in your backend's configuration.</p>
      <div className="secret-row">
        <code className="secret" data-testid="new-key-secret">{secret.key}</code>
        <CopyButton text={secret.key} />
      </div>
      <button type="button" className="button button-ghost button-small" onClick={onDone}>I have stored it</button>
    </div>
  );
}

function KeyRow({ apiKey, timezone, onSecret, onChanged }: {
  apiKey: ApiKey;
  timezone: string;
  onSecret: (secret: Secret) => void;
  onChanged: () => void;
}) {
  const [rotating, setRotating] = useState(false);
  const [grace, setGrace] = useState(3600);
  const [rotateResult, rotate] = useMutation<{ rotateApiKey: { key: string; apiKey: ApiKey } }>(ROTATE);
  const [revokeResult, revoke] = useMutation(REVOKE);
  const now = new Date();
  const state = status(apiKey, now);
  const active = state.tone !== "off";
  const error = rotateResult.error ?? revokeResult.error;

  const doRotate = async () => {
    const result = await rotate({ id: apiKey.id, graceSeconds: grace });
    if (result.data) {
      setRotating(false);
      onSecret({ key: result.data.rotateApiKey.key, label: apiKey.label, rotated: true });
    }
  };
  const doRevoke = async () => {
    if (window.confirm(`Revoke “${apiKey.label}” (${apiKey.prefix}…)? Events sent with it are refused within seconds.`)) {
      const result = await revoke({ id: apiKey.id });
      if (!result.error) onChanged();
    }
  };

  return (
    <tr data-key-id={apiKey.id} className={active ? "" : "row-muted"}>
      <td><strong>{apiKey.label}</strong><div className="mono muted">{apiKey.prefix}…</div></td>
      <td><span className={`badge badge-${state.tone}`}>{state.label}</span></td>
      <td title={formatDateTime(apiKey.createdAt, timezone)}>{formatRelative(apiKey.createdAt, now)}</td>
      <td title={apiKey.lastUsedAt ? formatDateTime(apiKey.lastUsedAt, timezone) : undefined}>
        {apiKey.lastUsedAt ? formatRelative(apiKey.lastUsedAt, now) : <span className="muted">never</span>}
      </td>
      <td className="actions">
        {error ? <span className="inline-error" role="alert">{errorMessage(error)}</span> : null}
        {active && !rotating ? (
          <>
            <button type="button" className="button button-small" onClick={() => setRotating(true)}>Rotate</button>
            <button type="button" className="button button-small button-danger" onClick={doRevoke}
              disabled={revokeResult.fetching}>Revoke</button>
          </>
        ) : null}
        {rotating ? (
          <span className="rotate">
            <label>
              Old secret stops{" "}
              <select value={grace} onChange={(e) => setGrace(Number(e.target.value))} aria-label="Grace period">
                {GRACE_PERIODS.map((g) => <option key={g.seconds} value={g.seconds}>{g.label}</option>)}
              </select>
            </label>
            <button type="button" className="button button-small button-primary" onClick={doRotate}
              disabled={rotateResult.fetching}>Rotate now</button>
            <button type="button" className="button button-small button-ghost" onClick={() => setRotating(false)}>Cancel</button>
          </span>
        ) : null}
      </td>
    </tr>
  );
}

export default function ApiKeysPage() {
  const project = useProject();
  const [result, reexecute] = useQuery<{ apiKeys: ApiKey[] }>({ query: API_KEYS, variables: { projectId: project.id } });
  const [createResult, create] = useMutation<{ createApiKey: { key: string; apiKey: ApiKey } }>(CREATE);
  const [label, setLabel] = useState("");
  const [secret, setSecret] = useState<Secret | null>(null);
  const reload = () => reexecute({ requestPolicy: "network-only" });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const created = await create({ projectId: project.id, label: label.trim() });
    if (created.data) {
      setLabel("");
      setSecret({ key: created.data.createApiKey.key, label: created.data.createApiKey.apiKey.label, rotated: false });
      reload();
    }
  };
  const onSecret = (next: Secret) => {
    setSecret(next);
    reload();
  };
  const keys = result.data?.apiKeys ?? [];

  return (
    <div className="page">
      <PageHeader title="API keys"
        description={<>Write keys let your backends send events to <strong>{project.name}</strong> with the SDK.</>} />
      {secret ? <SecretCallout secret={secret} onDone={() => setSecret(null)} /> : null}
      <form className="card form form-inline-card" onSubmit={submit} aria-label="Create API key">
        <div className="form-row">
          <label className="field grow">
            <span className="field-label">Label</span>
            <input className="input" name="label" required value={label} onChange={(e) => setLabel(e.target.value)}
              placeholder="backend, staging, …" maxLength={200} />
          </label>
          <button type="submit" className="button button-primary" disabled={createResult.fetching || !label.trim()}>
            {createResult.fetching ? "Creating…" : "Create key"}
          </button>
        </div>
        {createResult.error ? <div className="alert alert-error" role="alert">{errorMessage(createResult.error)}</div> : null}
      </form>
      {result.fetching && !result.data ? <LoadingState /> : null}
      {result.error ? <ErrorState error={result.error} onRetry={reload} /> : null}
      {result.data && keys.length === 0 ? (
        <EmptyState title="No keys yet">Create a key above, then send events with it from your backend.</EmptyState>
      ) : null}
      {keys.length > 0 ? (
        <div className="card table-card">
          <table className="table" aria-label="API keys">
            <thead>
              <tr><th>Key</th><th>Status</th><th>Created</th><th>Last used</th><th /></tr>
            </thead>
            <tbody>
              {keys.map((key) => <KeyRow key={key.id} apiKey={key} timezone={project.timezone} onSecret={onSecret} onChanged={reload} />)}
            </tbody>
          </table>
        </div>
      ) : null}
      <details className="card help">
        <summary>Send events with the Python SDK</summary>
        <pre className="code">{`from trackmint_sdk import Client

client = Client("<write key>", "localhost:50051")
client.track("Signed Up", user_id="user-42", properties={"plan": "pro"})
client.close()`}</pre>
      </details>
    </div>
  );
}
