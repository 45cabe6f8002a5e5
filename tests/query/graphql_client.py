"""Talking GraphQL to the running query service."""

from typing import Any

import httpx


async def execute(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    """POST one operation; returns the whole response body (data and errors)."""
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def error_codes(body: dict[str, Any]) -> list[str | None]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


TRENDS = """
query Trends($projectId: ID!, $series: [SeriesInput!]!, $interval: Interval!, $dateRange: DateRangeInput!) {
  trends(projectId: $projectId, series: $series, interval: $interval, dateRange: $dateRange) {
    label
    points { bucket value }
  }
}
"""

EVENTS = """
query Events($projectId: ID!, $first: Int, $after: String) {
  events(projectId: $projectId, first: $first, after: $after) {
    edges {
      cursor
      node {
        messageId type event name anonymousId userId sessionId timestamp receivedAt properties context
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
