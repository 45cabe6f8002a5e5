"""Publishing accepted events to JetStream, durably and idempotently.

One JetStream message carries many events (an `IngestedBatch`), split only
when it would exceed the server's max payload. Each message has a
deterministic `Nats-Msg-Id` derived from its events' message ids, so an SDK
resending the same batch inside the duplicate window is stored once by
JetStream; the processor's per-event de-duplication catches the rest.
"""

import asyncio
import hashlib
import logging

from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from ingest.errors import UnavailableError
from messaging.names import HEADER_MSG_ID, Names
from trackmint.v1 import batch_pb2, event_pb2

logger = logging.getLogger(__name__)

_HEADER_ROOM = 1024


def message_id_for(project_id: str, events: list[event_pb2.Event]) -> str:
    digest = hashlib.sha256("\n".join(event.message_id for event in events).encode("utf-8")).hexdigest()
    return f"{project_id}:{digest[:40]}"


def chunk_events(events: list[event_pb2.Event], max_bytes: int) -> list[list[event_pb2.Event]]:
    """Split events into runs whose encoded size stays under max_bytes."""
    chunks: list[list[event_pb2.Event]] = []
    current: list[event_pb2.Event] = []
    size = 0
    for event in events:
        # 6 bytes covers the field tag and length prefix of an event inside the batch.
        event_size = event.ByteSize() + 6
        if current and size + event_size > max_bytes:
            chunks.append(current)
            current, size = [], 0
        current.append(event)
        size += event_size
    if current:
        chunks.append(current)
    return chunks


class EventPublisher:
    def __init__(self, nc: NATS, js: JetStreamContext, names: Names, timeout: float = 5.0) -> None:
        self._nc = nc
        self._js = js
        self._names = names
        self._timeout = timeout

    async def publish(self, project_id: str, events: list[event_pb2.Event], received_at_ns: int) -> None:
        """Return only once JetStream has stored every event; raise UnavailableError otherwise."""
        if not events:
            return
        if not self._nc.is_connected:
            raise UnavailableError("event stream unavailable (NATS disconnected); nothing was acked, retry")
        subject = self._names.events_subject(project_id)
        limit = max(self._nc.max_payload - _HEADER_ROOM, 1024)
        envelopes = []
        for chunk in chunk_events(events, limit - 64):
            envelope = batch_pb2.IngestedBatch(project_id=project_id, events=chunk)
            envelope.received_at.seconds, envelope.received_at.nanos = divmod(received_at_ns, 1_000_000_000)
            envelopes.append((message_id_for(project_id, chunk), envelope.SerializeToString()))
        try:
            await asyncio.gather(*(
                self._js.publish(subject, payload, timeout=self._timeout, headers={HEADER_MSG_ID: msg_id})
                for msg_id, payload in envelopes
            ))
        except (NatsError, TimeoutError, OSError) as error:
            logger.warning("publish to %s failed: %r", subject, error)
            reason = type(error).__name__
            raise UnavailableError(f"event stream unavailable ({reason}); nothing was acked, retry") from error
