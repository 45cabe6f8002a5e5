"""Asking ingest to replay rejected events: a core NATS request answered by one ingest replica.

The query service never runs ingest code: it sends `{"project_id", "ids"}` (or
`"event"`) on `<ns>ingest.replay` and ingest (ingest/replay.py) answers with
counts. NATS is optional for the query service: the connection is made on the
first replay, so analytics work without it and a NATS that starts later is
found then; without NATS, or without a running ingest, the answer is
UNAVAILABLE with a message saying which.
"""

import asyncio
import json
import logging
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError

from config import Settings
from messaging.names import Names
from messaging.streams import nats_servers
from query.errors import BadUserInputError, UnavailableError

logger = logging.getLogger(__name__)

REPLAY_TIMEOUT_SECONDS = 60.0
"""How long a replay may take: up to 1000 events are checked, published and marked."""

_CONNECT_TIMEOUT_SECONDS = 3.0


async def _log_nats_error(error: Exception) -> None:
    logger.warning("nats error in the query service: %r", error)


class ReplayClient:
    def __init__(self, settings: Settings) -> None:
        self._url = settings.nats_url
        self._names = Names(settings.nats_namespace)
        self._nc: NATS | None = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> NATS:
        if not self._url:
            raise UnavailableError("replay needs NATS, and this query service has no TRACKMINT_NATS_URL")
        async with self._lock:
            if self._nc is None or self._nc.is_closed:
                try:
                    # Few reconnect attempts: they also bound the first connect (unlimited would retry
                    # forever inside this request); once the client gives up it is closed and the next
                    # replay connects afresh.
                    self._nc = await nats.connect(
                        nats_servers(self._url), name="trackmint-query", connect_timeout=_CONNECT_TIMEOUT_SECONDS,
                        max_reconnect_attempts=2, reconnect_time_wait=0.5, error_cb=_log_nats_error,
                    )
                except (NatsError, OSError, TimeoutError) as error:
                    raise UnavailableError(f"cannot reach NATS to ask ingest for the replay: {error!r}") from None
        if not self._nc.is_connected:
            raise UnavailableError("NATS is disconnected; cannot ask ingest for the replay, retry later")
        return self._nc

    async def replay(self, project_id: str, ids: list[int] | None, event: str | None) -> dict[str, Any]:
        """The counts ingest answers; UnavailableError when no ingest replica answers, BadUserInputError if refused."""
        nc = await self._connection()
        request: dict[str, Any] = {"project_id": project_id}
        if ids is not None:
            request["ids"] = ids
        else:
            request["event"] = event
        try:
            reply = await nc.request(self._names.replay_subject, json.dumps(request).encode("utf-8"),
                                     timeout=REPLAY_TIMEOUT_SECONDS)
        except NoRespondersError:
            raise UnavailableError(
                "no ingest replica is running to replay the events; start ingest and retry"
            ) from None
        except (NatsError, TimeoutError) as error:
            raise UnavailableError(f"ingest did not answer the replay request: {error!r}") from None
        answer = json.loads(reply.data)
        if "error" in answer:
            if answer.get("code") == "bad_request":
                raise BadUserInputError(answer["error"])
            raise UnavailableError(f"ingest could not replay the events: {answer['error']}")
        return answer

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
