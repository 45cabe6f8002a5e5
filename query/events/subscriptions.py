"""The live event feed subscription."""

from collections.abc import AsyncGenerator

import strawberry

from query.context import QueryContext
from query.events.live_types import LiveEventBatch, LiveEventFilterInput
from query.live.feed import EventMatcher, live_feed
from query.permissions import CanReadAnalytics, IsAuthenticated


@strawberry.type
class EventsSubscription:
    @strawberry.subscription(
        description=(
            "The project's events as the processor stores them (each once), filtered; one push per arrival, with"
            " everything that arrived since the previous one. Bots are left out unless the filter includes them."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def live_events(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        filter: LiveEventFilterInput | None = None,
    ) -> AsyncGenerator[LiveEventBatch, None]:
        matcher = filter.to_matcher() if filter is not None else EventMatcher()
        async for batch in live_feed(info.context, project_id, matcher):
            yield LiveEventBatch.from_batch(batch)
