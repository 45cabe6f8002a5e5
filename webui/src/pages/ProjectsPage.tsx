/** The organization's projects: pick the one the screens show, create a new one with its timezone. */
import { useMemo, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { gql, useMutation } from "urql";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { useUser } from "../lib/auth";
import { errorMessage } from "../lib/errors";
import { PROJECT_FIELDS, useProjects, type Project } from "../lib/project";
import { formatDate } from "../lib/time";
import { MANAGERS } from "../routes";

const CREATE_PROJECT = gql`
  mutation CreateProject($name: String!, $timezone: String!) {
    createProject(name: $name, timezone: $timezone) { ${PROJECT_FIELDS} }
  }
`;

function browserTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function timezones(): string[] {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

function CreateProjectForm({ onCreated }: { onCreated: (project: Project) => void }) {
  const [name, setName] = useState("");
  const [timezone, setTimezone] = useState(browserTimezone);
  const [result, create] = useMutation<{ createProject: Project }>(CREATE_PROJECT);
  const zones = useMemo(timezones, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const created = await create({ name: name.trim(), timezone });
    if (created.data) {
      setName("");
      onCreated(created.data.createProject);
    }
  };

  return (
    <form className="card form form-inline-card" onSubmit={submit} aria-label="Create project">
      <h2 className="card-title">New project</h2>
      <p className="muted">A project holds one product's events. Its timezone decides where days and hours begin in every chart.</p>
      {result.error ? <div className="alert alert-error" role="alert">{errorMessage(result.error)}</div> : null}
      <div className="form-row">
        <label className="field grow">
          <span className="field-label">Name</span>
          <input className="input" name="projectName" required value={name} onChange={(e) => setName(e.target.value)}
            placeholder="My SaaS" maxLength={200} />
        </label>
        <label className="field">
          <span className="field-label">Timezone</span>
          <select className="input" name="timezone" aria-label="Timezone" value={timezone} onChange={(e) => setTimezone(e.target.value)}>
            {zones.map((zone) => <option key={zone} value={zone}>{zone}</option>)}
          </select>
        </label>
        <button type="submit" className="button button-primary" disabled={result.fetching || !name.trim()}>
          {result.fetching ? "Creating…" : "Create project"}
        </button>
      </div>
    </form>
  );
}

export default function ProjectsPage() {
  const user = useUser();
  const { organization, projects, project, select, reload, fetching, error } = useProjects();
  const [created, setCreated] = useState<Project | null>(null);
  const canCreate = MANAGERS.includes(user.role);

  const onCreated = (newProject: Project) => {
    select(newProject.id);
    setCreated(newProject);
    reload();
  };

  return (
    <div className="page">
      <PageHeader title="Projects" description={`The projects of ${organization.name}. The selected one is shown on every screen.`} />
      {created ? (
        <div className="alert alert-success" role="status">
          Project <strong>{created.name}</strong> created and selected.{" "}
          <Link to="/api-keys">Create a write key</Link> to start sending events, or{" "}
          <Link to="/overview">open its overview</Link>.
        </div>
      ) : null}
      {canCreate ? <CreateProjectForm onCreated={onCreated} /> : null}
      {fetching ? <LoadingState /> : null}
      {error ? <ErrorState error={error} onRetry={reload} /> : null}
      {!fetching && !error && projects.length === 0 ? (
        <EmptyState title="No projects yet">
          {canCreate ? "Create one above." : "Ask an admin or developer of your organization to create one."}
        </EmptyState>
      ) : null}
      {projects.length > 0 ? (
        <div className="card table-card">
          <table className="table" aria-label="Projects">
            <thead>
              <tr><th>Name</th><th>Timezone</th><th>Created</th><th /></tr>
            </thead>
            <tbody>
              {projects.map((p) => (
                <tr key={p.id} className={p.id === project?.id ? "selected" : ""}>
                  <td><strong>{p.name}</strong></td>
                  <td>{p.timezone}</td>
                  <td>{formatDate(p.createdAt, p.timezone)}</td>
                  <td className="actions">
                    {p.id === project?.id ? <span className="badge badge-accent">Selected</span> : (
                      <button type="button" className="button button-small" onClick={() => select(p.id)}>Select</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
