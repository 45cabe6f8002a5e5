"""What identity needs to know of a stored event, read off its staging row.

Staging rows are plain tuples in `STAGING_COLUMNS` order (what the writer
COPYs); this names the fields person bookkeeping reads, so it does not depend
on column positions. (Sessions are computed in SQL from the staged rows.)
"""

from operator import itemgetter
from typing import NamedTuple

from processor.transform import STAGING_COLUMNS

_INDEX = {column: position for position, column in enumerate(STAGING_COLUMNS)}
_FIELDS = ("project_id", "message_id", "event_time", "type", "event", "name", "distinct_id", "anonymous_id",
           "user_id", "previous_id", "session_id", "traits", "properties", "country")
_read_fields = itemgetter(*(_INDEX[column] for column in _FIELDS))


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
    country: str | None


def facts_of(row: tuple) -> EventFacts:
    """The facts of a staging row (project_id as text)."""
    fields = _read_fields(row)
    return EventFacts(str(fields[0]), *fields[1:])


def is_bot_row(row: tuple) -> bool:
    return bool(row[_INDEX["is_bot"]])


def row_key(row: tuple) -> tuple[str, str]:
    """(project_id, message_id): what the de-duplication index is keyed by."""
    return str(row[_INDEX["project_id"]]), row[_INDEX["message_id"]]
