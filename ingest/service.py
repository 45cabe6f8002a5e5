"""The `trackmint.v1.Ingest` servicer: unary Send and bidirectional Stream.

A batch is answered with a BatchAck only after its accepted events are in
JetStream. Several batches of one stream are handled concurrently (their acks
may overtake each other; the sequence says which is which), bounded by
`max_in_flight` so a fast client cannot grow server memory without bound.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import grpc
from google.protobuf.message import DecodeError

from ingest import metadata_keys
from ingest.auth import Grant, KeyResolver, key_from_metadata
from ingest.errors import IngestError, InvalidBatchError, MalformedRequestError, RateLimitedError, UnavailableError
from ingest.key_usage import KeyUsageRecorder
from ingest.pipeline import BatchPipeline
from trackmint.v1 import batch_pb2, ingest_service_pb2_grpc

logger = logging.getLogger(__name__)

_END = object()


class MalformedBatch:
    """Stands in for a request that did not parse, so the servicer can answer it with a clear status."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def parse_batch(data: bytes) -> batch_pb2.EventBatch | MalformedBatch:
    try:
        return batch_pb2.EventBatch.FromString(data)
    except DecodeError as error:
        return MalformedBatch(str(error))


def _malformed(request: MalformedBatch) -> MalformedRequestError:
    return MalformedRequestError(f"request is not a valid trackmint.v1.EventBatch: {request.reason}")


def add_ingest_to_server(service: "IngestService", server: grpc.aio.Server, service_name: str) -> None:
    """Register like the generated helper, but parse requests leniently (see MalformedBatch)."""
    serialize = batch_pb2.BatchAck.SerializeToString
    handlers = {
        "Send": grpc.unary_unary_rpc_method_handler(
            service.Send, request_deserializer=parse_batch, response_serializer=serialize
        ),
        "Stream": grpc.stream_stream_rpc_method_handler(
            service.Stream, request_deserializer=parse_batch, response_serializer=serialize
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service_name, handlers),))


class IngestService(ingest_service_pb2_grpc.IngestServicer):
    def __init__(
        self, keys: KeyResolver, usage: KeyUsageRecorder, pipeline: BatchPipeline, max_in_flight: int = 16
    ) -> None:
        self._keys = keys
        self._usage = usage
        self.pipeline = pipeline
        self._max_in_flight = max_in_flight
        self.draining = asyncio.Event()

    async def _authenticate(self, context: grpc.aio.ServicerContext) -> Grant:
        grant = await self._keys.grant_for(key_from_metadata(context.invocation_metadata()))
        self._usage.record(grant.key_digest)
        return grant

    async def _handle(self, grant: Grant, batch: batch_pb2.EventBatch) -> batch_pb2.BatchAck:
        return await self.pipeline.accept(grant, batch)

    @staticmethod
    async def _abort(context: grpc.aio.ServicerContext, error: IngestError) -> None:
        trailing = ()
        if isinstance(error, InvalidBatchError):
            trailing = ((metadata_keys.BATCH_SEQUENCE, str(error.sequence)),)
        elif isinstance(error, RateLimitedError):
            trailing = ((metadata_keys.RETRY_AFTER, f"{error.retry_after:.3f}"),)
        await context.abort(error.status, str(error), trailing_metadata=trailing)

    async def Send(self, request: batch_pb2.EventBatch, context: grpc.aio.ServicerContext) -> batch_pb2.BatchAck:
        try:
            if self.draining.is_set():
                raise UnavailableError("server is shutting down; retry on another replica")
            grant = await self._authenticate(context)
            if isinstance(request, MalformedBatch):
                raise _malformed(request)
            return await self._handle(grant, request)
        except IngestError as error:
            await self._abort(context, error)
            raise AssertionError("unreachable") from error

    async def Stream(
        self, request_iterator: AsyncIterator[batch_pb2.EventBatch], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[batch_pb2.BatchAck]:
        try:
            grant = await self._authenticate(context)
        except IngestError as error:
            await self._abort(context, error)
            return
        results: asyncio.Queue = asyncio.Queue()
        reader = asyncio.create_task(self._read_stream(grant, request_iterator, results))
        first_error: IngestError | None = None
        try:
            # After a failure the reader takes no new batches, but the acks of batches already in
            # hand still go out before the call ends, so the client resends only what failed.
            while True:
                item = await results.get()
                if item is _END:
                    break
                if isinstance(item, IngestError):
                    first_error = first_error or item
                    continue
                yield item
            if first_error is not None:
                await self._abort(context, first_error)
            elif self.draining.is_set():
                await self._abort(context, UnavailableError("server is shutting down; reconnect to resend"))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read_stream(
        self, grant: Grant, requests: AsyncIterator[batch_pb2.EventBatch], results: asyncio.Queue
    ) -> None:
        """Read batches until the client half-closes, the server drains or a batch fails; handle each as a task."""
        slots = asyncio.Semaphore(self._max_in_flight)
        tasks: set[asyncio.Task] = set()
        failed = asyncio.Event()

        def fail(error: IngestError) -> None:
            results.put_nowait(error)
            failed.set()

        async def handle(batch: batch_pb2.EventBatch) -> None:
            try:
                results.put_nowait(await self._handle(grant, batch))
            except IngestError as error:
                fail(error)
            except Exception:
                logger.exception("unexpected failure handling batch %s", batch.sequence)
                fail(UnavailableError("internal error; nothing was acked, retry"))
            finally:
                slots.release()

        drain = asyncio.create_task(self.draining.wait())
        failure = asyncio.create_task(failed.wait())
        iterator = aiter(requests)
        next_batch: asyncio.Future | None = None
        try:
            while True:
                await slots.acquire()
                next_batch = asyncio.ensure_future(anext(iterator))
                # A read abandoned below may still fail later; its outcome is of no interest then.
                next_batch.add_done_callback(_retrieve_outcome)
                done, _ = await asyncio.wait({next_batch, drain, failure}, return_when=asyncio.FIRST_COMPLETED)
                if next_batch not in done:
                    slots.release()
                    break
                try:
                    batch = next_batch.result()
                except StopAsyncIteration:
                    slots.release()
                    break
                if isinstance(batch, MalformedBatch):
                    slots.release()
                    fail(_malformed(batch))
                    break
                task = asyncio.create_task(handle(batch))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise
        except Exception as error:  # the client went away
            logger.info("stream read ended: %r", error)
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            # A pending read is left to end with the call: cancelling it makes gRPC core replace the
            # status we abort with by INTERNAL. _retrieve_outcome consumes whatever it ends with.
            drain.cancel()
            failure.cancel()
        results.put_nowait(_END)


def _retrieve_outcome(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
