/** GraphQL errors as the UI shows them: a message and the server's `extensions.code`. */
import type { CombinedError } from "urql";

export type ErrorCode =
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "BAD_USER_INPUT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "UNAVAILABLE"
  | "RATE_LIMITED"
  | "NETWORK"
  | "INTERNAL";

export interface GraphQLErrorLike {
  message: string;
  extensions?: Record<string, unknown> | null;
}

/** An error of a request made outside urql (the auth mutations), shaped like a GraphQL error. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: ErrorCode,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function codeOf(error: GraphQLErrorLike): ErrorCode {
  const code = error.extensions?.["code"];
  return typeof code === "string" ? (code as ErrorCode) : "INTERNAL";
}

/** The code of a urql error: the first GraphQL error's, or NETWORK. */
export function errorCode(error: CombinedError | ApiError | null | undefined): ErrorCode | null {
  if (!error) return null;
  if (error instanceof ApiError) return error.code;
  if (error.networkError) return "NETWORK";
  const first = error.graphQLErrors[0];
  return first ? codeOf(first) : "INTERNAL";
}

/** A sentence for people: the server's own message, without urql's "[GraphQL]" prefix. */
export function errorMessage(error: CombinedError | ApiError | Error | null | undefined): string {
  if (!error) return "";
  if (error instanceof ApiError) return error.message;
  if ("graphQLErrors" in error) {
    if (error.networkError) return "Cannot reach the TrackMint server. Check your connection and try again.";
    const first = error.graphQLErrors[0];
    if (first) {
      if (codeOf(first) === "FORBIDDEN") return `Your role does not allow this: ${first.message}`;
      return first.message;
    }
  }
  return error.message.replace(/^\[(GraphQL|Network)\]\s*/, "");
}

export function hasCode(error: CombinedError | undefined, code: ErrorCode): boolean {
  return !!error?.graphQLErrors.some((e) => codeOf(e) === code);
}
