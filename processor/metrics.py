"""The processor's Prometheus metrics: the consumer's running totals, write latency and batch sizes, and the
lag of the shared durable consumer (asked of JetStream when scraped: every replica reports the same lag)."""

from collections.abc import Iterator

from nats.js import JetStreamContext
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from messaging.names import Names
from processor.consumer import EventConsumer
from processor.live_notices import LivePublisher


class ProcessorCollector(Collector):
    def __init__(self, consumer: EventConsumer, live: LivePublisher | None, js: JetStreamContext,
                 names: Names) -> None:
        self._consumer = consumer
        self._live = live
        self._js = js
        self._names = names
        # (pending, waiting for ack, redelivered) as JetStream last said; None before the first scrape.
        self._lag: tuple[int, int, int] | None = None

    async def refresh(self) -> None:
        info = await self._js.consumer_info(self._names.events_stream, self._names.processor_consumer)
        self._lag = (info.num_pending or 0, info.num_ack_pending or 0, info.num_redelivered or 0)

    def collect(self) -> Iterator[Metric]:
        stats = self._consumer.stats
        for name, value, text in (
            ("batches", stats.batches, "Batches written and acked."),
            ("messages", stats.messages, "JetStream messages (event batches from ingest) handled."),
            ("events_stored", stats.events_stored, "Events newly stored."),
            ("duplicates", stats.duplicates, "Events already stored (redelivered or resent), skipped."),
            ("dead_letters", stats.dead_letters, "Messages dead-lettered (undecodable, or refused by PostgreSQL)."),
            ("events_dead_lettered", stats.events_dead_lettered, "Events dead-lettered."),
            ("database_retries", stats.database_retries, "Writes retried because PostgreSQL was unreachable."),
            ("redeliveries", stats.redeliveries, "Messages this replica received more than once."),
        ):
            yield CounterMetricFamily(f"trackmint_processor_{name}", text, value=value)
        people = self._consumer.writer_people_stats
        yield CounterMetricFamily("trackmint_processor_persons_created", "Persons created.",
                                  value=people.persons_created)
        yield CounterMetricFamily("trackmint_processor_person_merges", "Persons merged into others.",
                                  value=people.merges)
        yield from stats.write_seconds.collect()
        yield from stats.batch_events.collect()
        if self._live is not None:
            yield CounterMetricFamily("trackmint_processor_live_notices", "Live notices published for "
                                      "subscriptions.", value=self._live.stats.notices)
            yield CounterMetricFamily("trackmint_processor_live_failures", "Live notices that could not be "
                                      "published.", value=self._live.stats.failures)
        if self._lag is not None:
            pending, ack_pending, redelivered = self._lag
            yield GaugeMetricFamily("trackmint_processor_consumer_pending", "Messages in the stream not yet "
                                    "delivered to any processor (consumer lag).", value=pending)
            yield GaugeMetricFamily("trackmint_processor_consumer_ack_pending", "Messages delivered and not yet "
                                    "acked.", value=ack_pending)
            yield GaugeMetricFamily("trackmint_processor_consumer_redelivered", "Messages delivered more than "
                                    "once and not yet acked.", value=redelivered)
