"""The live event feed: a project's newly stored events, as they are committed, filtered.

Unlike the charts, the feed is not debounced: each wake-up pushes everything
that arrived since the last one, as one batch, so a burst costs one message
per subscriber and a slow reader receives bigger batches, not more of them.
`missed` counts the events the subscriber did not get: dropped because it
read too slowly, or left out of an oversized notice (those may or may not
have matched its filter). The token's expiry is checked before every push;
the database side of access on the timer (see watch.py).
"""

import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass

from messaging.live import LiveEvent, LiveNotice
from query.access import load_project
from query.context import QueryContext
from query.live.results import live_hub
from query.live.watch import AccessWatch


@dataclass(frozen=True)
class EventMatcher:
    """Which events a feed shows: by name (any when empty), by property equality, bots or not."""

    names: frozenset[str] = frozenset()
    # Key -> value; every pair must hold. Keys are the notice's properties (messaging/live.py).
    equals: Mapping[str, object] | None = None
    include_bots: bool = False

    def __call__(self, event: LiveEvent) -> bool:
        if event.is_bot and not self.include_bots:
            return False
        if self.names and event.event not in self.names:
            return False
        return all(_equal(event.properties.get(key), value) for key, value in (self.equals or {}).items())


def _equal(actual: object, wanted: object) -> bool:
    """The filters' `eq`: a string matches the text form, a number numerically, a boolean as a boolean."""
    if actual is None:
        return wanted is None
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return actual is wanted
    if isinstance(wanted, str):
        return (actual if isinstance(actual, str) else _text(actual)) == wanted
    if isinstance(wanted, int | float) and isinstance(actual, int | float):
        return float(actual) == float(wanted)
    return False


def _text(value: object) -> str:
    # JSON's text form, as `->>` gives it: 5 for 5 and 5.0 alike when integral.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class FeedBatch:
    # Each event with the commit time of its batch (epoch seconds).
    events: Sequence[tuple[LiveEvent, float]]
    missed: int


async def live_feed(context: QueryContext, project_id: str, matches: EventMatcher) -> AsyncGenerator[FeedBatch, None]:
    hub = live_hub(context)
    project = await load_project(context, project_id)
    watch = AccessWatch(context, project_id)
    with hub.subscribe(str(project.id)) as inbox:
        while True:
            items = await inbox.take(max(0.0, watch.next_check - time.monotonic()))
            await watch.check_if_due()
            notices = [item for item in items if isinstance(item, LiveNotice)]
            events = [(event, notice.committed_at) for notice in notices for event in notice.events if matches(event)]
            missed = inbox.take_missed() + sum(notice.omitted for notice in notices)
            if events or missed:
                watch.check_token()
                yield FeedBatch(events, missed)
