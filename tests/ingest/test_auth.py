"""Write-key authentication over gRPC: refused calls say why and store nothing."""

import grpc
import pytest

from storage.api_keys import create_api_key, hash_key
from tests.ingest.support import stream_message_count
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.polling import eventually

BAD_METADATA = {
    "missing key": ((), "missing write key"),
    "basic scheme": ((("authorization", "Basic dXNlcjpwYXNz"),), "Bearer <write key>"),
    "bearer without key": ((("authorization", "Bearer   "),), "Bearer <write key>"),
    "bare key in authorization": ((("authorization", "tm_live_abc"),), "Bearer <write key>"),
    "unknown key": ((("authorization", "Bearer tm_live_" + "x" * 32),), "unknown, revoked or expired write key"),
    "unknown x-api-key": ((("x-api-key", "tm_live_" + "y" * 32),), "unknown, revoked or expired write key"),
    "absurdly long key": ((("x-api-key", "k" * 5000),), "unknown"),
}


@pytest.mark.parametrize(("metadata", "message"), BAD_METADATA.values(), ids=BAD_METADATA.keys())
async def test_send_without_a_usable_key_is_unauthenticated_and_stores_nothing(
    ingest_server, settings, jetstream, metadata, message
):
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Send(batch_of([track_event()]), metadata=metadata)

    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert message in refused.value.details()
    assert await stream_message_count(jetstream, settings) == 0


async def test_stream_without_a_usable_key_is_unauthenticated_and_stores_nothing(ingest_server, settings, jetstream):
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        call = stub.Stream(metadata=auth("tm_live_" + "z" * 32))
        await call.write(batch_of([track_event()]))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call.read()

    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "unknown, revoked or expired write key" in refused.value.details()
    assert await stream_message_count(jetstream, settings) == 0


async def test_x_api_key_metadata_authenticates(ingest_server, project, settings, jetstream):
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        ack = await stub.Send(batch_of([track_event()], sequence=5), metadata=(("x-api-key", project.write_key),))

    assert (ack.sequence, ack.accepted) == (5, 1)
    assert await stream_message_count(jetstream, settings) == 1


async def test_bearer_scheme_is_case_insensitive(ingest_server, project):
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        ack = await stub.Send(batch_of([track_event()]), metadata=(("authorization", f"bearer {project.write_key}"),))

    assert ack.accepted == 1


async def test_revoked_key_is_refused_once_the_cache_ttl_has_passed(
    start_ingest_with, settings, project, db, jetstream
):
    ttl = 0.5
    server = await start_ingest_with(settings.model_copy(update={"api_key_cache_ttl_seconds": ttl}))
    channel, stub = ingest_stub(server.port)
    async with channel:
        before = await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))
        assert before.accepted == 1
        await db.execute("UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1", hash_key(project.write_key))

        async def attempt() -> grpc.StatusCode:
            try:
                await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))
            except grpc.aio.AioRpcError as error:
                return error.code()
            return grpc.StatusCode.OK

        status = await eventually(attempt, lambda code: code == grpc.StatusCode.UNAUTHENTICATED, within=ttl + 3)
        assert status == grpc.StatusCode.UNAUTHENTICATED
        # Sends inside the TTL could still be acked (and so are in the stream); none after the refusal.
        stored = await stream_message_count(jetstream, settings)
        assert stored >= 1
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))

    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in refused.value.details()
    assert await stream_message_count(jetstream, settings) == stored


async def test_expired_key_is_unauthenticated(ingest_server, project, db):
    key = await create_api_key(db, project.project_id, label="expired")
    await db.execute("UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1", key.id)
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Send(batch_of([track_event()]), metadata=auth(key.key))

    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert key.prefix in refused.value.details()  # the display prefix tells the user which key
    assert key.key not in refused.value.details()  # but never the secret


async def test_cached_key_keeps_working_while_the_key_store_is_unreachable(database_url, project):
    import asyncio

    from ingest.auth import KeyResolver
    from ingest.errors import UnavailableError
    from storage.database import create_pool

    pool = await create_pool(database_url, size=1)
    resolver = KeyResolver(pool, ttl=0.01)
    assert (await resolver.grant_for(project.write_key)).project_id == str(project.project_id)
    await pool.close()  # PostgreSQL unreachable from here on
    await asyncio.sleep(0.02)  # the cached entry is past its TTL
    # Ingest keeps accepting for a key it verified recently (JetStream buffers the events) ...
    assert (await resolver.grant_for(project.write_key)).project_id == str(project.project_id)
    # ... but never lets an unverified key through: that is "retry later", not "unauthenticated".
    with pytest.raises(UnavailableError, match="retry later"):
        await resolver.grant_for("tm_live_" + "x" * 32)


async def test_last_use_of_a_key_is_recorded_without_a_write_per_batch(settings, db, project):
    from datetime import UTC, datetime, timedelta

    from ingest.server import start_ingest
    from tests.polling import eventually

    quick = settings.model_copy(update={"api_key_usage_flush_seconds": 0.2})
    last_used = "SELECT last_used_at FROM api_keys WHERE project_id = $1"
    assert await db.fetchval(last_used, project.project_id) is None
    server = await start_ingest(quick)
    try:
        channel, stub = ingest_stub(server.port)
        async with channel:
            for sequence in range(5):
                await stub.Send(batch_of([track_event()], sequence), metadata=auth(project.write_key))
        recorded = await eventually(lambda: db.fetchval(last_used, project.project_id), lambda at: at is not None)
    finally:
        await server.stop(grace=1)
    assert abs(recorded - datetime.now(UTC)) < timedelta(seconds=10)


async def test_key_use_noted_just_before_shutdown_is_still_recorded(settings, db, project):
    from ingest.server import start_ingest

    slow = settings.model_copy(update={"api_key_usage_flush_seconds": 3600})  # only the final flush writes
    server = await start_ingest(slow)
    channel, stub = ingest_stub(server.port)
    async with channel:
        await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))
    await server.stop(grace=1)
    assert await db.fetchval("SELECT last_used_at FROM api_keys WHERE project_id = $1", project.project_id)
