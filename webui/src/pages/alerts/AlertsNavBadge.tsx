/**
 * The unread count beside "Alerts" in the navigation (unreadAlertCount of the selected project),
 * kept current by the alertFired subscription, which also shows a toast for each alert that fires
 * while the app is open. Marking notices read elsewhere (notifyAlertsChanged) reloads the count.
 */
import { useEffect, useRef, useState } from "react";
import { createPortal } from "react-dom";
import { Link } from "react-router";
import { useQuery, useSubscription } from "urql";
import { useProjects } from "../../lib/project";
import { ALERT_FIRED, notifyAlertsChanged, onAlertsChanged, UNREAD_COUNT, type AlertEvent } from "./api";

interface Toast {
  id: string;
  event: AlertEvent;
}

const TOAST_MS = 8000;

export function AlertsNavBadge() {
  const { project } = useProjects();
  if (!project) return null;
  return <UnreadBadge projectId={project.id} key={project.id} />;
}

function UnreadBadge({ projectId }: { projectId: string }) {
  const [result, reexecute] = useQuery<{ unreadAlertCount: number }>({
    query: UNREAD_COUNT,
    variables: { projectId },
    requestPolicy: "network-only",
  });
  const [toasts, setToasts] = useState<Toast[]>([]);
  const reload = useRef(reexecute);
  reload.current = reexecute;

  useEffect(() => onAlertsChanged(() => reload.current({ requestPolicy: "network-only" })), []);

  useSubscription<{ alertFired: AlertEvent } | null, Toast[]>(
    { query: ALERT_FIRED, variables: { projectId } },
    (previous, data) => {
      const event = data?.alertFired;
      if (event) {
        notifyAlertsChanged();
        if (event.kind !== "test") {
          setToasts((current) => [...current.filter((t) => t.id !== event.id), { id: event.id, event }].slice(-3));
          setTimeout(() => setToasts((current) => current.filter((t) => t.id !== event.id)), TOAST_MS);
        }
      }
      return previous ?? [];
    },
  );

  const count = result.data?.unreadAlertCount ?? 0;
  return (
    <>
      {count > 0 ? (
        <span className="badge badge-danger nav-badge" data-testid="alerts-unread" title={`${count} unread alert notices`}>
          {count > 99 ? "99+" : count}
        </span>
      ) : null}
      {toasts.length > 0
        ? createPortal(
            // Clicks stay in the toast (React bubbles them through the portal to the navigation link).
            <div className="alert-toasts" aria-live="assertive" onClick={(e) => e.stopPropagation()}>
              {toasts.map(({ id, event }) => (
                <div key={id} className={`alert-toast alert-toast-${event.kind}`} role="alert" data-testid="alert-toast">
                  <div className="alert-toast-title">
                    {event.kind === "fired" ? "Alert firing" : "Alert resolved"}: {event.ruleName}
                  </div>
                  <div className="alert-toast-body">{event.message}</div>
                  <div className="alert-toast-actions">
                    {event.ruleId ? <Link to={`/alerts/${event.ruleId}`}>Open rule</Link> : <Link to="/alerts">Open alerts</Link>}
                    <button type="button" className="button button-ghost button-small"
                      onClick={() => setToasts((current) => current.filter((t) => t.id !== id))}>
                      Dismiss
                    </button>
                  </div>
                </div>
              ))}
            </div>,
            document.body,
          )
        : null}
    </>
  );
}
