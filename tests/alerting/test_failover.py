"""Two alerting replicas: one leads; kill it and the other takes over, with no notice sent twice or missed."""

import asyncio

import asyncpg
import orjson

from config import Settings
from storage.projects import CreatedProject
from tests.alerting.conftest import Clock, Receiver, deliveries, wait_for
from tests.alerting.test_engine import add_signups, create_channels, create_threshold_rule, sent
from tests.query.tenant import Caller


async def test_killing_the_leader_hands_over_without_duplicate_or_missed_notices(
    db: asyncpg.Connection, caller: Caller, project: CreatedProject, alert_settings: Settings, clock: Clock,
    receiver: Receiver, start_replica,
):
    await add_signups(db, project.project_id, clock.now, 10)
    channels = await create_channels(db, caller, project, receiver)
    await create_threshold_rule(db, project, [channels["webhook"]])
    clock.advance(minutes=1)

    # The first leader opens the incident, but dies while the webhook is still being sent.
    receiver.behaviour["/hook"] = "hang"
    first = await start_replica("alerting-a")
    await wait_for(lambda: first.is_leader)
    second = await start_replica("alerting-b")
    await wait_for(lambda: len(receiver.hung) == 1)
    await asyncio.sleep(0.5)
    assert first.is_leader and not second.is_leader  # one leader at a time
    await first.abort()
    receiver.behaviour.clear()

    # The other replica takes over within its retry interval...
    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    await wait_for(lambda: second.is_leader, within=5)
    assert loop.time() - killed_at < 2 * alert_settings.alerting_leader_retry_seconds + 1
    # ...and sends the notice the dead leader had in hand once its claim is stale (same delivery id).
    clock.advance(seconds=10)
    second.engine.wake()
    await wait_for(lambda: len(receiver.on("/hook")) == 1)
    assert receiver.on("/hook")[0].headers["x-trackmint-delivery"] == receiver.hung[0].headers["x-trackmint-delivery"]

    # The incident goes on under the new leader: no second "fired", one "resolved".
    clock.advance(minutes=1)
    second.engine.wake()
    await wait_for(lambda: len(receiver.on("/hook")) == 2)
    for _ in range(3):
        clock.advance(minutes=1)
        second.engine.wake()
        await asyncio.sleep(0.3)
    assert [orjson.loads(post.body)["type"] for post in receiver.on("/hook")] == ["fired", "resolved"]
    rows = await deliveries(db, project.project_id)
    assert (sent(rows, "fired"), sent(rows, "resolved"), len(rows)) == (2, 2, 4)  # in-app and webhook, each


async def test_a_leader_killed_between_notices_is_replaced_and_the_incident_resolves_once(
    db: asyncpg.Connection, caller: Caller, project: CreatedProject, clock: Clock, receiver: Receiver,
    start_replica,
):
    await add_signups(db, project.project_id, clock.now, 10)
    channels = await create_channels(db, caller, project, receiver)
    await create_threshold_rule(db, project, [channels["webhook"], channels["slack"]])
    clock.advance(minutes=1)
    replicas = [await start_replica("alerting-a"), await start_replica("alerting-b")]
    await wait_for(lambda: any(replica.is_leader for replica in replicas))
    await wait_for(lambda: _sent_fired(db, project, 3))  # in-app, webhook and Slack, each recorded as sent
    assert len(receiver.on("/hook")) == 1 and len(receiver.on("/slack")) == 1
    leader = next(replica for replica in replicas if replica.is_leader)
    other = next(replica for replica in replicas if replica is not leader)
    await leader.abort()
    await wait_for(lambda: other.is_leader, within=5)
    # The new leader re-evaluates the still-firing minute: nothing new to say.
    other.engine.wake()
    await asyncio.sleep(0.5)
    assert len(receiver.on("/hook")) == 1
    clock.advance(minutes=1)
    other.engine.wake()
    await wait_for(lambda: len(receiver.on("/hook")) == 2 and len(receiver.on("/slack")) == 2)
    await asyncio.sleep(0.5)
    assert [orjson.loads(post.body)["type"] for post in receiver.on("/hook")] == ["fired", "resolved"]
    assert len(receiver.posts) == 4


async def _sent_fired(db: asyncpg.Connection, project: CreatedProject, expected: int) -> bool:
    return sent(await deliveries(db, project.project_id), "fired") == expected
