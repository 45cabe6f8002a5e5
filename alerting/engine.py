"""The leader's work: the scheduler (evaluate due rules), the dispatcher (send the delivery outbox) and the
scheduled email reports (alerting/reports.py).

Both loops run only on the leader and apart from each other, so a channel that
hangs never delays an evaluation. Within each loop every rule (delivery) is
its own task under a timeout and a shared concurrency limit: one slow or
failing rule or channel holds up no other. An evaluation that fails (a query
timeout, a rule the trends engine refuses) is recorded on the rule
(`last_error`) and retried at its next turn.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from alerting.channels import Senders
from alerting.errors import DeliveryError
from alerting.evaluation import evaluate
from alerting.reports import ReportScheduler
from alerting.state import step
from alerting.store import ClaimedDelivery, DueRule, claim_deliveries, due_rules, finish_delivery, record_evaluation
from config import Settings

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def public_url(settings: Settings) -> str:
    return settings.public_url or f"http://{settings.query_host}:{settings.query_port}"


@dataclass
class EngineStats:
    evaluations: int = 0
    evaluation_errors: int = 0
    changes: int = 0
    conflicts: int = 0
    sent: int = 0
    delivery_failures: int = 0


class Engine:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, senders: Senders, clock: Clock = utc_now) -> None:
        self._settings = settings
        self._pool = pool
        self._senders = senders
        self._clock = clock
        self._limit = asyncio.Semaphore(settings.alerting_concurrency)
        self._wake = asyncio.Event()
        self.stats = EngineStats()
        self.reports = ReportScheduler(settings, pool, senders, self._limit)

    def wake(self) -> None:
        """Run both loops now instead of at the next tick (tests, and after a change)."""
        self._wake.set()

    async def run(self) -> None:
        """The leader's work, until cancelled."""
        try:
            while True:
                started = time.monotonic()
                self.reports.tick(self._clock())  # in the background: a slow report never delays evaluation
                await asyncio.gather(self.evaluate_due(), self.dispatch_due())
                self._wake.clear()
                left = self._settings.alerting_tick_seconds - (time.monotonic() - started)
                if left > 0:
                    try:
                        async with asyncio.timeout(left):
                            await self._wake.wait()
                    except TimeoutError:
                        pass
        finally:
            await self.reports.stop()

    async def evaluate_due(self) -> None:
        try:
            async with self._pool.acquire() as connection:
                due = await due_rules(connection, self._clock())
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            logger.warning("alerting: cannot load due rules: %r", error)
            return
        await asyncio.gather(*(self._evaluate_one(item) for item in due))

    async def _evaluate_one(self, due: DueRule) -> None:
        settings = self._settings
        async with self._limit:
            now = self._clock()
            judged, error = None, None
            try:
                async with asyncio.timeout(settings.alerting_evaluation_timeout_seconds), \
                        self._pool.acquire() as connection:
                    judged = await evaluate(connection, due.rule, due.timezone, now,
                                            timedelta(seconds=settings.alerting_settle_seconds))
            except Exception as error_:  # any failure of one rule is recorded on it; the others go on
                error = f"{type(error_).__name__}: {error_}"
                self.stats.evaluation_errors += 1
                logger.warning("alerting: rule %s evaluation failed: %s", due.rule.id, error)
            self.stats.evaluations += 1
            next_step = None
            if judged is not None:
                next_step = step(due.state, judged.verdict.firing, now, timedelta(seconds=due.rule.cooldown_seconds))
            try:
                async with self._pool.acquire() as connection:
                    stored = await record_evaluation(connection, due, next_step, judged, now, error)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as db_error:
                logger.warning("alerting: cannot record rule %s: %r", due.rule.id, db_error)
                return
            if not stored:
                self.stats.conflicts += 1
                logger.info("alerting: rule %s changed by another replica; skipped", due.rule.id)
            elif next_step is not None and next_step.change is not None:
                self.stats.changes += 1
                logger.info("alerting: rule %s %s", due.rule.id, next_step.change.value,
                            extra={"rule_id": str(due.rule.id), "project_id": str(due.rule.project_id),
                                   "incident_id": str(next_step.state.incident_id)})
                self._wake.set()  # deliver now, not at the next tick

    async def dispatch_due(self) -> None:
        settings = self._settings
        stale = timedelta(seconds=settings.alerting_delivery_timeout_seconds * 3 + settings.alerting_tick_seconds)
        try:
            async with self._pool.acquire() as connection:
                claimed = await claim_deliveries(connection, self._clock(), stale, public_url(settings))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            logger.warning("alerting: cannot claim deliveries: %r", error)
            return
        await asyncio.gather(*(self._deliver(item) for item in claimed))

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        settings = self._settings
        async with self._limit:
            started = time.monotonic()
            error = None
            try:
                async with asyncio.timeout(settings.alerting_delivery_timeout_seconds + 1):
                    await self._senders.send(delivery.target, delivery.notice, delivery.id)
            except DeliveryError as failure:
                error = str(failure)
            except TimeoutError:
                error = f"timed out after {settings.alerting_delivery_timeout_seconds:g} s"
            except Exception as failure:  # a bug in a sender must not stop the dispatcher
                logger.exception("alerting: delivery %s crashed", delivery.id)
                error = f"{type(failure).__name__}: {failure}"
            duration_ms = (time.monotonic() - started) * 1000
            try:
                async with self._pool.acquire() as connection:
                    status = await finish_delivery(
                        connection, delivery, self._clock(), error, duration_ms, settings.alerting_delivery_attempts,
                        timedelta(seconds=settings.alerting_retry_base_seconds),
                    )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as db_error:
                logger.warning("alerting: cannot record delivery %s: %r", delivery.id, db_error)
                return
            channel = delivery.target.kind if delivery.target else "in_app"
            if error is None:
                self.stats.sent += 1
            else:
                self.stats.delivery_failures += 1
                logger.warning("alerting: delivery %s via %s failed (attempt %d, now %s): %s", delivery.id, channel,
                               delivery.attempts, status, error)
