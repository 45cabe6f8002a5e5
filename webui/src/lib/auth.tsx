/**
 * Who is signed in: the access token (in memory only), the refresh token (in localStorage, so a
 * reload stays signed in) and the user with their role.
 *
 * `authStore` is a plain object so the GraphQL client can read and refresh the token outside React;
 * components read it through `useAuth()`. Refresh tokens are single use, so concurrent refreshes
 * share one request (a second one would present a used token and revoke the whole session).
 */
import { createContext, useContext, useEffect, useSyncExternalStore, type ReactNode } from "react";
import { ApiError } from "./errors";
import { postGraphQL } from "./http";

export type Role = "ADMIN" | "DEVELOPER" | "VIEWER";

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  organization: { id: string; name: string };
  /** The UI sections the server says this role may use. */
  sections: string[];
}

export type AuthStatus = "restoring" | "signedIn" | "signedOut";

export interface AuthState {
  status: AuthStatus;
  user: User | null;
  /** Why the previous session ended, when it ended on its own (refresh refused). */
  notice: string | null;
}

interface AuthPayload {
  accessToken: string;
  refreshToken: string;
  user: User;
}

const REFRESH_TOKEN_KEY = "trackmint.refreshToken";
/** Refresh this long before the access token expires (at most a quarter of its lifetime), so requests never race the expiry. */
const EXPIRY_MARGIN_MS = 30_000;

const PAYLOAD = `accessToken refreshToken user { id email name role organization { id name } sections }`;
const LOGIN = `mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { ${PAYLOAD} } }`;
const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { ${PAYLOAD} } }`;
const ACCEPT = `mutation Accept($token: String!, $name: String!, $password: String!) {
  acceptInvitation(token: $token, name: $name, password: $password) { ${PAYLOAD} } }`;
const REFRESH = `mutation Refresh($token: String!) { refreshToken(token: $token) { ${PAYLOAD} } }`;
const LOGOUT = `mutation Logout($token: String!) { logout(refreshToken: $token) }`;

function readStoredRefreshToken(): string | null {
  try {
    return localStorage.getItem(REFRESH_TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeRefreshToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(REFRESH_TOKEN_KEY, token);
    else localStorage.removeItem(REFRESH_TOKEN_KEY);
  } catch {
    // Private mode without storage: the session lasts as long as the tab.
  }
}

/** When a JWT expires and how long it lived, in milliseconds; null if it cannot be read. */
function jwtLifetime(token: string): { expiresAt: number; lifetime: number } | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const json = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: unknown; iat?: unknown };
    if (typeof json.exp !== "number") return null;
    const lifetime = typeof json.iat === "number" ? (json.exp - json.iat) * 1000 : EXPIRY_MARGIN_MS * 4;
    return { expiresAt: json.exp * 1000, lifetime };
  } catch {
    return null;
  }
}

const REFRESH_LOCK = "trackmint.refresh";

/** Runs `task` holding a lock every tab of this origin shares (Web Locks), where the browser offers one:
 * it does in secure contexts, which include http://localhost. */
function withTabsLock<T>(name: string, task: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
  return locks ? (locks.request(name, task) as Promise<T>) : task();
}

class AuthStore {
  private state: AuthState = { status: "restoring", user: null, notice: null };
  private accessTokenValue: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private restoring: Promise<void> | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly tokenListeners = new Set<() => void>();

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): AuthState => this.state;

  /** Called whenever the access token changes (the WebSocket reconnects with the new one). */
  onTokenChange(listener: () => void): () => void {
    this.tokenListeners.add(listener);
    return () => this.tokenListeners.delete(listener);
  }

  get accessToken(): string | null {
    return this.accessTokenValue;
  }

  /** True when the access token is missing or about to expire: refresh before sending. */
  accessTokenExpiring(): boolean {
    if (!this.accessTokenValue) return readStoredRefreshToken() !== null;
    const token = jwtLifetime(this.accessTokenValue);
    if (!token) return false;
    return token.expiresAt - Date.now() < Math.min(EXPIRY_MARGIN_MS, token.lifetime / 4);
  }

  /** On start-up: swap the stored refresh token for a session, if there is one. */
  restore(): Promise<void> {
    this.restoring ??= (async () => {
      if (!readStoredRefreshToken()) {
        this.setState({ status: "signedOut", user: null, notice: null });
        return;
      }
      const ok = await this.refresh();
      if (!ok && this.state.status === "restoring") {
        // The server was unreachable: keep the refresh token for the next attempt.
        this.setState({ status: "signedOut", user: null, notice: "Cannot reach the TrackMint server." });
      }
    })();
    return this.restoring;
  }

  /**
   * Swap the refresh token for a new pair. False when there is none, the server refused it (then the
   * session is over and the user is signed out), or the server could not be reached.
   */
  refresh(): Promise<boolean> {
    // One refresh at a time in this tab, and across tabs: each reads the stored token only once the
    // previous swap has stored its successor (presenting a used token would end the session).
    this.refreshing ??= withTabsLock(REFRESH_LOCK, async () => {
      const token = readStoredRefreshToken();
      if (!token) {
        this.end("Your session has ended. Please log in again.");
        return false;
      }
      try {
        const data = await postGraphQL<{ refreshToken: AuthPayload }>(REFRESH, { token });
        this.begin(data.refreshToken);
        return true;
      } catch (error) {
        if (error instanceof ApiError && error.code === "NETWORK") return false;
        this.end("Your session has ended. Please log in again.");
        return false;
      }
    }).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  async login(email: string, password: string): Promise<void> {
    const data = await postGraphQL<{ login: AuthPayload }>(LOGIN, { email, password });
    this.begin(data.login);
  }

  async register(input: { orgName: string; email: string; password: string; name: string }): Promise<void> {
    const data = await postGraphQL<{ register: AuthPayload }>(REGISTER, { input });
    this.begin(data.register);
  }

  async acceptInvitation(token: string, name: string, password: string): Promise<void> {
    const data = await postGraphQL<{ acceptInvitation: AuthPayload }>(ACCEPT, { token, name, password });
    this.begin(data.acceptInvitation);
  }

  async logout(): Promise<void> {
    const token = readStoredRefreshToken();
    this.end(null);
    if (token) {
      // Best effort: the local session is gone either way.
      await postGraphQL(LOGOUT, { token }).catch(() => undefined);
    }
  }

  private begin(payload: AuthPayload): void {
    storeRefreshToken(payload.refreshToken);
    this.accessTokenValue = payload.accessToken;
    this.setState({ status: "signedIn", user: payload.user, notice: null });
    this.tokenListeners.forEach((listener) => listener());
  }

  private end(notice: string | null): void {
    storeRefreshToken(null);
    const wasSignedIn = this.state.status === "signedIn";
    this.accessTokenValue = null;
    this.setState({ status: "signedOut", user: null, notice: wasSignedIn || this.state.status === "restoring" ? notice : null });
    this.tokenListeners.forEach((listener) => listener());
  }

  private setState(state: AuthState): void {
    this.state = state;
    this.listeners.forEach((listener) => listener());
  }
}

export const authStore = new AuthStore();

export interface Auth extends AuthState {
  login: (email: string, password: string) => Promise<void>;
  register: (input: { orgName: string; email: string; password: string; name: string }) => Promise<void>;
  acceptInvitation: (token: string, name: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const state = useSyncExternalStore(authStore.subscribe, authStore.getSnapshot);
  useEffect(() => {
    void authStore.restore();
  }, []);
  const value: Auth = {
    ...state,
    login: (email, password) => authStore.login(email, password),
    register: (input) => authStore.register(input),
    acceptInvitation: (token, name, password) => authStore.acceptInvitation(token, name, password),
    logout: () => authStore.logout(),
  };
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside <AuthProvider>");
  return auth;
}

/** The signed-in user; only for components rendered inside the signed-in app. */
export function useUser(): User {
  const { user } = useAuth();
  if (!user) throw new Error("useUser without a signed-in user");
  return user;
}
