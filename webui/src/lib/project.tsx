/**
 * The organization (the signed-in user's own) and the project the screens show. The selection
 * survives reloads (localStorage, per organization); a project that disappeared falls back to the
 * first one.
 */
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { gql, useQuery, type CombinedError } from "urql";
import { useUser } from "./auth";

export interface Project {
  id: string;
  name: string;
  timezone: string;
  createdAt: string;
}

export const PROJECT_FIELDS = "id name timezone createdAt";

const PROJECTS = gql`
  query Projects {
    projects { ${PROJECT_FIELDS} }
  }
`;

export interface ProjectSelection {
  organization: { id: string; name: string };
  projects: Project[];
  /** The selected project, or null while loading or when the organization has none. */
  project: Project | null;
  fetching: boolean;
  error: CombinedError | undefined;
  select: (projectId: string) => void;
  /** Reload the list (after creating, renaming or deleting a project). */
  reload: () => void;
}

const ProjectContext = createContext<ProjectSelection | null>(null);

function storageKey(organizationId: string): string {
  return `trackmint.project.${organizationId}`;
}

export function ProjectProvider({ children }: { children: ReactNode }) {
  const user = useUser();
  const [result, reexecute] = useQuery<{ projects: Project[] }>({ query: PROJECTS });
  const [selectedId, setSelectedId] = useState<string | null>(() => {
    try {
      return localStorage.getItem(storageKey(user.organization.id));
    } catch {
      return null;
    }
  });
  const projects = useMemo(() => result.data?.projects ?? [], [result.data]);
  const project = projects.find((p) => p.id === selectedId) ?? projects[0] ?? null;

  const select = useCallback(
    (projectId: string) => {
      setSelectedId(projectId);
      try {
        localStorage.setItem(storageKey(user.organization.id), projectId);
      } catch {
        // The choice then lasts until reload.
      }
    },
    [user.organization.id],
  );
  const reload = useCallback(() => reexecute({ requestPolicy: "network-only" }), [reexecute]);

  const value: ProjectSelection = {
    organization: user.organization,
    projects,
    project,
    fetching: result.fetching && !result.data,
    error: result.error,
    select,
    reload,
  };
  return <ProjectContext.Provider value={value}>{children}</ProjectContext.Provider>;
}

export function useProjects(): ProjectSelection {
  const selection = useContext(ProjectContext);
  if (!selection) throw new Error("useProjects outside <ProjectProvider>");
  return selection;
}

/** The selected project; only inside screens the router renders with a project (see routes.tsx). */
export function useProject(): Project {
  const { project } = useProjects();
  if (!project) throw new Error("useProject without a selected project");
  return project;
}
