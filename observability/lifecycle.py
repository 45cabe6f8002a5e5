"""How every long-running service ends: on SIGINT or SIGTERM (or when its main task ends by itself), then
its graceful stop (DESIGN.md section 8: finish what is in hand, ack it, close connections)."""

import asyncio
import signal
from collections.abc import Awaitable, Callable


async def run_until_signalled(stop: Callable[[], Awaitable[None]], main: asyncio.Task | None = None) -> None:
    """Wait for SIGINT/SIGTERM, or for `main` to end, then await `stop()`."""
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signalled.set)
    waiter = asyncio.create_task(signalled.wait())
    try:
        await asyncio.wait({waiter} | ({main} if main is not None else set()), return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        await stop()
