/**
 * The urql client: queries and mutations over HTTP POST /graphql, subscriptions over one
 * graphql-transport-ws WebSocket on the same path.
 *
 * Authentication: HTTP requests carry `Authorization: Bearer <access token>`; the WebSocket sends it
 * in its `connection_init` payload. When a result says UNAUTHENTICATED (or the token is about to
 * expire), `authExchange` refreshes once and retries; every token change restarts the socket so its
 * subscriptions resubscribe under the new token. A refused refresh signs the user out (auth.tsx).
 */
import { authExchange } from "@urql/exchange-auth";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { cacheExchange, Client, fetchExchange, subscriptionExchange, type CombinedError, type ExecutionResult } from "urql";
import { authStore } from "./auth";
import { codeOf } from "./errors";
import { GRAPHQL_PATH } from "./http";

function websocketUrl(): string {
  const url = new URL(GRAPHQL_PATH, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

/** Close code graphql-ws retries on: the socket reconnects at once with fresh connection params. */
const RESTART_CODE = 4205;

export interface GraphQLClient {
  urql: Client;
  /** Reconnect the WebSocket (its subscriptions resubscribe); call it after every token change. */
  restartSocket: () => void;
}

function createSocket(): { ws: WsClient; restart: () => void } {
  let socket: WebSocket | null = null;
  let restartRequested = false;
  const ws = createWsClient({
    url: websocketUrl(),
    lazy: true,
    lazyCloseTimeout: 3_000,
    keepAlive: 15_000,
    retryAttempts: Infinity,
    // Back off up to ~10 s while the server is away.
    retryWait: async (retries) => {
      const delay = Math.min(10_000, 500 * 2 ** retries) * (0.75 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    },
    shouldRetry: () => true,
    connectionParams: () => {
      const token = authStore.accessToken;
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    on: {
      opened: (opened) => {
        socket = opened as WebSocket;
        if (restartRequested) {
          restartRequested = false;
          socket.close(RESTART_CODE, "Client Restart");
        }
      },
      closed: () => {
        socket = null;
      },
    },
  });
  const restart = () => {
    if (socket?.readyState === WebSocket.OPEN) socket.close(RESTART_CODE, "Client Restart");
    else if (socket?.readyState === WebSocket.CONNECTING) restartRequested = true;
  };
  return { ws, restart };
}

function isAuthError(error: CombinedError): boolean {
  return error.graphQLErrors.some((e) => codeOf(e) === "UNAUTHENTICATED");
}

/** urql's observer of a subscription's results. */
interface Sink {
  next: (result: ExecutionResult) => void;
  error: (error: unknown) => void;
  complete: () => void;
}

/**
 * A subscription that survives its access token: the server ends an open subscription with
 * UNAUTHENTICATED once the token expires, so refresh the token (once for all subscriptions: a
 * newer token than this one started with means someone already did) and subscribe again; the
 * token change restarts the socket, whose `connection_init` then carries the new token. Only when
 * the refresh fails does the error reach the screen (and the user is signed out).
 */
function resilientSubscribe(ws: WsClient, input: Parameters<WsClient["subscribe"]>[0], sink: Sink): () => void {
  let stopped = false;
  let generation = 0;
  let unsubscribe = () => {};
  const start = () => {
    const mine = ++generation;
    const startedWith = authStore.accessToken;
    unsubscribe = ws.subscribe(input, {
      next: (result) => {
        if (mine !== generation || stopped) return;
        const unauthenticated = result.errors?.some((e) => codeOf(e) === "UNAUTHENTICATED");
        if (!unauthenticated) {
          sink.next(result as ExecutionResult);
          return;
        }
        generation++; // this stream is over: ignore its `complete`
        const refreshed = authStore.accessToken !== startedWith ? Promise.resolve(true) : authStore.refresh();
        void refreshed.then((ok) => {
          if (stopped) return;
          if (ok) start();
          else {
            sink.next(result as ExecutionResult);
            sink.complete();
          }
        });
      },
      error: (error) => {
        if (mine === generation && !stopped) sink.error(error);
      },
      complete: () => {
        if (mine === generation && !stopped) sink.complete();
      },
    });
  };
  start();
  return () => {
    stopped = true;
    unsubscribe();
  };
}

export function createGraphQLClient(): GraphQLClient {
  const { ws, restart } = createSocket();
  const urql = new Client({
    url: GRAPHQL_PATH,
    // Analytics change by the second: always ask the server, show cached data meanwhile.
    requestPolicy: "cache-and-network",
    exchanges: [
      cacheExchange,
      authExchange(async (utils) => ({
        addAuthToOperation(operation) {
          const token = authStore.accessToken;
          return token ? utils.appendHeaders(operation, { authorization: `Bearer ${token}` }) : operation;
        },
        willAuthError() {
          return authStore.accessTokenExpiring();
        },
        didAuthError(error) {
          return isAuthError(error);
        },
        async refreshAuth() {
          await authStore.refresh();
        },
      })),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? "" };
          return { subscribe: (sink) => ({ unsubscribe: resilientSubscribe(ws, input, sink) }) };
        },
      }),
    ],
  });
  // The socket is lazy: it closes by itself a few seconds after its last subscription ends.
  return { urql, restartSocket: restart };
}
