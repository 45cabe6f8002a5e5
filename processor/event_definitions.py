"""The properties observed per event name, with their JSON types: the data behind `eventDefinitions`.

`record_event_properties` runs inside the writer's transaction, right after a
batch was stored, on the same temporary table `staging_events`. One set-based
statement upserts `event_properties`: every top-level property key with its
`jsonb_typeof`, the earliest and latest event time seen. To keep the table
from being rewritten by every batch, a row is only updated when the batch
moves `first_seen` earlier or `last_seen` later by a minute or more. Keys are
taken in sorted order, like the writer's, so concurrent writers do not
deadlock each other.
"""

import asyncpg

MAX_PROPERTY_NAME_LENGTH = 200
"""Longer keys are left out: they are almost always data used as a key, and would bloat the index."""

RECORD_EVENT_PROPERTIES = f"""
INSERT INTO event_properties (project_id, event, property, type, first_seen, last_seen)
SELECT s.project_id, s.event, p.key, jsonb_typeof(p.value),
       'epoch'::timestamptz + min(s.event_time) * interval '1 microsecond',
       'epoch'::timestamptz + max(s.event_time) * interval '1 microsecond'
FROM staging_events s
CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(s.properties) = 'object' THEN s.properties
                                   ELSE '{{}}'::jsonb END) AS p (key, value)
WHERE length(p.key) <= {MAX_PROPERTY_NAME_LENGTH}
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
ON CONFLICT (project_id, event, property, type) DO UPDATE
SET first_seen = least(event_properties.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(event_properties.last_seen, EXCLUDED.last_seen)
WHERE EXCLUDED.first_seen < event_properties.first_seen
   OR EXCLUDED.last_seen >= event_properties.last_seen + interval '1 minute'
"""


async def record_event_properties(connection: asyncpg.Connection) -> None:
    """Upsert the observed properties of the rows in `staging_events` (call inside the writer's transaction)."""
    await connection.execute(RECORD_EVENT_PROPERTIES)
