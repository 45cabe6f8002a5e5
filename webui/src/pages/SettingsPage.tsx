/**
 * The selected project's settings (name, timezone, ingest rate limit; browser origins, autocapture,
 * IP storage), the browser snippet to paste, deleting the project, and the signed-in account.
 *
 * Changing settings and deleting the project need ADMIN or DEVELOPER (the server's
 * CanManageProjects); the screen itself is the `settings` section, which VIEWERs do not have.
 */
import { useMemo, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { gql, useMutation, useQuery } from "urql";
import { CopyButton } from "../components/CopyButton";
import { PageHeader } from "../components/PageHeader";
import { ErrorState, LoadingState } from "../components/States";
import { useAuth, useUser } from "../lib/auth";
import { errorMessage } from "../lib/errors";
import { PROJECT_FIELDS, useProject, useProjects } from "../lib/project";
import { formatDateTime } from "../lib/time";
import { MANAGERS } from "../routes";

interface Autocapture {
  pageviews: boolean;
  clicks: boolean;
  forms: boolean;
  formValues: boolean;
}

interface ProjectSettings {
  id: string;
  name: string;
  timezone: string;
  createdAt: string;
  rateLimitEventsPerSecond: number | null;
  allowedOrigins: string[];
  autocapture: Autocapture;
  storeIp: boolean;
}

const SETTINGS_FIELDS = `${PROJECT_FIELDS} rateLimitEventsPerSecond allowedOrigins
  autocapture { pageviews clicks forms formValues } storeIp`;

const PROJECT_SETTINGS = gql`query ProjectSettings { projects { ${SETTINGS_FIELDS} } }`;
const UPDATE_PROJECT = gql`
  mutation UpdateProject($id: ID!, $name: String, $timezone: String, $rateLimit: Int) {
    updateProject(id: $id, name: $name, timezone: $timezone, rateLimitEventsPerSecond: $rateLimit) { ${SETTINGS_FIELDS} }
  }
`;
const UPDATE_BROWSER = gql`
  mutation UpdateProjectSettings($projectId: ID!, $allowedOrigins: [String!], $autocapture: AutocaptureInput,
                                 $storeIp: Boolean) {
    updateProjectSettings(projectId: $projectId, allowedOrigins: $allowedOrigins, autocapture: $autocapture,
                          storeIp: $storeIp) { ${SETTINGS_FIELDS} }
  }
`;
const DELETE_PROJECT = gql`mutation DeleteProject($id: ID!) { deleteProject(id: $id) }`;

const AUTOCAPTURE_OPTIONS: { key: keyof Autocapture; label: string; hint: string }[] = [
  { key: "pageviews", label: "Page views", hint: "on load and on single-page-app navigation" },
  { key: "clicks", label: "Clicks", hint: "on links and buttons" },
  { key: "forms", label: "Form submits", hint: "a track event per submitted form" },
  { key: "formValues", label: "Form values", hint: "include submitted field values (never passwords)" },
];

function timezones(): string[] {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

function Saved({ show }: { show: boolean }) {
  return show ? <span className="settings-saved" role="status">Saved</span> : null;
}

function GeneralForm({ settings, editable }: { settings: ProjectSettings; editable: boolean }) {
  const { reload } = useProjects();
  const [name, setName] = useState(settings.name);
  const [timezone, setTimezone] = useState(settings.timezone);
  const [rateLimit, setRateLimit] = useState(settings.rateLimitEventsPerSecond?.toString() ?? "");
  const [saved, setSaved] = useState(false);
  const [result, update] = useMutation<{ updateProject: ProjectSettings }>(UPDATE_PROJECT);
  const zones = useMemo(timezones, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    const limit = rateLimit.trim();
    const updated = await update({
      id: settings.id, name: name.trim(), timezone: timezone.trim(),
      rateLimit: limit === "" ? null : Number(limit),
    });
    if (updated.data) {
      setSaved(true);
      reload(); // every screen reads the timezone from the project list
    }
  };

  return (
    <form className="card form form-inline-card" onSubmit={submit} aria-label="Project settings">
      <h2 className="card-title">Project</h2>
      <p className="muted">The timezone decides where days and hours begin in every chart of this project.</p>
      {result.error ? <div className="alert alert-error" role="alert">{errorMessage(result.error)}</div> : null}
      <fieldset className="settings-fieldset" disabled={!editable}>
        <div className="settings-grid">
          <label className="field">
            <span className="field-label">Name</span>
            <input className="input" name="projectName" required maxLength={200} value={name}
              onChange={(e) => setName(e.target.value)} />
          </label>
          <label className="field">
            <span className="field-label">Timezone</span>
            <input className="input" name="timezone" list="settings-timezones" required value={timezone}
              onChange={(e) => setTimezone(e.target.value)} spellCheck={false} autoComplete="off" />
            <span className="field-hint">An IANA name such as Europe/Berlin or America/New_York.</span>
            <datalist id="settings-timezones">
              {zones.map((zone) => <option key={zone} value={zone} />)}
            </datalist>
          </label>
          <label className="field">
            <span className="field-label">Ingest rate limit (events per second)</span>
            <input className="input" name="rateLimit" type="number" min={1} step={1} value={rateLimit}
              onChange={(e) => setRateLimit(e.target.value)} placeholder="ingest default" />
            <span className="field-hint">Per write key and ingest replica; empty for the server default.</span>
          </label>
        </div>
        <div className="settings-actions">
          <button type="submit" className="button button-primary" disabled={result.fetching}>
            {result.fetching ? "Saving…" : "Save project"}
          </button>
          <Saved show={saved && !result.error} />
        </div>
      </fieldset>
    </form>
  );
}

function BrowserForm({ settings, editable }: { settings: ProjectSettings; editable: boolean }) {
  const [origins, setOrigins] = useState(settings.allowedOrigins.join("\n"));
  const [autocapture, setAutocapture] = useState<Autocapture>(settings.autocapture);
  const [storeIp, setStoreIp] = useState(settings.storeIp);
  const [saved, setSaved] = useState(false);
  const [result, update] = useMutation<{ updateProjectSettings: ProjectSettings }>(UPDATE_BROWSER);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    const allowedOrigins = origins.split(/[\s,]+/).map((o) => o.trim()).filter(Boolean);
    // Only the input's fields: the cached result also carries urql's __typename.
    const { pageviews, clicks, forms, formValues } = autocapture;
    const updated = await update({
      projectId: settings.id, allowedOrigins, autocapture: { pageviews, clicks, forms, formValues }, storeIp,
    });
    if (updated.data) {
      setOrigins(updated.data.updateProjectSettings.allowedOrigins.join("\n"));
      setSaved(true);
    }
  };

  return (
    <form className="card form form-inline-card" onSubmit={submit} aria-label="Browser settings">
      <h2 className="card-title">Browser events</h2>
      <p className="muted">What the browser snippet captures and which sites may send events. Ingest applies changes
        within seconds.</p>
      {result.error ? <div className="alert alert-error" role="alert">{errorMessage(result.error)}</div> : null}
      <fieldset className="settings-fieldset" disabled={!editable}>
        <div className="settings-grid">
          <label className="field">
            <span className="field-label">Allowed origins</span>
            <textarea className="input settings-textarea" name="allowedOrigins" rows={4} value={origins}
              onChange={(e) => setOrigins(e.target.value)} spellCheck={false}
              placeholder={"https://shop.example\nhttps://*.example.com"} />
            <span className="field-hint">One per line. Empty accepts browser events from every site.</span>
          </label>
          <div className="field">
            <span className="field-label">Autocapture</span>
            {AUTOCAPTURE_OPTIONS.map((option) => (
              <label key={option.key} className="checkbox">
                <input type="checkbox" name={option.key} checked={autocapture[option.key]}
                  onChange={(e) => setAutocapture({ ...autocapture, [option.key]: e.target.checked })} />
                <span>{option.label} <span className="muted">— {option.hint}</span></span>
              </label>
            ))}
          </div>
          <div className="field">
            <span className="field-label">Privacy</span>
            <label className="checkbox">
              <input type="checkbox" name="storeIp" checked={storeIp} onChange={(e) => setStoreIp(e.target.checked)} />
              <span>Store IP addresses <span className="muted">— otherwise used for geo only</span></span>
            </label>
          </div>
        </div>
        <div className="settings-actions">
          <button type="submit" className="button button-primary" disabled={result.fetching}>
            {result.fetching ? "Saving…" : "Save browser settings"}
          </button>
          <Saved show={saved && !result.error} />
        </div>
      </fieldset>
    </form>
  );
}

function defaultApiHost(): string {
  return `${window.location.protocol}//${window.location.hostname}:8080`;
}

function Snippet({ canManageKeys }: { canManageKeys: boolean }) {
  const [apiHost, setApiHost] = useState(defaultApiHost);
  const [writeKey, setWriteKey] = useState("");
  const host = apiHost.trim().replace(/\/+$/, "") || defaultApiHost();
  const key = writeKey.trim() || "tm_live_…";
  const snippet = `<script>
  window.trackmint = window.trackmint || [];
  trackmint.push(["init", ${JSON.stringify(key)}, {apiHost: ${JSON.stringify(host)}}]);
</script>
<script async src="${host}/sdk/trackmint.js"></script>`;

  return (
    <section className="card form-inline-card form" aria-label="Browser snippet">
      <div className="settings-card-head">
        <h2 className="card-title">Browser snippet</h2>
        <CopyButton text={snippet} label="Copy snippet" />
      </div>
      <p className="muted">
        Paste this into every page, before <code>&lt;/head&gt;</code>. Then call{" "}
        <code>trackmint.track("Signed Up", {"{plan: \"pro\"}"})</code> or <code>trackmint.identify("ada")</code>.
      </p>
      <div className="settings-grid">
        <label className="field">
          <span className="field-label">Ingest address</span>
          <input className="input" name="apiHost" value={apiHost} onChange={(e) => setApiHost(e.target.value)}
            spellCheck={false} />
          <span className="field-hint">Where browsers reach the HTTP bridge (port 8080 by default).</span>
        </label>
        <label className="field">
          <span className="field-label">Write key</span>
          <input className="input mono" name="snippetKey" value={writeKey} onChange={(e) => setWriteKey(e.target.value)}
            placeholder="tm_live_…" spellCheck={false} autoComplete="off" />
          <span className="field-hint">
            Secrets are shown once{canManageKeys ? <>: <Link to="/api-keys">create a key</Link> for the site</> : ""}.
          </span>
        </label>
      </div>
      <pre className="code settings-snippet" data-testid="snippet">{snippet}</pre>
    </section>
  );
}

function DangerZone({ settings }: { settings: ProjectSettings }) {
  const { reload } = useProjects();
  const navigate = useNavigate();
  const [typed, setTyped] = useState("");
  const [result, remove] = useMutation<{ deleteProject: boolean }>(DELETE_PROJECT);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (typed !== settings.name) return;
    const deleted = await remove({ id: settings.id });
    if (!deleted.error) {
      reload();
      navigate("/projects");
    }
  };

  return (
    <form className="card form form-inline-card settings-danger" onSubmit={submit} aria-label="Delete project">
      <h2 className="card-title">Delete this project</h2>
      <p className="muted">
        Deletes <strong>{settings.name}</strong> with all its events, persons, sessions, schemas and write keys. This
        cannot be undone. Type the project's name to confirm.
      </p>
      {result.error ? <div className="alert alert-error" role="alert">{errorMessage(result.error)}</div> : null}
      <div className="form-row">
        <label className="field grow">
          <span className="field-label">Project name</span>
          <input className="input" name="confirmName" value={typed} onChange={(e) => setTyped(e.target.value)}
            placeholder={settings.name} autoComplete="off" />
        </label>
        <button type="submit" className="button button-danger-solid" disabled={typed !== settings.name || result.fetching}>
          {result.fetching ? "Deleting…" : "Delete project"}
        </button>
      </div>
    </form>
  );
}

function Account() {
  const user = useUser();
  const { logout } = useAuth();
  return (
    <section className="card form-inline-card form" aria-label="Your account">
      <h2 className="card-title">Your account</h2>
      <dl className="settings-account">
        <dt>Name</dt><dd>{user.name || <span className="muted">not set</span>}</dd>
        <dt>Email</dt><dd>{user.email}</dd>
        <dt>Role</dt><dd><span className="badge">{user.role.toLowerCase()}</span></dd>
        <dt>Organization</dt><dd>{user.organization.name}</dd>
      </dl>
      <p className="muted">An admin changes roles on the Members screen. Logging out ends this browser's session.</p>
      <div>
        <button type="button" className="button" onClick={() => void logout()}>Log out</button>
      </div>
    </section>
  );
}

export default function SettingsPage() {
  const user = useUser();
  const project = useProject();
  const [result, reexecute] = useQuery<{ projects: ProjectSettings[] }>({ query: PROJECT_SETTINGS });
  const settings = result.data?.projects.find((p) => p.id === project.id) ?? null;
  const editable = MANAGERS.includes(user.role);
  const reload = () => reexecute({ requestPolicy: "network-only" });

  return (
    <div className="page">
      <PageHeader title="Settings" description={<>Settings of <strong>{project.name}</strong>
        {settings ? <>, created {formatDateTime(settings.createdAt, settings.timezone)}</> : null}.</>} />
      {!editable ? (
        <div className="alert alert-info">Your role may read these settings but not change them.</div>
      ) : null}
      {result.fetching && !result.data ? <LoadingState /> : null}
      {result.error ? <ErrorState error={result.error} onRetry={reload} /> : null}
      {result.data && !settings ? <LoadingState label="Loading the project…" /> : null}
      {settings ? (
        // A project switch remounts the forms with the other project's values.
        <div className="settings-columns" key={project.id}>
          <div className="settings-column">
            <GeneralForm settings={settings} editable={editable} />
            <BrowserForm settings={settings} editable={editable} />
            {editable ? <DangerZone settings={settings} /> : null}
          </div>
          <div className="settings-column">
            <Snippet canManageKeys={editable} />
            <Account />
          </div>
        </div>
      ) : null}
    </div>
  );
}
