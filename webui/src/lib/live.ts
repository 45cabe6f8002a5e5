/**
 * A query kept current by its subscription: the query answers first over HTTP, then every push of
 * the subscription (same arguments, same result shape) replaces it. `live` says pushes arrive.
 */
import { useEffect, useRef, useState } from "react";
import { useQuery, useSubscription, type AnyVariables, type CombinedError, type DocumentInput } from "urql";

export interface LiveResult<T> {
  data: T | undefined;
  fetching: boolean;
  error: CombinedError | undefined;
  live: boolean;
  retry: () => void;
}

export function useLiveQuery<T, Q, S>(options: {
  query: DocumentInput;
  subscription: DocumentInput;
  variables: AnyVariables;
  /** The part of each answer the screen uses, from the query's and the subscription's shapes. */
  fromQuery: (data: Q) => T;
  fromSubscription: (data: S) => T;
  pause?: boolean;
}): LiveResult<T> {
  const [queryResult, reexecute] = useQuery<Q>({
    query: options.query,
    variables: options.variables,
    pause: options.pause ?? false,
  });
  const [subscriptionResult] = useSubscription<S>({
    query: options.subscription,
    variables: options.variables,
    pause: options.pause ?? false,
  });
  // A refused subscription answers `data: null` beside its error: only a real push replaces the query.
  const pushed = subscriptionResult.data != null;
  const data = pushed
    ? options.fromSubscription(subscriptionResult.data as S)
    : queryResult.data != null
      ? options.fromQuery(queryResult.data)
      : undefined;
  return {
    data,
    fetching: data === undefined && (queryResult.fetching || subscriptionResult.fetching),
    // A failed subscription matters only if there is nothing to show.
    error: data === undefined ? (queryResult.error ?? subscriptionResult.error) : undefined,
    live: pushed && !subscriptionResult.error,
    retry: () => reexecute({ requestPolicy: "network-only" }),
  };
}

/** A counter that changes at most once per `intervalMs` when `value` changes (to refresh slower queries). */
export function useThrottledChange(value: unknown, intervalMs: number): number {
  const [version, setVersion] = useState(0);
  const last = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const wait = Math.max(0, last.current + intervalMs - Date.now());
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      last.current = Date.now();
      setVersion((v) => v + 1);
    }, wait);
  }, [value, intervalMs]);
  useEffect(() => () => {
    if (pending.current) clearTimeout(pending.current);
  }, []);
  return version;
}
