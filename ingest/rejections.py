"""Publishing the events ingest refused to the dead-letter stream, so none is silently dropped.

Every refused event of a batch (by validation or by a schema in REJECT mode)
goes out in one `RejectedBatch` JetStream message on
`<ns>dlq.rejected.<project_id>`, split only past the server's max payload; the
processor records them in `rejected_events`, where they can be browsed and
replayed. This runs after the accepted events are durable: a failure here is
logged and counted and never fails the ack of the good events.

Refused events keep what replaying them needs. An event refused before its
clock-skew correction gets the batch's sent_at when it has none of its own; an
event refused after it (schemas) already holds its corrected time, so its
sent_at is set to received_at and a replay does not correct it twice. The IP
address is cleared unless the project opted in to keep it.
"""

import hashlib
import logging
from dataclasses import dataclass

from google.protobuf import timestamp_pb2
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from messaging.names import HEADER_MSG_ID, Names
from trackmint.v1 import batch_pb2, event_pb2

logger = logging.getLogger(__name__)

_HEADER_ROOM = 1024


@dataclass
class RejectionStats:
    published_events: int = 0
    published_messages: int = 0
    failed_events: int = 0


def _stub(event: event_pb2.Event) -> event_pb2.Event:
    """What is kept of an event too large for a message of its own: enough to say which one it was."""
    return event_pb2.Event(message_id=event.message_id[:200], type=event.type, name=event.name[:200],
                           user_id=event.user_id[:200], anonymous_id=event.anonymous_id[:200])


def rejected_batches(project_id: str, received_at_ns: int, items: list[batch_pb2.RejectedEvent],
                     max_bytes: int) -> list[batch_pb2.RejectedBatch]:
    """The items in as few RejectedBatch messages as fit under max_bytes each."""
    batches: list[batch_pb2.RejectedBatch] = []
    current: list[batch_pb2.RejectedEvent] = []
    size = 0
    for item in items:
        if item.ByteSize() + 64 > max_bytes:
            item = batch_pb2.RejectedEvent(event=_stub(item.event), code=item.code, reason=item.reason,
                                           index=item.index)
        item_size = item.ByteSize() + 6
        if current and size + item_size > max_bytes:
            batches.append(_batch(project_id, received_at_ns, current))
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        batches.append(_batch(project_id, received_at_ns, current))
    return batches


def _batch(project_id: str, received_at_ns: int, items: list[batch_pb2.RejectedEvent]) -> batch_pb2.RejectedBatch:
    batch = batch_pb2.RejectedBatch(project_id=project_id, events=items)
    batch.received_at.seconds, batch.received_at.nanos = divmod(received_at_ns, 1_000_000_000)
    return batch


def _message_id(batch: batch_pb2.RejectedBatch) -> str:
    # The same batch resent by an SDK inside the duplicate window is refused again: record it once. An event
    # without a message id is told apart by its content, or every such refusal would look like the first.
    digest = hashlib.sha256()
    for item in batch.events:
        digest.update(f"{item.index}:{item.code}:{item.event.message_id}\n".encode("utf-8", "surrogatepass"))
        if not item.event.message_id:
            digest.update(hashlib.sha256(item.event.SerializeToString(deterministic=True)).digest())
    return f"rejected:{batch.project_id}:{digest.hexdigest()[:40]}"


class RejectionPublisher:
    def __init__(self, nc: NATS, js: JetStreamContext, names: Names, timeout: float = 5.0) -> None:
        self._nc = nc
        self._js = js
        self._names = names
        self._timeout = timeout
        self.stats = RejectionStats()

    async def publish(self, project_id: str, received_at_ns: int, items: list[batch_pb2.RejectedEvent]) -> bool:
        """Publish the refused events; False (logged, counted) when JetStream did not take them."""
        if not items:
            return True
        limit = max(self._nc.max_payload - _HEADER_ROOM, 1024)
        subject = self._names.rejected_subject(project_id)
        published = 0
        try:
            for batch in rejected_batches(project_id, received_at_ns, items, limit):
                await self._js.publish(subject, batch.SerializeToString(), timeout=self._timeout,
                                       headers={HEADER_MSG_ID: _message_id(batch)})
                published += len(batch.events)
                self.stats.published_messages += 1
        except (NatsError, TimeoutError, OSError) as error:
            self.stats.failed_events += len(items) - published
            logger.error("could not record %d rejected events of project %s in the dead-letter stream: %r",
                         len(items) - published, project_id, error)
            return False
        finally:
            self.stats.published_events += published
        return True


def refused_event(
    event: event_pb2.Event, rejection: batch_pb2.Rejection, *, corrected: bool,
    batch_sent_at: timestamp_pb2.Timestamp | None, received_at_ns: int, store_ip: bool,
) -> batch_pb2.RejectedEvent:
    """The dead-letter record of one refused event, made replayable (see the module docstring)."""
    if corrected:
        event.sent_at.seconds, event.sent_at.nanos = divmod(received_at_ns, 1_000_000_000)
    elif not event.HasField("sent_at") and batch_sent_at is not None:
        event.sent_at.CopyFrom(batch_sent_at)
    if not store_ip and event.HasField("context"):
        event.context.ip = ""
    return batch_pb2.RejectedEvent(event=event, code=rejection.code, reason=rejection.reason, index=rejection.index)
