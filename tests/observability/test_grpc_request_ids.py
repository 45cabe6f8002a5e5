"""gRPC calls carry a request id into the logs written while they are handled: the caller's `x-request-id`
metadata when it is a plain token, else a new one; unary calls and streams alike, concurrent calls apart."""

import asyncio

import grpc

from observability.logs import RequestIdInterceptor, request_id


async def _unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await asyncio.sleep(0.01)  # let another call interleave
    return (request_id.get() or "").encode()


async def _stream(requests, context: grpc.aio.ServicerContext):
    async for _ in requests:
        await asyncio.sleep(0.01)
        yield (request_id.get() or "").encode()


async def test_unary_and_streamed_calls_log_under_their_own_request_id():
    server = grpc.aio.server(interceptors=[RequestIdInterceptor()])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(_unary),
        "Stream": grpc.stream_stream_rpc_method_handler(_stream),
    }),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            unary = channel.unary_unary("/test.Echo/Unary")
            stream = channel.stream_stream("/test.Echo/Stream")

            async def streamed(metadata: tuple) -> list[bytes]:
                call = stream(metadata=metadata)
                for _ in range(3):
                    await call.write(b"x")
                await call.done_writing()
                return [answer async for answer in call]

            given, generated, odd, stream_a, stream_b = await asyncio.gather(
                unary(b"", metadata=(("x-request-id", "batch-7"),)),
                unary(b""),
                unary(b"", metadata=(("x-request-id", "no spaces allowed"),)),
                streamed((("x-request-id", "stream-a"),)),
                streamed(()),
            )
        assert given == b"batch-7"
        assert len(generated) == 16 and len(odd) == 16 and generated != odd
        assert stream_a == [b"stream-a"] * 3
        assert len(set(stream_b)) == 1 and len(stream_b[0]) == 16
        assert request_id.get() is None  # nothing leaks into the caller's context
    finally:
        await server.stop(0)
