"""The in-app alert feed: `alertFired(projectId)` pushes each alert event the alerting leader publishes.

The leader publishes every fired, resolved (and test) event of a project on
the core NATS subject `alerts.<project_id>` (messaging/names.py). Each
subscription subscribes to its project's subject only, on a connection of its
own: alert subscriptions are few (one per open dashboard) and their events
rare, so they stay apart from the live hub's high-rate event notices. Access is
re-checked on the live-subscription timer (query/live/watch.py).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator

import nats
import orjson
import strawberry
from nats.aio.msg import Msg

from messaging.names import Names
from messaging.streams import nats_servers
from query.access import load_project
from query.alerts.types import AlertEvent
from query.context import QueryContext
from query.errors import UnavailableError
from query.live.watch import AccessWatch
from query.permissions import CanReadAnalytics, IsAuthenticated

logger = logging.getLogger(__name__)

_QUEUE_SIZE = 100
"""Alert events a slow subscriber may have waiting; beyond that the oldest are dropped (alertEvents has them)."""


@strawberry.type
class AlertsSubscription:
    @strawberry.subscription(
        name="alertFired",
        description="Each in-app alert notice of the project (fired, resolved, test) as the alerting leader sends it."
        " Missed ones are listed by `alertEvents`.",
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def alert_fired(
        self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID
    ) -> AsyncGenerator[AlertEvent, None]:
        context = info.context
        project = await load_project(context, project_id)
        if not context.settings.nats_url:
            raise UnavailableError("alert notices need NATS, and this query service has no TRACKMINT_NATS_URL")
        queue: asyncio.Queue[dict] = asyncio.Queue(_QUEUE_SIZE)

        async def on_message(msg: Msg) -> None:
            try:
                payload = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                logger.warning("alertFired: malformed alert event on %s", msg.subject)
                return
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(payload)

        try:
            nc = await nats.connect(nats_servers(context.settings.nats_url), name="trackmint-query-alerts",
                                    connect_timeout=2, max_reconnect_attempts=-1, reconnect_time_wait=1,
                                    allow_reconnect=True)
        except Exception as error:  # nats-py raises several unrelated types on a failed connect
            raise UnavailableError(f"alert notices are unavailable: NATS cannot be reached ({error!r})") from None
        try:
            await nc.subscribe(Names(context.settings.nats_namespace).alerts_subject(str(project.id)), cb=on_message)
            await nc.flush(timeout=2)
            watch = AccessWatch(context, project_id)
            while True:
                payload = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, watch.next_check - time.monotonic())):
                        payload = await queue.get()
                await watch.check_if_due()
                if payload is not None:
                    watch.check_token()
                    yield AlertEvent.from_payload(payload)
        finally:
            with contextlib.suppress(Exception):
                await nc.close()
