/**
 * Notification channels: email recipients, Slack incoming webhooks and generic signed webhooks,
 * of this project or of the whole organization. A webhook's signing secret is shown once, when the
 * channel is created or its secret rotated; "Send test" sends a sample notice and says what happened.
 * VIEWERs see the list only.
 */
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { gql, useMutation, useQuery } from "urql";
import { CopyButton } from "../components/CopyButton";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { useUser } from "../lib/auth";
import { errorMessage } from "../lib/errors";
import { useProject } from "../lib/project";
import { formatDateTime } from "../lib/time";
import { ALERT_CHANNELS, CHANNEL_FIELDS, notifyAlertsChanged, type AlertChannel, type ChannelKind } from "./alerts/api";

const CREATE = gql`
  mutation CreateAlertChannel($kind: AlertChannelKind!, $name: String!, $projectId: ID, $emails: [String!], $url: String) {
    createAlertChannel(kind: $kind, name: $name, projectId: $projectId, emails: $emails, url: $url) {
      webhookSecret channel { ${CHANNEL_FIELDS} }
    }
  }
`;
const UPDATE = gql`
  mutation UpdateAlertChannel($id: ID!, $name: String, $emails: [String!], $url: String, $rotateSecret: Boolean!) {
    updateAlertChannel(id: $id, name: $name, emails: $emails, url: $url, rotateSecret: $rotateSecret) {
      webhookSecret channel { ${CHANNEL_FIELDS} }
    }
  }
`;
const DELETE = gql`mutation DeleteAlertChannel($id: ID!) { deleteAlertChannel(id: $id) }`;
const TEST = gql`mutation TestAlertChannel($id: ID!, $projectId: ID!) { testChannel(id: $id, projectId: $projectId) { ok error } }`;

interface Saved {
  webhookSecret: string | null;
  channel: AlertChannel;
}

const KINDS: { id: ChannelKind; label: string; target: string; placeholder: string }[] = [
  { id: "EMAIL", label: "Email", target: "Recipients", placeholder: "oncall@example.com, lead@example.com" },
  { id: "SLACK", label: "Slack", target: "Incoming webhook URL", placeholder: "https://hooks.slack.com/services/…" },
  { id: "WEBHOOK", label: "Webhook", target: "URL", placeholder: "https://example.com/trackmint-alerts" },
];

function emailList(text: string): string[] {
  return text.split(/[,;\s]+/).map((e) => e.trim()).filter(Boolean);
}

function SecretCallout({ name, secret, onDone }: { name: string; secret: string; onDone: () => void }) {
  return (
    <div className="card callout" role="status" data-testid="webhook-secret-callout">
      <div className="callout-title">Signing secret of “{name}”: copy it now</div>
      <p className="muted">
        Shown only this once. Verify <code>X-TrackMint-Signature: t=&lt;unix&gt;,v1=&lt;hex&gt;</code> where hex is
        HMAC-SHA256(secret, "&lt;t&gt;.&lt;body&gt;").
      </p>
      <div className="secret-row">
        <code className="secret" data-testid="webhook-secret">{secret}</code>
        <CopyButton text={secret} />
      </div>
      <button type="button" className="button button-ghost button-small" onClick={onDone}>I have stored it</button>
    </div>
  );
}

function CreateForm({ projectId, onSaved }: { projectId: string; onSaved: (saved: Saved) => void }) {
  const [kind, setKind] = useState<ChannelKind>("WEBHOOK");
  const [name, setName] = useState("");
  const [target, setTarget] = useState("");
  const [scope, setScope] = useState<"project" | "organization">("project");
  const [result, create] = useMutation<{ createAlertChannel: Saved }>(CREATE);
  const meta = KINDS.find((k) => k.id === kind)!;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const done = await create({
      kind, name: name.trim(), projectId: scope === "project" ? projectId : null,
      emails: kind === "EMAIL" ? emailList(target) : null, url: kind === "EMAIL" ? null : target.trim(),
    });
    if (done.data) {
      setName("");
      setTarget("");
      onSaved(done.data.createAlertChannel);
    }
  };
  return (
    <form className="card form form-inline-card" onSubmit={submit} aria-label="Create channel">
      <div className="form-row">
        <label className="field">
          <span className="field-label">Kind</span>
          <select aria-label="Kind" value={kind} onChange={(e) => setKind(e.target.value as ChannelKind)}>
            {KINDS.map((k) => <option key={k.id} value={k.id}>{k.label}</option>)}
          </select>
        </label>
        <label className="field">
          <span className="field-label">Name</span>
          <input className="input" aria-label="Name" required maxLength={200} value={name} placeholder="On call"
            onChange={(e) => setName(e.target.value)} />
        </label>
        <label className="field grow">
          <span className="field-label">{meta.target}</span>
          <input className="input" aria-label={meta.target} required value={target} placeholder={meta.placeholder}
            type={kind === "EMAIL" ? "text" : "url"} onChange={(e) => setTarget(e.target.value)} />
        </label>
        <label className="field">
          <span className="field-label">Used by</span>
          <select aria-label="Used by" value={scope} onChange={(e) => setScope(e.target.value as "project" | "organization")}>
            <option value="project">This project</option>
            <option value="organization">Every project</option>
          </select>
        </label>
        <button type="submit" className="button button-primary" disabled={result.fetching || !name.trim() || !target.trim()}>
          {result.fetching ? "Adding…" : "Add channel"}
        </button>
      </div>
      {result.error ? <div className="alert alert-error" role="alert">{errorMessage(result.error)}</div> : null}
    </form>
  );
}

function ChannelRow({ channel, projectId, timezone, canManage, onSecret, onChanged }: {
  channel: AlertChannel;
  projectId: string;
  timezone: string;
  canManage: boolean;
  onSecret: (saved: Saved) => void;
  onChanged: () => void;
}) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(channel.name);
  const [target, setTarget] = useState("");
  const [testResult, test] = useMutation<{ testChannel: { ok: boolean; error: string | null } }>(TEST);
  const [updateResult, update] = useMutation<{ updateAlertChannel: Saved }>(UPDATE);
  const [deleteResult, remove] = useMutation(DELETE);
  const outcome = testResult.data?.testChannel;
  const error = testResult.error ?? updateResult.error ?? deleteResult.error;

  const sendTest = async () => {
    await test({ id: channel.id, projectId });
    notifyAlertsChanged(); // a test is also an in-app notice
  };
  const save = async (event: FormEvent) => {
    event.preventDefault();
    const changed = target.trim();
    const done = await update({
      id: channel.id, name: name.trim(), rotateSecret: false,
      emails: channel.kind === "EMAIL" && changed ? emailList(changed) : null,
      url: channel.kind !== "EMAIL" && changed ? changed : null,
    });
    if (done.data) {
      setEditing(false);
      setTarget("");
      onChanged();
    }
  };
  const rotate = async () => {
    if (!window.confirm(`Give “${channel.name}” a new signing secret? The old one stops working at once.`)) return;
    const done = await update({ id: channel.id, rotateSecret: true });
    if (done.data) onSecret(done.data.updateAlertChannel);
  };
  const doDelete = async () => {
    if (!window.confirm(`Delete “${channel.name}”? Rules stop notifying it.`)) return;
    const done = await remove({ id: channel.id });
    if (!done.error) onChanged();
  };

  return (
    <tr data-channel-id={channel.id}>
      <td>
        {editing ? (
          <input className="input" aria-label={`Name of ${channel.name}`} value={name} onChange={(e) => setName(e.target.value)} />
        ) : <strong>{channel.name}</strong>}
      </td>
      <td><span className="badge badge-off">{channel.kind.toLowerCase()}</span></td>
      <td className="alerts-target" title={channel.kind === "EMAIL" ? channel.emails.join(", ") : channel.url ?? undefined}>
        {editing ? (
          <input className="input" aria-label={`New ${channel.kind === "EMAIL" ? "recipients" : "URL"} of ${channel.name}`}
            value={target} onChange={(e) => setTarget(e.target.value)}
            placeholder={channel.kind === "EMAIL" ? channel.emails.join(", ") : "unchanged (type a new URL to replace it)"} />
        ) : channel.kind === "EMAIL" ? channel.emails.join(", ") : <span className="mono">{channel.url}</span>}
      </td>
      <td className="nowrap">{channel.projectId ? "This project" : "Every project"}</td>
      <td className="nowrap">{formatDateTime(channel.createdAt, timezone)}</td>
      <td className="actions">
        {outcome ? (
          outcome.ok
            ? <span className="badge badge-ok" role="status" data-testid="test-result">Test delivered</span>
            : <span className="inline-error" role="alert" data-testid="test-result">Test failed: {outcome.error}</span>
        ) : null}
        {error ? <span className="inline-error" role="alert">{errorMessage(error)}</span> : null}
        {canManage && !editing ? (
          <>
            <button type="button" className="button button-small" onClick={() => void sendTest()} disabled={testResult.fetching}>
              {testResult.fetching ? "Sending…" : "Send test"}
            </button>
            <button type="button" className="button button-small button-ghost" onClick={() => setEditing(true)}>Edit</button>
            {channel.kind === "WEBHOOK" ? (
              <button type="button" className="button button-small button-ghost" onClick={() => void rotate()}>Rotate secret</button>
            ) : null}
            <button type="button" className="button button-small button-danger" onClick={() => void doDelete()}
              disabled={deleteResult.fetching}>Delete</button>
          </>
        ) : null}
        {editing ? (
          <form className="alerts-inline" onSubmit={save} aria-label={`Edit ${channel.name}`}>
            <button type="submit" className="button button-small button-primary" disabled={updateResult.fetching || !name.trim()}>Save</button>
            <button type="button" className="button button-small button-ghost" onClick={() => {
              setEditing(false);
              setName(channel.name);
              setTarget("");
            }}>Cancel</button>
          </form>
        ) : null}
      </td>
    </tr>
  );
}

export default function AlertChannelsPage() {
  const project = useProject();
  const user = useUser();
  const canManage = user.role !== "VIEWER";
  const [result, reexecute] = useQuery<{ alertChannels: AlertChannel[] }>({
    query: ALERT_CHANNELS, variables: { projectId: project.id },
  });
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const reload = () => reexecute({ requestPolicy: "network-only" });
  const onSaved = (saved: Saved) => {
    if (saved.webhookSecret) setSecret({ name: saved.channel.name, secret: saved.webhookSecret });
    reload();
  };
  const channels = result.data?.alertChannels ?? [];

  return (
    <div className="page">
      <PageHeader title="Notification channels"
        description={<>Where alerts of {project.name} go besides the in-app feed: email, Slack and signed webhooks.</>}
        actions={<Link to="/alerts" className="button">All alerts</Link>} />
      {secret ? <SecretCallout name={secret.name} secret={secret.secret} onDone={() => setSecret(null)} /> : null}
      {canManage ? <CreateForm projectId={project.id} onSaved={onSaved} /> : null}
      {result.fetching && !result.data ? <LoadingState /> : null}
      {result.error ? <ErrorState error={result.error} onRetry={reload} /> : null}
      {result.data && channels.length === 0 ? (
        <EmptyState title="No channels yet">
          {canManage ? "Add one above; rules then pick which channels they notify." : "An admin or developer can add channels."}
        </EmptyState>
      ) : null}
      {channels.length > 0 ? (
        <div className="card table-card">
          <table className="table" aria-label="Channels">
            <thead><tr><th>Name</th><th>Kind</th><th>Target</th><th>Used by</th><th>Created</th><th /></tr></thead>
            <tbody>
              {channels.map((channel) => (
                <ChannelRow key={channel.id} channel={channel} projectId={project.id} timezone={project.timezone}
                  canManage={canManage} onSecret={onSaved} onChanged={reload} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
