"""A graphql-transport-ws client over a real WebSocket, for the subscription tests and the benchmark."""

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")


def websocket_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1).rstrip("/") + "/graphql"


def bearer(token: str) -> dict[str, str]:
    """The `connection_init` payload carrying an access token."""
    return {"authorization": f"Bearer {token}"}


class GraphQLWebSocket:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._ids = itertools.count(1)

    async def subscribe(self, query: str, **variables: Any) -> str:
        operation_id = str(next(self._ids))
        payload = {"query": query, "variables": variables}
        await self.connection.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": payload}))
        return operation_id

    async def complete(self, operation_id: str) -> None:
        await self.connection.send(json.dumps({"id": operation_id, "type": "complete"}))

    async def receive(self, within: float = 15) -> dict[str, Any]:
        """The next protocol message other than ping (which is answered)."""
        async with asyncio.timeout(within):
            while True:
                message = json.loads(await self.connection.recv())
                if message["type"] == "ping":
                    await self.connection.send(json.dumps({"type": "pong"}))
                    continue
                return message

    async def next_data(self, within: float = 15) -> dict[str, Any]:
        """The data of the next `next` message; fails on anything else."""
        message = await self.receive(within)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]

    async def silence(self, seconds: float) -> list[dict[str, Any]]:
        """Every message received during `seconds` (expected to be none, usually)."""
        received = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                received.append(await self.receive(left))
            except TimeoutError:
                break
        return received


@asynccontextmanager
async def graphql_websocket(
    base_url: str, payload: dict[str, Any] | None, **options: Any
) -> AsyncIterator[GraphQLWebSocket]:
    """An acknowledged graphql-transport-ws connection to the query service at `base_url`."""
    async with connect(websocket_url(base_url), subprotocols=[PROTOCOL], open_timeout=10, **options) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        client = GraphQLWebSocket(connection)
        ack = await client.receive(10)
        assert ack["type"] == "connection_ack", ack
        yield client


def errors_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The GraphQL errors of an `error` message, or of a `next` message carrying errors."""
    return message["payload"] if message["type"] == "error" else message["payload"].get("errors", [])


def error_codes_of(message: dict[str, Any]) -> list[str | None]:
    return [error.get("extensions", {}).get("code") for error in errors_of(message)]
