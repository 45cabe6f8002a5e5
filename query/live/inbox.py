"""One subscriber's bounded queue of live notices.

The hub offers every notice of the subscriber's project without waiting; the
subscription takes them when its client is ready for more. A client slower
than its project's events loses the oldest notices: the inbox keeps at most
`capacity` of them and counts the events it dropped, so memory stays bounded
and the feed can tell its client how much it missed. Notices are shared,
immutable objects, so an inbox holds references, not copies.
"""

import asyncio
import contextlib
from collections import deque
from enum import Enum

from messaging.live import LiveNotice


class Signal(Enum):
    RESYNC = "resync"
    """NATS was away and is back: notices may have been lost, results should be computed afresh."""


InboxItem = LiveNotice | Signal


class Inbox:
    def __init__(self, project_id: str, capacity: int) -> None:
        self.project_id = project_id
        self._capacity = capacity
        self._items: deque[InboxItem] = deque()
        self._ready = asyncio.Event()
        self.dropped_notices = 0
        self._missed_events = 0

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: InboxItem) -> None:
        """Queue an item; when full, drop the oldest first."""
        if len(self._items) >= self._capacity:
            dropped = self._items.popleft()
            self.dropped_notices += 1
            if isinstance(dropped, LiveNotice):
                self._missed_events += dropped.stored
        self._items.append(item)
        self._ready.set()

    async def take(self, within: float | None) -> list[InboxItem]:
        """Everything waiting, oldest first; waits up to `within` seconds for something (empty list then)."""
        if not self._items and (within is None or within > 0):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await self._ready.wait()
        items = list(self._items)
        self._items.clear()
        self._ready.clear()
        return items

    def take_missed(self) -> int:
        """Events dropped since the last call because the subscriber fell behind."""
        missed, self._missed_events = self._missed_events, 0
        return missed
