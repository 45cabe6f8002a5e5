/** One GraphQL request over plain fetch, for the calls made before (or without) the urql client: login, refresh. */
import { ApiError, codeOf, type GraphQLErrorLike } from "./errors";

export const GRAPHQL_PATH = "/graphql";

export async function postGraphQL<T>(
  query: string,
  variables: Record<string, unknown>,
  accessToken?: string | null,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(GRAPHQL_PATH, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("Cannot reach the TrackMint server. Check your connection and try again.", "NETWORK");
  }
  let body: { data?: T | null; errors?: GraphQLErrorLike[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new ApiError(`The server answered ${response.status} without a GraphQL response.`, "NETWORK");
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.message, codeOf(first), first.extensions ?? {});
  if (!body.data) throw new ApiError("The server answered without data.", "INTERNAL");
  return body.data;
}
