"""What identity and sessions need to know of a stored event, read off its staging row.

Staging rows are plain tuples in `STAGING_COLUMNS` order (what the writer
COPYs); this names the fields the person and session bookkeeping reads, so
those modules do not depend on column positions.
"""

from operator import itemgetter
from typing import NamedTuple

from processor.transform import STAGING_COLUMNS
from trackmint.v1 import event_pb2

_INDEX = {column: position for position, column in enumerate(STAGING_COLUMNS)}

SESSION_ATTRIBUTES = (
    "page_url", "page_referrer", "referrer_domain", "referrer_channel", "utm_source", "utm_medium", "utm_campaign",
    "utm_term", "utm_content", "device_type", "browser", "os", "country", "region", "city",
)
"""Copied onto a session from its first event (page_url becomes the session's entry_url)."""

_PAGEVIEW_TYPES = frozenset({event_pb2.EVENT_TYPE_PAGE, event_pb2.EVENT_TYPE_SCREEN})


_FIELDS = ("project_id", "message_id", "event_time", "type", "event", "name", "distinct_id", "anonymous_id",
           "user_id", "previous_id", "session_id", "traits", "properties", "page_path")
_COUNTRY = SESSION_ATTRIBUTES.index("country")
_read_fields = itemgetter(*(_INDEX[column] for column in _FIELDS))
_read_attributes = itemgetter(*(_INDEX[column] for column in SESSION_ATTRIBUTES))


class EventFacts(NamedTuple):
    # A named tuple, built from one itemgetter call: this runs once per stored event.
    project_id: str
    message_id: str
    time_us: int
    type: int
    event: str
    name: str
    distinct_id: str
    anonymous_id: str | None
    user_id: str | None
    previous_id: str | None
    session_id: str | None
    traits_json: str | None
    properties_json: str
    page_path: str | None
    attributes: tuple

    @property
    def is_pageview(self) -> bool:
        return self.type in _PAGEVIEW_TYPES

    @property
    def page(self) -> str | None:
        """The page (or screen) a pageview shows: its path, else its name, else its URL."""
        if self.type == event_pb2.EVENT_TYPE_SCREEN:
            return self.name or None
        return self.page_path or self.name or self.attributes[0]

    @property
    def country(self) -> str | None:
        return self.attributes[_COUNTRY]


def facts_of(row: tuple) -> EventFacts:
    """The facts of a staging row (project_id as text)."""
    fields = _read_fields(row)
    return EventFacts(str(fields[0]), *fields[1:], _read_attributes(row))


def is_bot_row(row: tuple) -> bool:
    return bool(row[_INDEX["is_bot"]])


def row_key(row: tuple) -> tuple[str, str]:
    """(project_id, message_id): what the de-duplication index is keyed by."""
    return str(row[_INDEX["project_id"]]), row[_INDEX["message_id"]]
