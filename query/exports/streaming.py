"""Streaming a large read as CSV in constant memory, at the pace the client reads it.

A stream holds one pooled connection inside one read-only REPEATABLE READ transaction (so every chunk
comes from the same snapshot) and pulls the next batch of rows only when the previous chunk has been
handed to the socket: Starlette awaits each `send`, and uvicorn's `send` waits while the socket's write
buffer is full, so a slow reader slows the database read instead of filling memory. The first batch is
read before the response starts, so a bad request or a timeout on the first statement is still an HTTP
error with a JSON body; a failure after that aborts the response mid-body (the client sees an incomplete
chunked transfer, never a silently truncated file).

Bounds, all per export:
- EXPORT_STATEMENT_TIMEOUT: each statement (one batch read) may run this long.
- EXPORT_IDLE_TIMEOUT: the database ends a transaction left idle this long (a client that stopped reading).
- EXPORT_SEND_TIMEOUT: one chunk may wait this long for the client to take it before the export is abandoned.
- EXPORT_MAX_DURATION: a whole export may last this long.
"""

import asyncio
import csv
import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from query.analytics.reading import WORK_MEM
from query.errors import BadUserInputError

logger = logging.getLogger(__name__)

EXPORT_STATEMENT_TIMEOUT = timedelta(seconds=120)
"""Longest one statement of an export may run (analytics statements get 30 s; an export's batches are simple)."""

EXPORT_IDLE_TIMEOUT = timedelta(minutes=5)
"""Longest an export's transaction may sit idle, waiting for its client to read."""

EXPORT_SEND_TIMEOUT = timedelta(minutes=5)
"""Longest one chunk may wait for the client before the export is abandoned and its connection returned."""

EXPORT_MAX_DURATION = timedelta(hours=1)
"""Longest a whole export may stream; past it the response is aborted."""

BATCH_ROWS = 2000
"""Rows read from the database, and written to the socket, at a time."""

ISO_8601 = 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'
"""PostgreSQL `to_char` pattern of a timestamptz in the transaction's timezone, with its UTC offset."""

Row = Sequence[Any]
Batches = Callable[[asyncpg.Connection], AsyncIterator[Sequence[Row]]]
"""Reads an export's rows in batches on a connection already inside the export's transaction."""


@asynccontextmanager
async def export_transaction(connection: asyncpg.Connection, timezone: str) -> AsyncIterator[None]:
    """A read-only, single-snapshot transaction whose `to_char` and `::text` of times use `timezone`."""
    async with connection.transaction(readonly=True, isolation="repeatable_read"):
        await connection.execute(
            "SELECT set_config('statement_timeout', $1, true),"
            " set_config('idle_in_transaction_session_timeout', $2, true), set_config('TimeZone', $3, true),"
            " set_config('jit', 'off', true), set_config('work_mem', $4, true)",
            _milliseconds(EXPORT_STATEMENT_TIMEOUT), _milliseconds(EXPORT_IDLE_TIMEOUT), timezone, WORK_MEM,
        )
        yield


def _milliseconds(duration: timedelta) -> str:
    return f"{int(duration.total_seconds() * 1000)}ms"


def csv_text(rows: Iterable[Row]) -> bytes:
    """Rows as CSV (RFC 4180: CRLF line ends, quoting only where needed); None is an empty field."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


class CsvStreamingResponse(StreamingResponse):
    """A streaming response that always closes its body (and so returns its connection), even when the client
    leaves mid-way, and abandons a client that stops reading for EXPORT_SEND_TIMEOUT."""

    body_iterator: AsyncIterator[bytes]

    def __init__(self, content: AsyncIterator[bytes], close: Callable[[], Awaitable[None]], **options: Any) -> None:
        super().__init__(content, **options)
        self._close = close

    async def stream_response(self, send: Send) -> None:
        async def bounded_send(message: Message) -> None:
            async with asyncio.timeout(EXPORT_SEND_TIMEOUT.total_seconds()):
                await send(message)

        await super().stream_response(bounded_send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also when the body never started (the client left before the first chunk).
            await self.body_iterator.aclose()  # type: ignore[attr-defined]
            await self._close()


async def open_csv_stream(
    pool: asyncpg.Pool,
    *,
    timezone: str,
    header: Row | None,
    batches: Batches,
    filename: str,
    narrow: str,
    on_close: Callable[[], None] = lambda: None,
    encode: Callable[[Sequence[Row]], bytes] = csv_text,
    media_type: str = "text/csv; charset=utf-8",
) -> CsvStreamingResponse:
    """Start an export: read its first batch now (errors become HTTP errors), stream the rest on demand.

    `narrow` says what to narrow when the first statement times out; `on_close` runs once the stream ends.
    Rows are CSV after a `header` row unless `encode` says otherwise (and `header` is None).
    """
    stack = AsyncExitStack()
    stack.callback(on_close)
    try:
        connection = await stack.enter_async_context(pool.acquire())
        await stack.enter_async_context(export_transaction(connection, timezone))
        reader = batches(connection)
        stack.push_async_callback(reader.aclose)  # type: ignore[attr-defined]
        try:
            first = await anext(reader, None)
        except asyncpg.QueryCanceledError:
            raise BadUserInputError(
                f"the export took longer than {EXPORT_STATEMENT_TIMEOUT.total_seconds():.0f} s to start;"
                f" narrow {narrow}"
            ) from None
    except BaseException:
        await stack.aclose()
        raise

    async def body() -> AsyncIterator[bytes]:
        deadline = time.monotonic() + EXPORT_MAX_DURATION.total_seconds()
        rows = 0
        try:
            yield encode([*([header] if header is not None else []), *(first or ())])
            rows += len(first or ())
            if first is None:
                return
            async for batch in reader:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"export of {filename} exceeded {EXPORT_MAX_DURATION}")
                yield encode(batch)
                rows += len(batch)
            logger.info("export finished", extra={"filename": filename, "rows": rows})
        except (asyncio.CancelledError, GeneratorExit):
            logger.info("export abandoned by its client", extra={"filename": filename, "rows": rows})
            raise
        except Exception:
            logger.warning("export aborted after %d rows of %s", rows, filename, exc_info=True)
            raise

    return CsvStreamingResponse(
        body(),
        stack.aclose,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            # Proxies must not buffer (or transform) the stream; the data is private to the caller.
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        },
    )
