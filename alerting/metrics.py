"""Alerting's Prometheus metrics, read at scrape time from the engine's running totals: evaluations (and
their failures), state changes, notices sent and failed, and whether this replica leads."""

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerting.engine import Engine
from alerting.leader import Leadership


class AlertingCollector(Collector):
    def __init__(self, engine: Engine, leadership: Leadership) -> None:
        self._engine = engine
        self._leadership = leadership

    def collect(self) -> Iterator[Metric]:
        stats = self._engine.stats
        for name, value, text in (
            ("evaluations", stats.evaluations, "Rule evaluations run by this replica while leading."),
            ("evaluation_errors", stats.evaluation_errors, "Rule evaluations that failed (the rule is retried)."),
            ("state_changes", stats.changes, "Rule state changes (OK, FIRING, RESOLVED) recorded."),
            ("notifications_sent", stats.sent, "Notices delivered to a channel."),
            ("notification_failures", stats.delivery_failures, "Delivery attempts that failed (retried with "
             "backoff, then marked failed)."),
        ):
            yield CounterMetricFamily(f"trackmint_alerting_{name}", text, value=value)
        yield GaugeMetricFamily("trackmint_alerting_leader", "1 while this replica holds the leadership lock.",
                                value=1 if self._leadership.is_leader else 0)
