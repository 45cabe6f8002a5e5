"""The live counters subscription: events per second and persons active now."""

from collections.abc import AsyncGenerator

import strawberry

from messaging.live import LiveNotice
from query.access import load_project
from query.analytics.get_realtime import get_realtime
from query.context import QueryContext
from query.live.rates import RateWindow
from query.live.results import live_results
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.realtime.live_types import LiveCounters

REFRESH_SECONDS = 5.0
"""Recount even without events: persons leave the 5-minute window and the rate decays on their own."""


@strawberry.type
class RealtimeSubscription:
    @strawberry.subscription(
        description=(
            "Events per second and persons active in the last 5 minutes: at once, then when events are stored"
            " (at most once a second) and every few seconds while nothing happens."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def live_counters(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
    ) -> AsyncGenerator[LiveCounters, None]:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            initial = await get_realtime(connection, project_id=project.id)
        # The last complete minute's events: the rate before this subscription saw any.
        previous_minute = initial.events_per_minute[-2].events if len(initial.events_per_minute) > 1 else 0
        rate = RateWindow(previous_minute / 60)

        def count(notice: LiveNotice) -> None:
            bots = sum(1 for event in notice.events if event.is_bot)
            rate.add(notice.stored - bots)

        async def counters() -> LiveCounters:
            async with info.context.pool.acquire() as connection:
                realtime = await get_realtime(connection, project_id=project.id)
            return LiveCounters(
                now=realtime.now,
                active_persons=realtime.active_persons,
                events_per_second=round(rate.per_second(), 3),
                window_seconds=rate.window_seconds,
            )

        async for result in live_results(
            info, project_id, counters, on_notice=count, refresh_seconds=REFRESH_SECONDS
        ):
            yield result
