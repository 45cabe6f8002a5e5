"""The query service's Prometheus metrics: latency of every GraphQL operation by its type and root field
(trends, funnel, ...), errors by code, and the live subscriptions the replica serves.

`OperationMetrics` is a schema extension timing each execution (once per operation, not per field); it
finds the application's `QueryMetrics` in the request state, so several apps in one process keep apart.
"""

import time
from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode, OperationType
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from query.live.hub import LiveHub

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds: rollup reads take milliseconds, raw scans seconds; 30 s is the statement timeout."""


class QueryMetrics:
    """One query application's metrics and their registry (served at its /metrics)."""

    def __init__(self, live: LiveHub) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("trackmint_query_seconds", "Time to execute a GraphQL operation, seconds, by "
                                 "operation type and root field.", ["type", "field"], registry=self.registry,
                                 buckets=LATENCY_BUCKETS)
        self.errors = Counter("trackmint_query_errors", "GraphQL errors answered, by code.", ["code"],
                              registry=self.registry)
        self.registry.register(_LiveCollector(live))

    def observe(self, context: ExecutionContext, seconds: float) -> None:
        operation = _operation(context)
        if operation is None or operation.operation is OperationType.SUBSCRIPTION:
            return  # a subscription's execution lasts as long as the subscription
        self.latency.labels(operation.operation.value, _root_field(operation)).observe(seconds)
        for error in (context.result.errors if context.result else None) or ():
            code = (error.extensions or {}).get("code") or getattr(error.original_error, "code", None)
            self.errors.labels(str(code or "INTERNAL")).inc()


def _operation(context: ExecutionContext) -> OperationDefinitionNode | None:
    document = context.graphql_document
    if document is None:
        return None
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    if context.operation_name is not None:
        operations = [node for node in operations if node.name and node.name.value == context.operation_name]
    return operations[0] if len(operations) == 1 else None


def _root_field(operation: OperationDefinitionNode) -> str:
    """The operation's one root field (validated against the schema, so the label set is bounded), or
    "multiple" when it asks for several."""
    fields = {node.name.value for node in operation.selection_set.selections if isinstance(node, FieldNode)}
    if len(fields) == 1 and len(operation.selection_set.selections) == 1:
        return fields.pop()
    return "multiple"


class OperationMetrics(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        request = getattr(self.execution_context.context, "request", None)
        metrics = getattr(getattr(request, "state", None), "metrics", None)
        if isinstance(metrics, QueryMetrics):
            metrics.observe(self.execution_context, time.perf_counter() - started)


class _LiveCollector(Collector):
    def __init__(self, live: LiveHub) -> None:
        self._live = live

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("trackmint_query_live_subscriptions", "Live subscriptions (dashboards, feeds) "
                                "this replica serves.", value=len(self._live.inboxes()))
        stats = self._live.stats
        yield CounterMetricFamily("trackmint_query_live_notices", "Live notices received from the processors.",
                                  value=stats.notices)
        yield CounterMetricFamily("trackmint_query_live_deliveries", "Notices handed to subscriptions.",
                                  value=stats.deliveries)
