"""Looking into the test's JetStream streams: which events and rejections a call added."""

from dataclasses import dataclass

from nats.js import JetStreamContext

from config import Settings
from messaging.names import Names
from trackmint.v1 import batch_pb2


@dataclass
class Added:
    """What one call published: accepted events' message ids, and (index, code) of each dead-lettered event."""

    message_ids: list[str]
    rejections: list[tuple[int, int]]


class StreamWatch:
    """Remembers where the events and dead-letter streams ended, to read exactly what came after."""

    def __init__(self, js: JetStreamContext, settings: Settings) -> None:
        names = Names(settings.nats_namespace)
        self._js = js
        self._events, self._dead = names.events_stream, names.dead_letter_stream
        self._marks = (0, 0)

    async def _last(self, stream: str) -> int:
        return (await self._js.stream_info(stream)).state.last_seq

    async def mark(self) -> None:
        self._marks = (await self._last(self._events), await self._last(self._dead))

    async def _payloads(self, stream: str, after: int) -> list[bytes]:
        last = await self._last(stream)
        return [(await self._js.get_msg(stream, seq)).data or b"" for seq in range(after + 1, last + 1)]

    async def added(self) -> Added:
        ids = [event.message_id
               for payload in await self._payloads(self._events, self._marks[0])
               for event in batch_pb2.IngestedBatch.FromString(payload).events]
        rejections = [(item.index, item.code)
                      for payload in await self._payloads(self._dead, self._marks[1])
                      for item in batch_pb2.RejectedBatch.FromString(payload).events]
        return Added(ids, rejections)
