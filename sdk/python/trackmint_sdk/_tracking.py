"""The Segment-style calls (track, page, screen, identify, group, alias) both clients offer.

Each call validates and builds its event on the caller's thread (so mistakes
raise right there), queues it without waiting, and returns its message_id.
"""

from __future__ import annotations

from datetime import datetime

from trackmint.v1 import event_pb2
from trackmint_sdk import events
from trackmint_sdk._buffer import Buffer, framed_size
from trackmint_sdk._options import Options
from trackmint_sdk.events import ContextArg, Properties


class TrackingMethods:
    """Mixin: the enqueue calls, on top of ``_options`` and ``_buffer`` set by the client."""

    _options: Options
    _buffer: Buffer

    def _enqueue(self, event: event_pb2.Event) -> str:
        """Queue a built event; dropped (and counted) when the queue is full or the client closed."""
        self._buffer.put(event, framed_size(event.ByteSize()))
        return event.message_id

    def track(
        self,
        event: str,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        properties: Properties | None = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        session_id: str | None = None,
        context: ContextArg | None = None,
    ) -> str:
        """Record that a user did ``event`` (e.g. ``"Order Completed"``); returns the message_id.

        Needs ``user_id`` or ``anonymous_id``. ``properties`` is a JSON-able mapping
        (datetimes, dates, Decimals, UUIDs and sets are converted). ``timestamp``
        defaults to now; naive datetimes are taken as UTC. ``context`` is a
        Segment-shaped dict (``ip``, ``userAgent``, ``locale``, ``timezone``,
        ``page``, ``campaign``, ``library``, anything else). Raises ValueError or
        TypeError for invalid arguments; never blocks and never raises for
        delivery problems.
        """
        return self._enqueue(
            events.track_event(
                event,
                user_id=user_id,
                anonymous_id=anonymous_id,
                properties=properties,
                timestamp=timestamp,
                message_id=message_id,
                session_id=session_id,
                context=context,
                max_event_bytes=self._options.max_event_bytes,
            )
        )

    def page(
        self,
        name: str | None = None,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        properties: Properties | None = None,
        url: str | None = None,
        path: str | None = None,
        referrer: str | None = None,
        title: str | None = None,
        search: str | None = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        session_id: str | None = None,
        context: ContextArg | None = None,
    ) -> str:
        """Record a web page view; ``url``, ``path``, ``referrer``, ``title``, ``search`` fill ``context.page``.

        Without ``path`` and ``search``, they are taken from ``url``.
        """
        return self._enqueue(
            events.page_event(
                name,
                user_id=user_id,
                anonymous_id=anonymous_id,
                properties=properties,
                url=url,
                path=path,
                referrer=referrer,
                title=title,
                search=search,
                timestamp=timestamp,
                message_id=message_id,
                session_id=session_id,
                context=context,
                max_event_bytes=self._options.max_event_bytes,
            )
        )

    def screen(
        self,
        name: str | None = None,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        properties: Properties | None = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        session_id: str | None = None,
        context: ContextArg | None = None,
    ) -> str:
        """Record a mobile or desktop app screen view."""
        return self._enqueue(
            events.screen_event(
                name,
                user_id=user_id,
                anonymous_id=anonymous_id,
                properties=properties,
                timestamp=timestamp,
                message_id=message_id,
                session_id=session_id,
                context=context,
                max_event_bytes=self._options.max_event_bytes,
            )
        )

    def identify(
        self,
        user_id: str | None = None,
        *,
        traits: Properties | None = None,
        anonymous_id: str | None = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        session_id: str | None = None,
        context: ContextArg | None = None,
    ) -> str:
        """Say who the user is and set their ``traits``; with ``anonymous_id`` too, links both ids."""
        return self._enqueue(
            events.identify_event(
                user_id,
                traits=traits,
                anonymous_id=anonymous_id,
                timestamp=timestamp,
                message_id=message_id,
                session_id=session_id,
                context=context,
                max_event_bytes=self._options.max_event_bytes,
            )
        )

    def group(
        self,
        group_id: str,
        *,
        traits: Properties | None = None,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        session_id: str | None = None,
        context: ContextArg | None = None,
    ) -> str:
        """Put the user in a group (company, team, account) with the group's ``traits``."""
        return self._enqueue(
            events.group_event(
                group_id,
                traits=traits,
                user_id=user_id,
                anonymous_id=anonymous_id,
                timestamp=timestamp,
                message_id=message_id,
                session_id=session_id,
                context=context,
                max_event_bytes=self._options.max_event_bytes,
            )
        )

    def alias(
        self,
        previous_id: str,
        user_id: str,
        *,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        session_id: str | None = None,
        context: ContextArg | None = None,
    ) -> str:
        """Merge ``previous_id`` (e.g. an old anonymous id) into ``user_id``'s person; Segment's argument order."""
        return self._enqueue(
            events.alias_event(
                previous_id,
                user_id,
                timestamp=timestamp,
                message_id=message_id,
                session_id=session_id,
                context=context,
                max_event_bytes=self._options.max_event_bytes,
            )
        )
