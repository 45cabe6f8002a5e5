"""The ingest server as operators see it: health, reflection, JetStream outages and graceful shutdown."""

import asyncio
import contextlib

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cli.embedded import EmbeddedNats
from ingest.server import start_ingest
from messaging.streams import connect
from tests.ingest.support import stream_message_count
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.polling import eventually


@pytest.mark.parametrize("service", ["", "trackmint.v1.Ingest"])
async def test_health_check_reports_serving(ingest_server, service):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{ingest_server.port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service))

    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_check_of_an_unknown_service_is_not_found(ingest_server):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{ingest_server.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="nope.v1.Nope"))

    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def test_reflection_lists_the_ingest_service_and_describes_it(ingest_server):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{ingest_server.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="trackmint.v1.Ingest"),
        ]
        replies = [reply async for reply in stub.ServerReflectionInfo(iter(requests))]

    services = {service.name for service in replies[0].list_services_response.service}
    assert {"trackmint.v1.Ingest", "grpc.health.v1.Health"} <= services
    files = replies[1].file_descriptor_response.file_descriptor_proto
    assert files, replies[1].error_response
    assert any(b"ingest_service.proto" in raw for raw in files)


async def _send(stub, batch, key):
    try:
        return await stub.Send(batch, metadata=auth(key), timeout=15)
    except grpc.aio.AioRpcError as error:
        return error


async def test_jetstream_outage_is_unavailable_with_nothing_acked_then_sends_succeed_again(
    start_ingest_with, settings, project, tmp_path
):
    nats_dir = tmp_path / "own-nats"
    nats_server = EmbeddedNats(nats_dir).start()
    try:
        own = settings.model_copy(update={"nats_url": nats_server.url, "stream_storage": "file"})
        server = await start_ingest_with(own)
        channel, stub = ingest_stub(server.port)
        async with channel:
            first = await stub.Send(batch_of([track_event()], sequence=1), metadata=auth(project.write_key))
            assert first.accepted == 1

            nats_server.stop()
            during = batch_of([track_event(user_id=f"u{i}") for i in range(3)], sequence=2)
            refused = await _send(stub, during, project.write_key)
            assert isinstance(refused, grpc.aio.AioRpcError), f"acked while JetStream was down: {refused}"
            assert refused.code() == grpc.StatusCode.UNAVAILABLE
            assert "nothing was acked" in refused.details()

            nats_server = EmbeddedNats(nats_dir, port=nats_server.port).start()
            retried = await eventually(
                lambda: _send(stub, during, project.write_key),
                lambda reply: not isinstance(reply, grpc.aio.AioRpcError),
                within=20,
            )
            assert not isinstance(retried, grpc.aio.AioRpcError), retried
            assert (retried.sequence, retried.accepted) == (2, 3)

        nc = await connect(nats_server.url, name="outage-check", max_reconnect_attempts=0)
        try:
            # The first batch survived the restart; the refused-then-retried batch is there once.
            assert await stream_message_count(nc.jetstream(), own) == 2
        finally:
            await nc.close()
    finally:
        nats_server.stop()


async def test_graceful_shutdown_delivers_in_flight_acks_then_unavailable(
    start_ingest_with, settings, project, jetstream, monkeypatch
):
    server = await start_ingest_with(settings)
    publisher = server.service.pipeline._publisher
    publish = publisher.publish
    entered = 0
    release = asyncio.Event()

    async def held_publish(*args, **kwargs):
        nonlocal entered
        entered += 1
        await release.wait()  # keep the batch in flight until shutdown has begun
        return await publish(*args, **kwargs)

    monkeypatch.setattr(publisher, "publish", held_publish)
    channel, stub = ingest_stub(server.port)
    async with channel:
        call = stub.Stream(metadata=auth(project.write_key))
        for sequence in (1, 2, 3):
            await call.write(batch_of([track_event()], sequence=sequence))
        await eventually(lambda: asyncio.sleep(0, entered), lambda count: count == 3, within=5)
        assert entered == 3

        stopping = asyncio.create_task(server.stop(grace=5))
        await eventually(lambda: asyncio.sleep(0, server.service.draining.is_set()), bool, within=5)
        release.set()

        acks = []
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            while (ack := await call.read()) is not grpc.aio.EOF:
                acks.append(ack)
        with contextlib.suppress(grpc.aio.AioRpcError):
            await call.done_writing()
        await asyncio.wait_for(stopping, 10)

    assert sorted(ack.sequence for ack in acks) == [1, 2, 3]
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "shutting down" in ended.value.details()
    assert await stream_message_count(jetstream, settings) == 3  # every ack is durable


async def test_ingest_on_a_taken_port_fails_at_start_with_the_reason(settings, ingest_server):
    taken = settings.model_copy(update={"ingest_port": ingest_server.port})
    with pytest.raises(RuntimeError, match=str(ingest_server.port)):
        await start_ingest(taken)
    # The running server is unaffected.
    channel, _ = ingest_stub(ingest_server.port)
    async with channel:
        health_stub = health_pb2_grpc.HealthStub(channel)
        response = await health_stub.Check(health_pb2.HealthCheckRequest(service=""))
    assert response.status == health_pb2.HealthCheckResponse.SERVING
