/** Renders a screen only for the roles it lists, and only once a project is selected if it needs one. */
import type { ReactNode } from "react";
import { Link } from "react-router";
import { useUser } from "../lib/auth";
import { useProjects } from "../lib/project";
import { canUse, type Screen } from "../routes";
import { EmptyState, ErrorState, LoadingState } from "./States";

export function ScreenGuard({ screen, children }: { screen: Screen; children: ReactNode }) {
  const user = useUser();
  const { project, fetching, error, reload } = useProjects();
  if (!canUse(screen, user.role)) {
    return (
      <EmptyState title="Not available for your role">
        {screen.label} needs one of these roles: {screen.roles.join(", ").toLowerCase()}. You are{" "}
        {user.role.toLowerCase()}.
      </EmptyState>
    );
  }
  if (screen.needsProject && !project) {
    if (fetching) return <LoadingState label="Loading projects…" />;
    if (error) return <ErrorState error={error} title="Could not load your projects" onRetry={reload} />;
    return (
      <EmptyState title="No project yet">
        Analytics live in projects. <Link to="/projects">Create your first project</Link> to get a write key and start
        sending events.
      </EmptyState>
    );
  }
  return <>{children}</>;
}
