"""The destinations service's Prometheus metrics, per destination (at most a few per project), read at scrape
time from the running workers: batches and events delivered, failed attempts, dead letters, and the events
still waiting for each destination."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from storage.leadership import Leadership

if TYPE_CHECKING:  # the service module imports this one
    from destinations.service import Dispatcher


class DestinationsCollector(Collector):
    def __init__(self, dispatcher: "Dispatcher", leadership: Leadership) -> None:
        self._dispatcher = dispatcher
        self._leadership = leadership

    def collect(self) -> Iterator[Metric]:
        workers = {str(key): running.worker for key, running in self._dispatcher.running.items()}
        families = {
            "delivered_batches": CounterMetricFamily(
                "trackmint_destinations_delivered_batches", "Batches a destination answered with a 2xx.",
                labels=["destination"]),
            "delivered_events": CounterMetricFamily(
                "trackmint_destinations_delivered_events", "Events delivered.", labels=["destination"]),
            "failed_attempts": CounterMetricFamily(
                "trackmint_destinations_failed_attempts", "Delivery attempts that failed (retried with backoff).",
                labels=["destination"]),
            "dead_letters": CounterMetricFamily(
                "trackmint_destinations_dead_letters", "Batches parked in the dead-letter list after the last retry.",
                labels=["destination"]),
        }
        pending = GaugeMetricFamily("trackmint_destinations_pending_events", "Messages of the destination's "
                                    "project not yet delivered (its consumer's lag), as last fetched.",
                                    labels=["destination"])
        for destination, worker in sorted(workers.items()):
            for name, family in families.items():
                family.add_metric([destination], getattr(worker.stats, name))
            if worker.pending is not None:
                pending.add_metric([destination], worker.pending)
        yield from families.values()
        yield pending
        yield GaugeMetricFamily("trackmint_destinations_workers", "Destinations this replica delivers to.",
                                value=len(workers))
        yield GaugeMetricFamily("trackmint_destinations_leader", "1 on the replica holding the leadership lock.",
                                value=1 if self._leadership.is_leader else 0)
