"""The query replica's one NATS subscription to live notices, fanned out to its local subscribers.

Every replica subscribes once to every project's live subject (core NATS);
each notice is decoded once and offered, as the same object, to the inbox of
every local subscriber of its project. The hub is created and closed by the
application's lifespan. It connects in the background, retrying for as long
as NATS is away, so the query service starts and answers queries without
NATS; meanwhile a new subscription is refused with UNAVAILABLE. Once
connected, nats-py reconnects by itself and re-subscribes; after such a gap
every inbox gets a RESYNC signal, since notices of the gap are lost.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from config import Settings
from messaging.live import MalformedNotice, decode_notice
from messaging.names import Names
from messaging.streams import connect
from query.errors import UnavailableError
from query.live.inbox import Inbox, Signal

logger = logging.getLogger(__name__)

_CONNECT_TIMEOUT_SECONDS = 2.0
_RECONNECT_WAIT_SECONDS = 1.0


@dataclass
class HubStats:
    notices: int = 0
    malformed: int = 0
    deliveries: int = 0


class LiveHub:
    def __init__(self, settings: Settings) -> None:
        self._url = settings.nats_url
        self._names = Names(settings.nats_namespace)
        self._inbox_size = settings.live_inbox_size
        self._inboxes: dict[str, set[Inbox]] = defaultdict(set)
        self._nc: NATS | None = None
        self._connecting: asyncio.Task | None = None
        self.stats = HubStats()

    @property
    def available(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def inboxes(self) -> list[Inbox]:
        return [inbox for inboxes in self._inboxes.values() for inbox in inboxes]

    def start(self) -> None:
        """Begin connecting (in the background); without a NATS URL, live updates stay unavailable."""
        if self._url:
            self._connecting = asyncio.create_task(self._connect(self._url), name="query-live-hub-connect")

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connecting
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()

    async def _connect(self, url: str) -> None:
        async def on_error(error: Exception) -> None:
            # Every failed attempt lands here while NATS is away; the disconnect itself is logged once.
            logger.debug("live hub: nats error: %r", error)

        async def on_reconnect() -> None:
            logger.info("live hub: nats reconnected; subscribers re-sync")
            self._broadcast(Signal.RESYNC)

        logger.info("live hub: connecting to NATS")
        # Unlimited reconnect attempts also make this first connect wait for NATS, however long it is away.
        nc = await connect(
            url, name="trackmint-query-live", connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            reconnect_time_wait=_RECONNECT_WAIT_SECONDS, error_cb=on_error, reconnected_cb=on_reconnect,
        )
        await nc.subscribe(self._names.live_subjects, cb=self._on_message)
        self._nc = nc
        logger.info("live hub: subscribed to %s", self._names.live_subjects)

    async def _on_message(self, msg: Msg) -> None:
        try:
            notice = decode_notice(msg.data)
        except MalformedNotice as error:
            self.stats.malformed += 1
            logger.warning("live hub: malformed notice on %s: %s", msg.subject, error)
            return
        self.stats.notices += 1
        for inbox in self._inboxes.get(notice.project_id, ()):
            inbox.offer(notice)
            self.stats.deliveries += 1

    def _broadcast(self, signal: Signal) -> None:
        for inbox in self.inboxes():
            inbox.offer(signal)

    @contextlib.contextmanager
    def subscribe(self, project_id: str) -> Iterator[Inbox]:
        """An inbox receiving the project's notices while the block runs; UNAVAILABLE without NATS."""
        if not self._url:
            raise UnavailableError("live updates need NATS, and this query service has no TRACKMINT_NATS_URL")
        if not self.available:
            raise UnavailableError("live updates are unavailable: NATS cannot be reached right now; retry later")
        inbox = Inbox(project_id, self._inbox_size)
        self._inboxes[project_id].add(inbox)
        try:
            yield inbox
        finally:
            inboxes = self._inboxes.get(project_id)
            if inboxes is not None:
                inboxes.discard(inbox)
                if not inboxes:
                    del self._inboxes[project_id]
