"""Write-key authentication over gRPC: refused calls say why and store nothing."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from ingest.auth import KeyResolver
from ingest.errors import UnavailableError
from ingest.server import start_ingest
from storage.api_keys import create_api_key, hash_key, revoke_api_key, rotate_api_key
from storage.database import create_pool
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
    slow = settings.model_copy(update={"api_key_usage_flush_seconds": 3600})  # only the final flush writes
    server = await start_ingest(slow)
    channel, stub = ingest_stub(server.port)
    async with channel:
        await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))
    await server.stop(grace=1)
    assert await db.fetchval("SELECT last_used_at FROM api_keys WHERE project_id = $1", project.project_id)


async def test_rotated_key_old_secret_works_during_the_grace_period_and_not_after(settings, db, project):
    # Cache TTL 1.5 s, grace 2.5 s: ingest learns the old secret's expiry at its next refresh (t≈1.6 s),
    # and then refuses it exactly at 2.5 s although that cache entry is still fresh.
    cached = settings.model_copy(update={"api_key_cache_ttl_seconds": 1.5})
    key_id = await db.fetchval("SELECT id FROM api_keys WHERE project_id = $1", project.project_id)
    server = await start_ingest(cached)
    try:
        channel, stub = ingest_stub(server.port)
        async with channel:
            await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))  # now cached
            rotated = await rotate_api_key(db, key_id, grace_seconds=2.5)
            assert rotated.key != project.write_key and rotated.project_id == project.project_id
            assert (await stub.Send(batch_of([track_event()]), metadata=auth(rotated.key))).accepted == 1
            await asyncio.sleep(1.6)
            ack = await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))  # still in grace
            assert ack.accepted == 1
            await asyncio.sleep(1.1)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert (await stub.Send(batch_of([track_event()]), metadata=auth(rotated.key))).accepted == 1
    finally:
        await server.stop(grace=1)


async def test_revoked_key_is_refused_by_a_running_ingest_within_five_seconds(ingest_server, db, project):
    key_id = await db.fetchval("SELECT id FROM api_keys WHERE project_id = $1", project.project_id)
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))  # cached as valid
        assert await revoke_api_key(db, key_id)
        revoked_at = time.monotonic()
        while True:
            try:
                await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.UNAUTHENTICATED
                break
            assert time.monotonic() - revoked_at < 5.0, "revoked key still accepted after 5 s"
            await asyncio.sleep(0.1)
    assert not await revoke_api_key(db, key_id)  # already revoked
