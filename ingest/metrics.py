"""Ingest's Prometheus metrics, read at scrape time from the running totals the pipeline already keeps
(nothing is counted twice, nothing per event is added to the hot path)."""

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ingest.pipeline import BatchPipeline
from ingest.publisher import EventPublisher


class IngestCollector(Collector):
    def __init__(self, pipeline: BatchPipeline, publisher: EventPublisher) -> None:
        self._pipeline = pipeline
        self._publisher = publisher

    def collect(self) -> Iterator[Metric]:
        stats = self._pipeline.stats
        yield CounterMetricFamily("trackmint_ingest_events_accepted", "Events stored in JetStream and acked.",
                                  value=stats.accepted_events)
        rejected = CounterMetricFamily("trackmint_ingest_events_rejected", "Events refused, by rejection code "
                                       "(validation and event schemas).", labels=["reason"])
        for reason, count in sorted(stats.validation.rejections.items()):
            rejected.add_metric([reason.removeprefix("REJECTION_CODE_")], count)
        yield rejected
        batches = CounterMetricFamily("trackmint_ingest_batches_refused", "Whole batches refused, by reason: the "
                                      "write key over its rate limit, the event stream unavailable, or the "
                                      "processors too far behind.",
                                      labels=["reason"])
        batches.add_metric(["rate_limited"], stats.rate_limited_batches)
        batches.add_metric(["unavailable"], stats.unavailable_batches)
        batches.add_metric(["processors_behind"], stats.backlog_refused_batches)
        yield batches
        backlog = self._pipeline.backlog.backlog if self._pipeline.backlog is not None else None
        if backlog is not None:
            yield GaugeMetricFamily("trackmint_ingest_processor_backlog_ratio", "Events the processors have not "
                                    "stored, as a share of the event stream's byte limit (ingest refuses above "
                                    "TRACKMINT_STREAM_BACKLOG_REFUSE_FRACTION).", value=backlog.fraction)
        yield CounterMetricFamily("trackmint_ingest_events_enriched", "Events enriched (user agent, geo, referrer).",
                                  value=stats.enrichment.events)
        schemas = self._pipeline.schemas
        if schemas is not None:
            violations = CounterMetricFamily("trackmint_ingest_schema_violations", "Events that broke their event "
                                             "schema, by the schema's mode.", labels=["mode"])
            for mode, count in sorted(schemas.stats.violations.items()):
                violations.add_metric([mode], count)
            yield violations
        dead_letters = self._pipeline.rejections
        if dead_letters is not None:
            yield CounterMetricFamily("trackmint_ingest_rejections_recorded", "Refused events recorded in the "
                                      "dead-letter stream.", value=dead_letters.stats.published_events)
            yield CounterMetricFamily("trackmint_ingest_rejections_unrecorded", "Refused events that could not be "
                                      "recorded in the dead-letter stream.", value=dead_letters.stats.failed_events)
        yield from self._publisher.latency.collect()
