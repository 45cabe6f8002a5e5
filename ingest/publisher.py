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
import time

from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import APIError
from prometheus_client import Histogram

from ingest.errors import UnavailableError
from messaging.names import HEADER_MSG_ID, Names
from trackmint.v1 import batch_pb2, event_pb2

logger = logging.getLogger(__name__)

_HEADER_ROOM = 1024

PUBLISH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds: a local JetStream stores a batch in about a millisecond; 5 s is the publish timeout."""


_STORAGE_FULL_CODES = frozenset({10023, 10028, 10047, 10077})
"""JetStream error codes for "no room": insufficient resources, memory or storage resources exceeded, and a stream
store failure (its `max_bytes` / `max_msgs` reached, with discard NEW)."""


def refusal_reason(error: BaseException) -> str:
    """What ingest answers (with UNAVAILABLE) when JetStream did not store a batch, in words a sender can act on."""
    if isinstance(error, APIError) and error.err_code in _STORAGE_FULL_CODES:
        return (f"event stream full ({error.description}, JetStream error {error.err_code}); "
                "nothing was acked, retry later")
    if isinstance(error, APIError) and error.description:
        return f"event stream refused the batch ({error.description}); nothing was acked, retry"
    return f"event stream unavailable ({type(error).__name__}); nothing was acked, retry"


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
        # Publish-to-stored latency of each batch (all its chunks), for the ingest metrics.
        self.latency = Histogram("trackmint_ingest_publish_seconds", "Time from publishing a batch to JetStream "
                                 "storing it, seconds.", registry=None, buckets=PUBLISH_BUCKETS)

    async def publish(self, project_id: str, events: list[event_pb2.Event], received_at_ns: int) -> int:
        """Return (the bytes published) only once JetStream has stored every event; raise UnavailableError
        otherwise."""
        if not events:
            return 0
        if not self._nc.is_connected:
            raise UnavailableError("event stream unavailable (NATS disconnected); nothing was acked, retry")
        subject = self._names.events_subject(project_id)
        limit = max(self._nc.max_payload - _HEADER_ROOM, 1024)
        envelopes = []
        for chunk in chunk_events(events, limit - 64):
            envelope = batch_pb2.IngestedBatch(project_id=project_id, events=chunk)
            envelope.received_at.seconds, envelope.received_at.nanos = divmod(received_at_ns, 1_000_000_000)
            envelopes.append((message_id_for(project_id, chunk), envelope.SerializeToString()))
        started = time.perf_counter()
        try:
            await asyncio.gather(*(
                self._js.publish(subject, payload, timeout=self._timeout, headers={HEADER_MSG_ID: msg_id})
                for msg_id, payload in envelopes
            ))
        except (NatsError, TimeoutError, OSError) as error:
            logger.warning("publish to %s failed: %r", subject, error)
            raise UnavailableError(refusal_reason(error)) from error
        self.latency.observe(time.perf_counter() - started)
        return sum(len(payload) for _, payload in envelopes)
