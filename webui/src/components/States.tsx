/** The three states every data view has besides its data: loading, empty and failed. */
import type { ReactNode } from "react";
import type { CombinedError } from "urql";
import { errorCode, errorMessage, type ApiError } from "../lib/errors";

export function LoadingState({ label = "Loading…", compact = false }: { label?: string; compact?: boolean }) {
  return (
    <div className={`state state-loading${compact ? " state-compact" : ""}`} role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function EmptyState({
  title,
  children,
  compact = false,
}: {
  title: string;
  children?: ReactNode;
  compact?: boolean;
}) {
  return (
    <div className={`state state-empty${compact ? " state-compact" : ""}`} data-testid="empty-state">
      <strong>{title}</strong>
      {children ? <div className="state-detail">{children}</div> : null}
    </div>
  );
}

export function ErrorState({
  error,
  title = "Something went wrong",
  onRetry,
  compact = false,
}: {
  error: CombinedError | ApiError | Error | null | undefined;
  title?: string;
  onRetry?: () => void;
  compact?: boolean;
}) {
  const code = error && ("graphQLErrors" in error || "code" in error) ? errorCode(error as CombinedError) : null;
  return (
    <div className={`state state-error${compact ? " state-compact" : ""}`} role="alert" data-error-code={code ?? ""}>
      <strong>{code === "FORBIDDEN" ? "Not allowed" : title}</strong>
      <div className="state-detail">{errorMessage(error)}</div>
      {onRetry ? (
        <button type="button" className="button button-small" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}
