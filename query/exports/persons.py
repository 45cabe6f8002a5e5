"""A project's persons as CSV rows, newest first, as the GraphQL `persons` query lists them.

Read a page at a time through `storage.persons.list_persons` (the same search, order and distinct ids as
GraphQL), by keyset on the persons_project_created index, inside the export's single-snapshot transaction:
constant memory, and one consistent picture even while persons are written.
"""

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from query.exports.streaming import BATCH_ROWS, Batches, Row
from storage import persons

HEADER = ("id", "distinctIds", "traits", "isIdentified", "firstSeen", "lastSeen", "createdAt")


def person_batches(project_id: UUID, timezone: str, search: str | None) -> Batches:
    zone = ZoneInfo(timezone)

    def local(value: datetime) -> str:
        return value.astimezone(zone).isoformat()

    async def read(connection: asyncpg.Connection) -> AsyncIterator[Sequence[Row]]:
        after: tuple[datetime, UUID] | None = None
        while True:
            page = await persons.list_persons(connection, project_id, first=BATCH_ROWS, after=after, search=search)
            if page.persons:
                yield [
                    (str(row.id), json.dumps(row.distinct_ids, ensure_ascii=False),
                     json.dumps(row.traits, ensure_ascii=False), str(row.is_identified).lower(),
                     local(row.first_seen), local(row.last_seen), local(row.created_at))
                    for row in page.persons
                ]
            if not page.has_next_page:
                return
            last = page.persons[-1]
            after = (last.created_at, last.id)

    return read
