/**
 * Every screen of the app, in navigation order: its path, navigation label and group, the roles
 * that may use it and whether it needs a selected project. The navigation, the router and the
 * role guard are all built from this list, so a new screen is one page file in `pages/` and one
 * entry here.
 *
 * `section` is the server's name for the screen (`me.sections`, query/permissions.py); `roles`
 * must agree with it. Pages are lazy-loaded, so a screen's code (and ECharts) loads on first visit.
 */
import { lazy, type ComponentType, type LazyExoticComponent } from "react";
import type { IconName } from "./components/Icon";
import type { Role } from "./lib/auth";
import { AlertsNavBadge } from "./pages/alerts/AlertsNavBadge";

export const ALL_ROLES: readonly Role[] = ["ADMIN", "DEVELOPER", "VIEWER"];
export const MANAGERS: readonly Role[] = ["ADMIN", "DEVELOPER"];
export const ADMINS: readonly Role[] = ["ADMIN"];

export type NavGroup = "Analytics" | "Data" | "Organization";

export interface Screen {
  /** Absolute path; may end with "/*" for screens with routes of their own. */
  path: string;
  label: string;
  section: string;
  roles: readonly Role[];
  group: NavGroup;
  icon: IconName;
  /** The screen reads the selected project (most do); without one it shows "create a project". */
  needsProject: boolean;
  /** Listed in the navigation (false for detail screens reached by links, e.g. a person's journey). */
  nav?: boolean;
  /** Rendered after the navigation label, e.g. an unread count; keep it small (it loads with the shell). */
  badge?: ComponentType;
  component: LazyExoticComponent<ComponentType>;
}

export const SCREENS: Screen[] = [
  {
    path: "/overview", label: "Overview", section: "overview", roles: ALL_ROLES, group: "Analytics",
    icon: "overview", needsProject: true, component: lazy(() => import("./pages/OverviewPage")),
  },
  {
    path: "/insights", label: "Insights", section: "insights", roles: ALL_ROLES, group: "Analytics",
    icon: "chart", needsProject: true, component: lazy(() => import("./pages/InsightsPage")),
  },
  {
    path: "/funnels", label: "Funnels", section: "funnels", roles: ALL_ROLES, group: "Analytics",
    icon: "funnel", needsProject: true, component: lazy(() => import("./pages/FunnelsPage")),
  },
  {
    path: "/live", label: "Live events", section: "live", roles: ALL_ROLES, group: "Analytics",
    icon: "live", needsProject: true, component: lazy(() => import("./pages/LivePage")),
  },
  {
    path: "/retention", label: "Retention", section: "retention", roles: ALL_ROLES, group: "Analytics",
    icon: "grid", needsProject: true, component: lazy(() => import("./pages/RetentionPage")),
  },
  {
    path: "/sessions", label: "Sessions", section: "sessions", roles: ALL_ROLES, group: "Analytics",
    icon: "sessions", needsProject: true, component: lazy(() => import("./pages/SessionsPage")),
  },
  {
    path: "/persons", label: "Persons", section: "persons", roles: ALL_ROLES, group: "Analytics",
    icon: "persons", needsProject: true, component: lazy(() => import("./pages/PersonsPage")),
  },
  {
    // A person's journey, reached from the persons list (react-router fills useParams().id).
    path: "/persons/:id", label: "Person journey", section: "persons", roles: ALL_ROLES, group: "Analytics",
    icon: "persons", needsProject: true, nav: false, component: lazy(() => import("./pages/PersonPage")),
  },
  {
    path: "/alerts", label: "Alerts", section: "alerts", roles: ALL_ROLES, group: "Analytics",
    icon: "bell", needsProject: true, badge: AlertsNavBadge, component: lazy(() => import("./pages/AlertsPage")),
  },
  {
    path: "/alerts/channels", label: "Notification channels", section: "alerts", roles: ALL_ROLES, group: "Analytics",
    icon: "bell", needsProject: true, nav: false, component: lazy(() => import("./pages/AlertChannelsPage")),
  },
  {
    // "/alerts/new" creates a rule; "/alerts/<id>" edits one (links in notices add ?project=<id>).
    path: "/alerts/:id", label: "Alert rule", section: "alerts", roles: ALL_ROLES, group: "Analytics",
    icon: "bell", needsProject: true, nav: false, component: lazy(() => import("./pages/AlertRulePage")),
  },
  {
    path: "/reports", label: "Reports", section: "reports", roles: ALL_ROLES, group: "Analytics",
    icon: "events", needsProject: true, component: lazy(() => import("./pages/ReportsPage")),
  },
  {
    path: "/api-keys", label: "API keys", section: "api_keys", roles: MANAGERS, group: "Data",
    icon: "keys", needsProject: true, component: lazy(() => import("./pages/ApiKeysPage")),
  },
  {
    path: "/definitions", label: "Event definitions", section: "events", roles: MANAGERS, group: "Data",
    icon: "events", needsProject: true, component: lazy(() => import("./pages/DefinitionsPage")),
  },
  {
    path: "/destinations", label: "Destinations", section: "destinations", roles: MANAGERS, group: "Data",
    icon: "live", needsProject: true, component: lazy(() => import("./pages/DestinationsPage")),
  },
  {
    path: "/projects", label: "Projects", section: "projects", roles: ALL_ROLES, group: "Organization",
    icon: "projects", needsProject: false, component: lazy(() => import("./pages/ProjectsPage")),
  },
  {
    path: "/members", label: "Members", section: "members", roles: ADMINS, group: "Organization",
    icon: "members", needsProject: false, component: lazy(() => import("./pages/MembersPage")),
  },
  {
    path: "/settings", label: "Settings", section: "settings", roles: MANAGERS, group: "Organization",
    icon: "settings", needsProject: true, component: lazy(() => import("./pages/SettingsPage")),
  },
];

/** Screens shown before signing in; they render without the app shell. */
export interface PublicScreen {
  path: string;
  component: LazyExoticComponent<ComponentType>;
  /** Also shown to a signed-in user (an invitation opened in a browser where someone is signed in);
   * otherwise a signed-in user goes on to the app. */
  showWhenSignedIn?: boolean;
}

export const PUBLIC_SCREENS: PublicScreen[] = [
  { path: "/login", component: lazy(() => import("./pages/LoginPage")) },
  { path: "/signup", component: lazy(() => import("./pages/SignupPage")) },
  {
    path: "/accept-invitation", component: lazy(() => import("./pages/AcceptInvitationPage")),
    showWhenSignedIn: true,
  },
];

export const NAV_GROUPS: NavGroup[] = ["Analytics", "Data", "Organization"];

export function canUse(screen: Screen, role: Role): boolean {
  return screen.roles.includes(role);
}

/** The navigation entries of a role, in order. */
export function navScreens(role: Role): Screen[] {
  return SCREENS.filter((screen) => screen.nav !== false && canUse(screen, role));
}

/** Where "/" leads: the first screen the role may use. */
export function homePath(role: Role): string {
  return navScreens(role)[0]?.path ?? "/projects";
}
