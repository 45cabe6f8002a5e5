"""GraphQL documents and helpers of the schema tests."""

from typing import Any

import httpx

from tests.query.graphql_client import execute

DEFINE = """
mutation Define($projectId: ID!, $event: String!, $jsonSchema: JSON!, $mode: EventSchemaMode!) {
  defineEventSchema(projectId: $projectId, event: $event, jsonSchema: $jsonSchema, mode: $mode) {
    event jsonSchema mode createdAt updatedAt
  }
}
"""

DELETE = """
mutation Delete($projectId: ID!, $event: String!) { deleteEventSchema(projectId: $projectId, event: $event) }
"""

SCHEMAS = """
query Schemas($projectId: ID!) { eventSchemas(projectId: $projectId) { event jsonSchema mode } }
"""

REJECTED = """
query Rejected($projectId: ID!, $event: String, $code: String, $first: Int, $after: String) {
  rejectedEvents(projectId: $projectId, event: $event, code: $code, first: $first, after: $after) {
    edges { cursor node { id messageId event code reason payload receivedAt rejectedAt replayedAt replayResult } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

REPLAY = """
mutation Replay($projectId: ID!, $ids: [ID!], $event: String) {
  replayRejectedEvents(projectId: $projectId, ids: $ids, event: $event) { replayed accepted stillRejected skipped }
}
"""

DEFINITIONS = """
query Definitions($projectId: ID!) {
  eventDefinitions(projectId: $projectId) {
    event volume firstSeen lastSeen properties { name type firstSeen lastSeen }
  }
}
"""

PRICE_SCHEMA = {
    "type": "object",
    "properties": {
        "price": {"type": "number"},
        "currency": {"type": "string", "enum": ["EUR", "USD"]},
        "sku": {"type": "string"},
        "quantity": {"type": "integer", "minimum": 1},
        "coupon": {"type": "boolean"},
    },
    "required": ["price", "currency"],
}
"""A typical five-property schema."""


async def define(client: httpx.AsyncClient, project_id, event: str, schema: Any, mode: str) -> dict[str, Any]:
    body = await execute(client, DEFINE, projectId=str(project_id), event=event, jsonSchema=schema, mode=mode)
    return body


async def rejected_nodes(client: httpx.AsyncClient, project_id, **filters: Any) -> list[dict[str, Any]]:
    body = await execute(client, REJECTED, projectId=str(project_id), **filters)
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["rejectedEvents"]["edges"]]
