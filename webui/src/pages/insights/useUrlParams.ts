/**
 * The URL query string as a builder's state: the current params, and `update` to change some of them.
 * Updates build on the latest update, not on the last render, so two quick changes (an event, then
 * its math) both stick; the entry is replaced, so the back button leaves the screen.
 */
import { useCallback, useEffect, useRef } from "react";
import { useSearchParams } from "react-router";

export function useUrlParams(): { search: string; update: (change: (params: URLSearchParams) => void) => void } {
  const [params, setParams] = useSearchParams();
  const search = params.toString();
  const latest = useRef(search);
  useEffect(() => {
    latest.current = search;
  }, [search]);
  const update = useCallback(
    (change: (params: URLSearchParams) => void) => {
      const next = new URLSearchParams(latest.current);
      change(next);
      latest.current = next.toString();
      setParams(next, { replace: true });
    },
    [setParams],
  );
  return { search, update };
}
