/** Providers and the router: public screens before sign-in, the app shell with SCREENS after. */
import { Suspense, useEffect, useMemo } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";
import { Provider as UrqlProvider } from "urql";
import { AppShell } from "./components/AppShell";
import { ScreenGuard } from "./components/ScreenGuard";
import { LoadingState } from "./components/States";
import { authStore, AuthProvider, useAuth, useUser } from "./lib/auth";
import { createGraphQLClient } from "./lib/client";
import { ProjectProvider } from "./lib/project";
import { ThemeProvider } from "./lib/theme";
import NotFoundPage from "./pages/NotFoundPage";
import { homePath, PUBLIC_SCREENS, SCREENS } from "./routes";

function SignedInApp() {
  const user = useUser();
  // A fresh client (empty cache, new socket) per signed-in user, dropped at logout.
  const client = useMemo(() => createGraphQLClient(), [user.id]);
  // Subscriptions authenticate once, in connection_init: reconnect whenever the token changes.
  useEffect(() => authStore.onTokenChange(client.restartSocket), [client]);
  return (
    <UrqlProvider value={client.urql}>
      <ProjectProvider>
        <Routes>
          {PUBLIC_SCREENS.filter((screen) => screen.showWhenSignedIn).map((screen) => (
            <Route key={screen.path} path={screen.path}
              element={<Suspense fallback={<LoadingState />}><screen.component /></Suspense>} />
          ))}
          <Route element={<AppShell />}>
            <Route index element={<Navigate to={homePath(user.role)} replace />} />
            {SCREENS.map((screen) => (
              <Route key={screen.path} path={screen.path}
                element={<ScreenGuard screen={screen}><screen.component /></ScreenGuard>} />
            ))}
            {PUBLIC_SCREENS.filter((screen) => !screen.showWhenSignedIn).map((screen) => (
              <Route key={screen.path} path={screen.path} element={<AfterSignIn />} />
            ))}
            <Route path="*" element={<NotFoundPage />} />
          </Route>
        </Routes>
      </ProjectProvider>
    </UrqlProvider>
  );
}

/** On /login or /signup once signed in: go where the user was headed. */
function AfterSignIn() {
  const user = useUser();
  const next = new URLSearchParams(useLocation().search).get("next");
  return <Navigate to={next && next.startsWith("/") && !next.startsWith("//") ? next : homePath(user.role)} replace />;
}

function SignedOutApp() {
  const location = useLocation();
  const next = location.pathname === "/" ? "" : `?next=${encodeURIComponent(location.pathname + location.search)}`;
  return (
    <Suspense fallback={<LoadingState />}>
      <Routes>
        {PUBLIC_SCREENS.map((screen) => (
          <Route key={screen.path} path={screen.path} element={<screen.component />} />
        ))}
        <Route path="*" element={<Navigate to={`/login${next}`} replace />} />
      </Routes>
    </Suspense>
  );
}

function Root() {
  const { status } = useAuth();
  if (status === "restoring") return <div className="fullscreen"><LoadingState label="Signing you in…" /></div>;
  return status === "signedIn" ? <SignedInApp /> : <SignedOutApp />;
}

export function App() {
  return (
    <ThemeProvider>
      <AuthProvider>
        <BrowserRouter>
          <Root />
        </BrowserRouter>
      </AuthProvider>
    </ThemeProvider>
  );
}
