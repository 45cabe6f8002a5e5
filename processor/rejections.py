"""Rows of `rejected_events` from dead-letter stream messages, and storing them once.

Two kinds of message share the dead-letter stream:
- ingest's `RejectedBatch` on `<ns>dlq.rejected.<project>`: the events ingest
  refused, each with its code and reason;
- the processor's own dead letters on `<ns>dlq.events.<project>`
  (processor/dead_letters.py): the raw `IngestedBatch` PostgreSQL refused or
  that could not be decoded, with the reason in a header. One row per event when
  it decodes, else one row without an event (code UNDECODABLE).

Each row keeps the stream sequence and the event's position in the message, so
a redelivered message is stored once. Text is cleaned of NUL characters
(PostgreSQL text refuses them, and an event refused for holding one must
still be recorded).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from messaging.names import HEADER_DEAD_LETTER_REASON, Names
from processor.transform import EVENT_NAMES
from trackmint.v1 import batch_pb2, event_pb2

STORAGE_REFUSED = "STORAGE_REFUSED"
"""Code of an event the processor dead-lettered (PostgreSQL refused it)."""

UNDECODABLE = "UNDECODABLE"
"""Code of a dead-letter message whose payload is not the message it should be."""

_MAX_TEXT = 1000


@dataclass(frozen=True)
class RejectedRow:
    project_id: UUID
    message_id: str
    event: str
    code: str
    reason: str
    payload: bytes | None
    received_at: datetime
    stream_sequence: int
    stream_index: int


def _text(value: str, limit: int = _MAX_TEXT) -> str:
    return value.replace("\x00", "")[:limit]


def code_name(code: int) -> str:
    try:
        return batch_pb2.RejectionCode.Name(code).removeprefix("REJECTION_CODE_")
    except ValueError:
        return str(code)


def event_name(event: event_pb2.Event) -> str:
    """The canonical name, as events are stored: the track name, or $pageview, $identify, ..."""
    if event.type == event_pb2.EVENT_TYPE_TRACK:
        return _text(event.name, 200)
    return EVENT_NAMES.get(event.type, _text(event.name, 200))


def _project(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _time(stamp, fallback: datetime) -> datetime:
    if stamp.seconds == 0 and stamp.nanos == 0:
        return fallback
    return datetime.fromtimestamp(stamp.seconds, UTC).replace(microsecond=stamp.nanos // 1000)


def _event_row(project_id: UUID, event: event_pb2.Event, code: str, reason: str, received_at: datetime,
               sequence: int, index: int) -> RejectedRow:
    return RejectedRow(project_id, _text(event.message_id, 200), event_name(event), code, _text(reason),
                       event.SerializeToString(), received_at, sequence, index)


def rows_from_rejected_batch(data: bytes, subject_project: str, sequence: int, now: datetime) -> list[RejectedRow]:
    """Rows of ingest's RejectedBatch; one row without event when it does not decode."""
    try:
        batch = batch_pb2.RejectedBatch.FromString(data)
    except Exception as error:  # protobuf's DecodeError, or anything a broken payload provokes
        project_id = _project(subject_project)
        if project_id is None:
            return []
        return [RejectedRow(project_id, "", "", UNDECODABLE, _text(f"rejected batch does not decode: {error}"),
                            None, now, sequence, 0)]
    project_id = _project(batch.project_id) or _project(subject_project)
    if project_id is None:
        return []
    received_at = _time(batch.received_at, now)
    return [
        _event_row(project_id, item.event, code_name(item.code), item.reason, received_at, sequence, position)
        for position, item in enumerate(batch.events)
    ]


def rows_from_dead_letter(data: bytes, headers: dict[str, str] | None, subject_project: str, sequence: int,
                          now: datetime) -> list[RejectedRow]:
    """Rows of a processor dead letter: its IngestedBatch's events, or one row without event."""
    reason = _text((headers or {}).get(HEADER_DEAD_LETTER_REASON, "") or "dead-lettered by the processor")
    try:
        envelope = batch_pb2.IngestedBatch.FromString(data)
        project_id = _project(envelope.project_id) or _project(subject_project)
    except Exception:
        envelope, project_id = None, _project(subject_project)
    if project_id is None:
        return []
    if envelope is None or not envelope.events:
        return [RejectedRow(project_id, "", "", UNDECODABLE, reason, None, now, sequence, 0)]
    received_at = _time(envelope.received_at, now)
    rows = []
    for position, event in enumerate(envelope.events):
        # Already corrected for clock skew: sent_at = received_at makes a replay's correction a no-op.
        event.sent_at.CopyFrom(envelope.received_at)
        rows.append(_event_row(project_id, event, STORAGE_REFUSED, reason, received_at, sequence, position))
    return rows


def rows_from_message(names: Names, subject: str, data: bytes, headers: dict[str, str] | None, sequence: int,
                      now: datetime) -> list[RejectedRow]:
    """Rows of any message of the dead-letter stream, by its subject."""
    prefix, _, project = subject.rpartition(".")
    if prefix == names.rejected_subject_prefix:
        return rows_from_rejected_batch(data, project, sequence, now)
    return rows_from_dead_letter(data, headers, project, sequence, now)


_STORE = """
INSERT INTO rejected_events (project_id, message_id, event, code, reason, payload, received_at,
                             stream_sequence, stream_index)
SELECT r.project_id, r.message_id, r.event, r.code, r.reason, r.payload, r.received_at, r.stream_sequence,
       r.stream_index
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::timestamptz[],
            $8::bigint[], $9::integer[])
     AS r (project_id, message_id, event, code, reason, payload, received_at, stream_sequence, stream_index)
-- A project deleted since has no rows to keep (and the foreign key would refuse them).
WHERE EXISTS (SELECT 1 FROM projects p WHERE p.id = r.project_id)
ON CONFLICT (project_id, stream_sequence, stream_index) DO NOTHING
"""


async def store_rejected(connection: asyncpg.Connection | asyncpg.Pool, rows: list[RejectedRow]) -> None:
    """Insert the rows; rows already stored (same stream sequence and index) are left alone."""
    if not rows:
        return
    columns = list(zip(*(
        (row.project_id, row.message_id, row.event, row.code, row.reason, row.payload, row.received_at,
         row.stream_sequence, row.stream_index) for row in rows
    ), strict=True))
    await connection.execute(_STORE, *columns)
