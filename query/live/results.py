"""Any query made live: its result at once, then again whenever events that matter to it are stored.

`live_results` is how every chart subscription is written: it takes "run the
query" (the query's own resolver, so the SQL lives in one place) and "which
event names it counts", and returns the async generator a Strawberry
subscription yields from. A notice of the project naming one of those events
(or any event, when the query counts all) marks the result stale; a stale
result is computed afresh at most once per `live_push_interval_seconds`, so a
burst of events costs one query and one push. A result equal to the last one
pushed is not pushed again. Access is re-checked on a timer and before every
computation (see watch.py).
"""

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import TypeVar

import strawberry

from messaging.live import LiveNotice
from query.access import load_project
from query.context import QueryContext
from query.errors import UnavailableError
from query.live.hub import LiveHub
from query.live.inbox import InboxItem, Signal
from query.live.watch import AccessWatch

T = TypeVar("T")


def live_hub(context: QueryContext) -> LiveHub:
    if context.live is None:
        raise UnavailableError("live updates are not served by this endpoint")
    return context.live


def relevance(event_names: Iterable[str | None]) -> Callable[[InboxItem], bool]:
    """Whether an inbox item may change a result counting `event_names` (None among them: every event)."""
    names = set(event_names)
    if None in names or not names:
        return lambda item: True
    wanted = frozenset(name for name in names if name is not None)
    return lambda item: isinstance(item, Signal) or item.names_any(wanted)


async def live_results(
    info: strawberry.Info[QueryContext, None],
    project_id: str,
    run: Callable[[], Awaitable[T]],
    *,
    event_names: Iterable[str | None] = (None,),
    on_notice: Callable[[LiveNotice], None] | None = None,
    refresh_seconds: float | None = None,
) -> AsyncGenerator[T, None]:
    """`run()`'s result now, then after matching events (debounced); also every `refresh_seconds` if given."""
    context = info.context
    hub = live_hub(context)
    project = await load_project(context, project_id)
    watch = AccessWatch(context, project_id)
    matters = relevance(event_names)
    interval = context.settings.live_push_interval_seconds
    with hub.subscribe(str(project.id)) as inbox:
        last = await run()
        yield last
        computed_at = time.monotonic()
        stale = False
        while True:
            wake = watch.next_check
            if stale:
                wake = min(wake, computed_at + interval)
            if refresh_seconds is not None:
                wake = min(wake, computed_at + refresh_seconds)
            for item in await inbox.take(max(0.0, wake - time.monotonic())):
                stale = stale or matters(item)
                if on_notice is not None and isinstance(item, LiveNotice):
                    on_notice(item)
            now = time.monotonic()
            due = (stale and now >= computed_at + interval) or (
                refresh_seconds is not None and now >= computed_at + refresh_seconds
            )
            if not due:
                await watch.check_if_due()
                continue
            await watch.check()
            stale = False
            result = await run()
            computed_at = time.monotonic()
            if result != last:
                last = result
                yield result
