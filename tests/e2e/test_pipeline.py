"""Events travel from a gRPC client through ingest, JetStream and the processor into PostgreSQL."""

from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.polling import wait_for_stored


async def test_sent_batch_is_stored_and_counted_in_rollup(ingest_server, processor, project, db):
    channel, stub = ingest_stub(ingest_server.port)
    events = [track_event("signup", user_id=f"u{i}") for i in range(10)] + [track_event("purchase")]
    async with channel:
        ack = await stub.Send(batch_of(events, sequence=7), metadata=auth(project.write_key))
    assert (ack.sequence, ack.accepted, list(ack.rejections)) == (7, 11, [])
    assert await wait_for_stored(db, project.project_id, 11) == 11
    rollup = dict(await db.fetch(
        "SELECT event, sum(count)::int FROM event_counts WHERE project_id = $1 GROUP BY event", project.project_id
    ))
    assert rollup == {"signup": 10, "purchase": 1}
