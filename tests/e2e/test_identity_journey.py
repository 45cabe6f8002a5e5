"""Identity across the whole system: SDK clients on several devices, two processor replicas, one person."""

import asyncio
from datetime import UTC, datetime, timedelta

from processor.service import start_processor
from tests.polling import eventually, wait_for_stored
from trackmint_sdk import AsyncClient

DEVICES = 6


async def _device_journey(endpoint: str, write_key: str, device: int, start: datetime) -> None:
    """One device: anonymous page views, then sign-in as the same user, then a purchase."""
    async with AsyncClient(write_key, endpoint, batch_size=2, flush_interval=0.01) as client:
        anonymous_id = f"device-{device}"
        for step in range(3):
            client.page("Shop", anonymous_id=anonymous_id, timestamp=start + timedelta(seconds=10 * step),
                        context={"page": {"path": f"/shop/{step}"}})
        client.identify("customer-42", anonymous_id=anonymous_id, traits={"email": "Customer42@Example.com"},
                        timestamp=start + timedelta(seconds=40))
        client.track("Order Completed", user_id="customer-42", anonymous_id=anonymous_id,
                     properties={"revenue": 30}, timestamp=start + timedelta(seconds=50))
        assert await client.flush(30)


async def test_devices_identifying_at_once_through_two_processors_are_one_person(
    ingest_server, processor, settings, project, db
):
    second_processor = await start_processor(settings)
    try:
        start = datetime.now(UTC) - timedelta(minutes=10)
        endpoint = f"127.0.0.1:{ingest_server.port}"
        await asyncio.gather(*(
            _device_journey(endpoint, project.write_key, device, start + timedelta(milliseconds=device))
            for device in range(DEVICES)
        ))
        assert await wait_for_stored(db, project.project_id, DEVICES * 5) == DEVICES * 5
        persons = await eventually(
            lambda: db.fetch(
                "SELECT p.id, p.traits->>'email' AS email, count(d.*) AS ids FROM persons p"
                " JOIN person_distinct_ids d ON d.person_id = p.id"
                " WHERE p.project_id = $1 AND p.merged_into IS NULL GROUP BY p.id",
                project.project_id,
            ),
            lambda rows: len(rows) == 1,
        )
    finally:
        await second_processor.stop(grace=5)

    assert [(row["email"], row["ids"]) for row in persons] == [("customer42@example.com", DEVICES + 1)]
    # Both replicas did part of the work.
    assert processor.consumer.stats.messages > 0 and second_processor.consumer.stats.messages > 0
    # The devices' events were 1 ms apart, so under one person they form one session of every event.
    sessions = await db.fetch(
        "SELECT person_id, event_count, pageview_count FROM sessions WHERE project_id = $1", project.project_id
    )
    assert [(row["person_id"], row["event_count"], row["pageview_count"]) for row in sessions] == [
        (persons[0]["id"], DEVICES * 5, DEVICES * 3)
    ]
