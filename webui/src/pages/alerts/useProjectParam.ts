/**
 * Links in alert notices carry `?project=<id>` (alerting/notices.py chart_url): select that project
 * when it is one of the user's, then drop the parameter. True while the switch is under way.
 */
import { useEffect } from "react";
import { useSearchParams } from "react-router";
import { useProjects } from "../../lib/project";

export function useProjectParam(): boolean {
  const [params, setParams] = useSearchParams();
  const wanted = params.get("project");
  const { project, projects, select } = useProjects();
  const known = wanted !== null && projects.some((p) => p.id === wanted);
  const switching = known && project?.id !== wanted;
  useEffect(() => {
    if (!known || !wanted) return;
    if (switching) select(wanted);
    // Once selected, drop the parameter: switching projects later must not be undone by it.
    else setParams((current) => {
      const next = new URLSearchParams(current);
      next.delete("project");
      return next;
    }, { replace: true });
  }, [known, switching, wanted, select, setParams]);
  return switching;
}
