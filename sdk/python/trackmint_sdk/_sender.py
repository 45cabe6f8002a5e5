"""The asyncio core both clients share: batching, the ingest stream, acks, retries, stats.

One ``Sender`` owns one gRPC channel and at most one ``Ingest.Stream`` call at a
time (a *session*). Its loop (``_run``) forms batches from the ``Buffer`` when
one is full, old enough (``flush_interval``) or wanted by ``flush()``, and
writes them while fewer than ``max_in_flight`` are un-acked. A reader task per
session matches acks to batches by sequence (they may come out of order).

When the stream ends, ``_status.classify`` decides: resend every un-acked
batch after backoff (or the server's retry-after), drop one batch the server
can never accept, or, for a refused write key, drop everything queued. Resends
keep their sequence numbers and go out before newer batches, so sequences
still increase within each stream; they are safe because the server stores
each message_id once.

Given several endpoints (ingest replicas), the sender uses one at a time and
moves to the next (round robin) when a stream to it fails in a way a replica
can cause (``_status.should_fail_over``: unreachable, killed, draining, no ack
in time); the un-acked batches are then resent to the new endpoint.

``flush()`` waits for a *watermark*: batches hold contiguous ranges of event
ordinals, so every event before ordinal N is settled (acked, rejected or
dropped) once no un-settled batch starts below N and the buffer has handed
out everything below N.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

import grpc

from trackmint.v1 import batch_pb2, event_pb2, ingest_service_pb2_grpc
from trackmint_sdk import _status
from trackmint_sdk._buffer import Buffer
from trackmint_sdk._channel import open_channel
from trackmint_sdk._options import Options
from trackmint_sdk.errors import (
    BatchTooLargeError,
    DeliveryError,
    InvalidBatchError,
    ServerUnavailableError,
    TrackMintError,
    UnauthorizedError,
)
from trackmint_sdk.events import UTC, set_timestamp
from trackmint_sdk.stats import Counters, DroppedByReason, Stats, latency_percentiles

logger = logging.getLogger(__name__)

_BATCH_OVERHEAD = 32
"""Bytes of an EventBatch besides its events (sequence, sent_at), rounded up."""

_HALF_CLOSE_WAIT = 1.0
"""Seconds close() gives the server to end an idle stream before cancelling it."""

_DROP_ERRORS: dict[str, type[DeliveryError]] = {
    "unauthorized": UnauthorizedError,
    "batch_too_large": BatchTooLargeError,
    "invalid_argument": InvalidBatchError,
}


class _Batch:
    """Events taken from the buffer together; ordinals ``first .. first+len-1``."""

    __slots__ = ("events", "first", "sent_at", "sequence", "size")

    def __init__(self, sequence: int, events: list[event_pb2.Event], first: int, size: int) -> None:
        self.sequence = sequence
        self.events = events
        self.first = first
        self.size = size
        self.sent_at = 0.0


class _Session:
    """One Ingest.Stream call and the batches written to it that are not acked yet."""

    __slots__ = ("call", "ended", "endpoint", "in_flight", "reader")

    def __init__(self, call: grpc.aio.StreamStreamCall, endpoint: int) -> None:
        self.call = call
        self.endpoint = endpoint
        self.in_flight: dict[int, _Batch] = {}
        self.ended = False
        self.reader: asyncio.Task[None] | None = None


class Sender:
    """The background half of a client. Create, ``start()`` and use it on one event loop."""

    def __init__(self, options: Options, buffer: Buffer) -> None:
        self._options = options
        self._buffer = buffer
        self._counters = Counters()
        self._loop = asyncio.get_running_loop()
        self._wake_event = asyncio.Event()
        self._metadata = ((_status.METADATA_AUTHORIZATION, f"Bearer {options.write_key}"),)
        self._channel: grpc.aio.Channel | None = None
        self._endpoint = 0
        """Index in ``options.endpoints`` of the endpoint the channel leads to."""
        self._retired_channels: set[asyncio.Task[None]] = set()
        self._stub: ingest_service_pb2_grpc.IngestStub | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: _Session | None = None
        self._retry: list[_Batch] = []
        self._next_sequence = 1
        self._sessions_opened = 0
        self._in_flight_events = 0
        self._resume_at = 0.0
        self._attempt = 0
        self._isolating = False
        self._waiters: list[tuple[int, asyncio.Future[bool]]] = []
        self._outage = False
        self._unauthorized_logged = False
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Open the channel (connections are made lazily) and start the send loop."""
        self._use_endpoint(0)
        self._task = self._loop.create_task(self._run(), name="trackmint-sender")

    @property
    def endpoint(self) -> str:
        """The ingest address the sender uses now."""
        return self._options.endpoints[self._endpoint]

    def _use_endpoint(self, index: int) -> None:
        """Point the sender at ``options.endpoints[index]``; the previous channel is closed in the background."""
        previous = self._channel
        self._endpoint = index
        self._channel = open_channel(self._options, self.endpoint)
        self._stub = ingest_service_pb2_grpc.IngestStub(self._channel)
        if previous is not None:
            closing = self._loop.create_task(previous.close())
            self._retired_channels.add(closing)
            closing.add_done_callback(self._retired_channels.discard)

    def _fail_over(self, session: _Session, status: str, details: str) -> None:
        """Move to the next endpoint, unless another failure of the same endpoint already did."""
        endpoints = self._options.endpoints
        if len(endpoints) < 2 or session.endpoint != self._endpoint:
            return
        failed = self.endpoint
        self._use_endpoint((self._endpoint + 1) % len(endpoints))
        self._counters.failovers += 1
        logger.warning(
            "trackmint: ingest at %s failed (%s: %s); switching to %s",
            failed,
            status,
            self._options.redact(details),
            self.endpoint,
        )

    def wake(self) -> None:
        """Tell the send loop the buffer changed. Call on the sender's loop."""
        self._wake_event.set()

    async def flush(self, limit: float | None = None) -> bool:
        """Wait until every event enqueued before this call is acked, rejected or dropped.

        False when ``limit`` seconds passed first.
        """
        target = self._buffer.inserted
        if self._watermark() >= target:
            return True
        future: asyncio.Future[bool] = self._loop.create_future()
        entry = (target, future)
        self._waiters.append(entry)
        self._wake_event.set()
        try:
            done, _ = await asyncio.wait({future}, timeout=limit)
            return bool(done)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    async def aclose(self, limit: float | None) -> bool:
        """Flush (up to ``limit`` seconds), then stop; whatever is still unsent is dropped as ``closed``."""
        if self._closed:
            return True
        completed = await self.flush(limit)
        self._closed = True
        self._buffer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
        leftover = self._buffer.drain() + sum(len(batch.events) for batch in self._retry)
        self._retry.clear()
        session = self._session
        if session is not None:
            if not session.in_flight:
                await self._half_close(session)
            leftover += sum(len(batch.events) for batch in session.in_flight.values())
            session.in_flight.clear()
            session.ended = True
            self._session = None
            await self._stop_session(session)
        self._in_flight_events = 0
        if leftover:
            self._drop("closed", leftover, "")
        self._settle()
        if self._channel is not None:
            await self._channel.close()
        if self._retired_channels:
            await asyncio.wait(set(self._retired_channels))
        return completed

    def snapshot(self) -> Stats:
        """The counters now; safe to call from any thread (reads integers only)."""
        counters, buffer = self._counters, self._buffer
        dropped = DroppedByReason(
            queue_full=buffer.dropped_full,
            unauthorized=counters.dropped["unauthorized"],
            batch_too_large=counters.dropped["batch_too_large"],
            invalid_argument=counters.dropped["invalid_argument"],
            closed=counters.dropped["closed"] + buffer.dropped_closed,
        )
        p50, p99 = latency_percentiles(counters.ack_latency_samples())
        return Stats(
            ack_latency_p50_ms=p50,
            ack_latency_p99_ms=p99,
            enqueued=buffer.offered,
            acked=counters.acked,
            rejected=counters.rejected,
            dropped=sum(vars(dropped).values()),
            dropped_by_reason=dropped,
            in_flight=self._in_flight_events,
            queued=len(buffer),
            reconnects=counters.reconnects,
            failovers=counters.failovers,
        )

    # -- the send loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A bug here must not silently stop delivery for the life of the process.
                logger.exception("trackmint: sender failed; continuing in 1 s")
                await asyncio.sleep(1)

    async def _step(self) -> None:
        """One turn of the send loop: check the stream, then send a batch or wait."""
        options = self._options
        self._wake_event.clear()
        now = time.monotonic()
        session = self._session
        if session is not None and session.in_flight:
            oldest = next(iter(session.in_flight.values()))
            if now - oldest.sent_at > options.ack_timeout:
                logger.warning(
                    "trackmint: no ack for batch %d in %.0f s; reconnecting",
                    oldest.sequence,
                    options.ack_timeout,
                )
                self._end_session(session, grpc.StatusCode.DEADLINE_EXCEEDED, (), "no ack in time")
                await self._stop_session(session)
                return
        if now < self._resume_at:
            await asyncio.sleep(self._resume_at - now)
            return
        limit = 1 if self._isolating else options.max_in_flight
        if session is not None and len(session.in_flight) >= limit:
            await self._wait(self._ack_deadline(session) - now)
            return
        batch = self._next_batch(now)
        if batch is None:
            timeout = None
            if len(self._buffer):
                timeout = max(0.0, self._buffer.first_at + options.flush_interval - now)
            if session is not None and session.in_flight:
                deadline = self._ack_deadline(session) - now
                timeout = deadline if timeout is None else min(timeout, deadline)
            await self._wait(timeout)
            return
        await self._send(batch)

    async def _wait(self, delay: float | None) -> None:
        """Sleep until woken (new events, an ack, a flush) or ``delay`` seconds pass."""
        timer = None
        if delay is not None:
            timer = self._loop.call_later(max(delay, 0.0), self._wake_event.set)
        try:
            await self._wake_event.wait()
        finally:
            if timer is not None:
                timer.cancel()

    def _ack_deadline(self, session: _Session) -> float:
        oldest = next(iter(session.in_flight.values()), None)
        if oldest is None:
            return time.monotonic() + self._options.ack_timeout
        return oldest.sent_at + self._options.ack_timeout + 0.001

    def _next_batch(self, now: float) -> _Batch | None:
        if self._retry:
            return self._retry.pop(0)
        options = self._options
        if not self._buffer.ready(now=now, flush_interval=options.flush_interval, urgent=bool(self._waiters)):
            return None
        events, first, size = self._buffer.take(options.batch_size, options.max_batch_bytes - _BATCH_OVERHEAD)
        if not events:
            return None
        batch = _Batch(self._next_sequence, events, first, size)
        self._next_sequence += 1
        self._in_flight_events += len(events)
        return batch

    async def _send(self, batch: _Batch) -> None:
        session = self._session or self._open_session()
        batch.sent_at = time.monotonic()
        session.in_flight[batch.sequence] = batch
        message = batch_pb2.EventBatch(sequence=batch.sequence, events=batch.events)
        # Set on every (re)send: the server corrects clock skew with it.
        set_timestamp(message.sent_at, datetime.now(UTC))
        write = self._loop.create_task(session.call.write(message))
        try:
            done, _ = await asyncio.wait({write}, timeout=self._options.ack_timeout)
        except asyncio.CancelledError:
            write.cancel()
            raise
        if not done:
            write.cancel()
            logger.warning("trackmint: ingest stopped reading the stream; reconnecting")
            self._end_session(session, grpc.StatusCode.DEADLINE_EXCEEDED, (), "write timed out")
            await self._stop_session(session)
            return
        if write.cancelled() or write.exception() is not None:
            # The stream ended; its reader learns the status and decides about every
            # batch written to it, this one included.
            if session.reader is not None:
                await asyncio.wait({session.reader}, timeout=self._options.ack_timeout)
            if not session.ended:
                reason = "cancelled" if write.cancelled() else repr(write.exception())
                self._end_session(session, grpc.StatusCode.UNKNOWN, (), f"write failed: {reason}")
                await self._stop_session(session)

    # -- sessions --------------------------------------------------------------------------

    def _open_session(self) -> _Session:
        assert self._stub is not None
        session = _Session(self._stub.Stream(metadata=self._metadata), self._endpoint)
        session.reader = self._loop.create_task(self._read(session), name="trackmint-acks")
        if self._sessions_opened:
            self._counters.reconnects += 1
        self._sessions_opened += 1
        self._session = session
        return session

    async def _read(self, session: _Session) -> None:
        try:
            while True:
                ack = await session.call.read()
                if ack is grpc.aio.EOF:
                    self._end_session(session, None, (), "stream closed by server")
                    return
                self._on_ack(session, ack)
        except grpc.aio.AioRpcError as error:
            self._end_session(session, error.code(), error.trailing_metadata() or (), error.details() or "")
        except asyncio.CancelledError:
            if not session.ended:  # the task itself was cancelled, not just the call
                raise
        except Exception as error:
            logger.exception("trackmint: reading acks failed")
            self._end_session(session, grpc.StatusCode.UNKNOWN, (), repr(error))
            session.call.cancel()

    async def _half_close(self, session: _Session) -> None:
        """End an idle stream politely: tell the server we are done and let it finish the call."""
        try:
            await asyncio.wait_for(session.call.done_writing(), _HALF_CLOSE_WAIT)
            if session.reader is not None:
                await asyncio.wait({session.reader}, timeout=_HALF_CLOSE_WAIT)
        except Exception as error:  # the stream is going away either way
            logger.debug("trackmint: half-closing the stream failed: %r", error)

    async def _stop_session(self, session: _Session) -> None:
        session.call.cancel()
        if session.reader is not None and session.reader is not asyncio.current_task():
            session.reader.cancel()
            await asyncio.wait({session.reader})

    def _on_ack(self, session: _Session, ack: batch_pb2.BatchAck) -> None:
        batch = session.in_flight.pop(ack.sequence, None)
        if batch is None:
            logger.debug("trackmint: ack for unknown batch %d ignored", ack.sequence)
            return
        self._in_flight_events -= len(batch.events)
        self._counters.acked += ack.accepted
        self._counters.ack_latencies.append(time.monotonic() - batch.sent_at)
        if ack.rejections:
            self._on_rejections(batch, ack)
        if self._outage:
            logger.info("trackmint: ingest reachable again; resent un-acked batches")
            self._outage = False
        self._attempt = 0
        self._unauthorized_logged = False
        if self._isolating and not self._retry:
            self._isolating = False
        self._settle()
        self._wake_event.set()

    def _on_rejections(self, batch: _Batch, ack: batch_pb2.BatchAck) -> None:
        error = _status.rejections_error(ack, batch_events=len(batch.events))
        self._counters.rejected += len(error.rejections)
        logger.warning("trackmint: %s", error)
        self._report(error)

    def _end_session(
        self, session: _Session, code: grpc.StatusCode | None, trailing: object, details: str
    ) -> None:
        """Decide what happens to a finished session's un-acked batches. Runs once per session."""
        if session.ended:
            return
        session.ended = True
        if self._session is session:
            self._session = None
        batches = sorted(session.in_flight.values(), key=lambda batch: batch.sequence)
        session.in_flight.clear()
        if self._closed:
            self._retry.extend(batches)  # aclose() counts them
            return
        decision = _status.classify(code, trailing)  # type: ignore[arg-type]
        status = code.name if code is not None else "OK"
        if _status.should_fail_over(code, decision):
            self._fail_over(session, status, details)
        if not batches and decision.action == _status.RESEND:
            # An idle stream ended (ingest restarting, a proxy timeout): nothing to resend,
            # and the next batch opens a new stream.
            logger.debug("trackmint: idle ingest stream ended (%s: %s)", status, details)
            return
        if decision.action == _status.DROP_ALL:
            self._drop_everything(batches, status, details)
        elif decision.action == _status.DROP_BATCH:
            self._drop_one(batches, decision, status, details)
        else:
            self._schedule_resend(batches, decision, status, details)
        self._settle()
        self._wake_event.set()

    def _schedule_resend(
        self, batches: list[_Batch], decision: _status.Decision, status: str, details: str
    ) -> None:
        self._requeue(batches)
        options = self._options
        if decision.retry_after is not None:
            delay = decision.retry_after
            logger.info("trackmint: rate-limited by ingest; resending in %.2f s", delay)
        else:
            delay = _status.backoff_delay(
                self._attempt, initial=options.initial_retry_delay, maximum=options.max_retry_delay
            )
            self._attempt += 1
            if not self._outage:
                level = logging.WARNING if decision.expected else logging.ERROR
                logger.log(
                    level,
                    "trackmint: ingest stream at %s ended (%s: %s); %d batches will be resent",
                    self.endpoint,
                    status,
                    details,
                    len(self._retry),
                )
                self._report(ServerUnavailableError(f"{status}: {details}", status=status))
            else:
                logger.debug("trackmint: retry %d failed (%s: %s)", self._attempt, status, details)
            self._outage = True
        self._resume_at = time.monotonic() + delay

    def _drop_one(self, batches: list[_Batch], decision: _status.Decision, status: str, details: str) -> None:
        victim = next((batch for batch in batches if batch.sequence == decision.sequence), None)
        if victim is None and len(batches) == 1:
            victim = batches[0]
        if victim is None:
            if batches:
                # The server did not say which batch; resend one at a time to find it.
                self._isolating = True
            logger.warning(
                "trackmint: ingest refused a batch (%s: %s); isolating it", status, details
            )
            self._requeue(batches)
            return
        batches.remove(victim)
        self._requeue(batches)
        self._in_flight_events -= len(victim.events)
        logger.error(
            "trackmint: ingest refused batch %d of %d events (%s: %s); dropped it",
            victim.sequence,
            len(victim.events),
            status,
            details,
        )
        self._drop(decision.drop_reason, len(victim.events), f"{status}: {details}", status)

    def _drop_everything(self, batches: list[_Batch], status: str, details: str) -> None:
        details = self._options.redact(details)
        batches = batches + self._retry
        self._retry = []
        count = sum(len(batch.events) for batch in batches)
        self._in_flight_events -= count
        count += self._buffer.drain()
        if not self._unauthorized_logged:
            logger.error(
                "trackmint: ingest at %s refused write key %s (%s: %s); dropping queued events",
                self.endpoint,
                self._options.key_hint,
                status,
                details,
            )
            self._unauthorized_logged = True
        self._drop("unauthorized", count, f"write key {self._options.key_hint} refused: {details}", status)
        # Do not hammer the server with a key it refuses; keep trying so a fixed key works.
        self._resume_at = time.monotonic() + _status.backoff_delay(
            self._attempt, initial=self._options.initial_retry_delay, maximum=self._options.max_retry_delay
        )
        self._attempt += 1

    def _requeue(self, batches: list[_Batch]) -> None:
        if batches:
            self._retry.extend(batches)
            self._retry.sort(key=lambda batch: batch.sequence)

    # -- accounting ------------------------------------------------------------------------

    def _drop(self, reason: str, count: int, details: str, status: str = "") -> None:
        if count <= 0:
            return
        self._counters.dropped[reason] += count
        error_type = _DROP_ERRORS.get(reason, DeliveryError)
        self._report(error_type(f"dropped {count} events ({reason}): {details}", dropped=count, status=status))

    def _report(self, error: TrackMintError) -> None:
        callback = self._options.on_error
        if callback is None:
            return
        try:
            callback(error)
        except Exception:
            logger.exception("trackmint: on_error callback raised")

    def _watermark(self) -> int:
        mark = self._buffer.taken
        for batch in self._retry:
            mark = min(mark, batch.first)
        if self._session is not None:
            for batch in self._session.in_flight.values():
                mark = min(mark, batch.first)
        return mark

    def _settle(self) -> None:
        if not self._waiters:
            return
        mark = self._watermark()
        for target, future in self._waiters:
            if target <= mark and not future.done():
                future.set_result(True)

