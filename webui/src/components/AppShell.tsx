/** The signed-in layout: sidebar (project, navigation from routes.tsx, theme, user) and the screen. */
import { Suspense } from "react";
import { NavLink, Outlet } from "react-router";
import { useAuth, useUser } from "../lib/auth";
import { NAV_GROUPS, navScreens } from "../routes";
import { Icon } from "./Icon";
import { ProjectSwitcher } from "./ProjectSwitcher";
import { LoadingState } from "./States";
import { ThemeToggle } from "./ThemeToggle";

export function AppShell() {
  const user = useUser();
  const { logout } = useAuth();
  const screens = navScreens(user.role);
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="sidebar-inner">
          <div className="brand">
            <img src="/favicon.svg" alt="" width={26} height={26} />
            <span>TrackMint</span>
          </div>
          <ProjectSwitcher />
          <nav className="nav" aria-label="Main">
            {NAV_GROUPS.map((group) => {
              const entries = screens.filter((screen) => screen.group === group);
              if (entries.length === 0) return null;
              return (
                <div className="nav-group" key={group}>
                  <div className="nav-group-label">{group}</div>
                  {entries.map((screen) => (
                    <NavLink key={screen.path} to={screen.path.replace(/\/\*$/, "")} className="nav-link"
                      data-section={screen.section}>
                      <Icon name={screen.icon} />
                      <span>{screen.label}</span>
                      {screen.badge ? <screen.badge /> : null}
                    </NavLink>
                  ))}
                </div>
              );
            })}
          </nav>
          <div className="sidebar-footer">
            <ThemeToggle />
            <div className="user">
              <div className="user-text">
                <div className="user-email" title={user.email}>{user.name || user.email}</div>
                <div className="user-role" data-testid="user-role">{user.role.toLowerCase()}</div>
              </div>
              <button type="button" className="button button-ghost button-icon" onClick={() => void logout()}
                title="Log out" aria-label="Log out">
                <Icon name="logout" />
              </button>
            </div>
          </div>
        </div>
      </aside>
      <main className="main">
        <Suspense fallback={<LoadingState />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
