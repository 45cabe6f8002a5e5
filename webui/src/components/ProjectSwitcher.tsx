/** The organization's name and a project selector, at the top of the sidebar. */
import { Link } from "react-router";
import { useProjects } from "../lib/project";

export function ProjectSwitcher() {
  const { organization, projects, project, select, fetching } = useProjects();
  return (
    <div className="switcher">
      <div className="switcher-org" title="Organization">{organization.name}</div>
      {projects.length > 0 ? (
        <select className="switcher-select" aria-label="Project" value={project?.id ?? ""}
          onChange={(event) => select(event.target.value)}>
          {projects.map((p) => (
            <option key={p.id} value={p.id}>{p.name}</option>
          ))}
        </select>
      ) : (
        <Link to="/projects" className="switcher-empty">{fetching ? "Loading projects…" : "Create a project"}</Link>
      )}
    </div>
  );
}
