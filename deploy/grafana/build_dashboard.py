"""Writes deploy/grafana/dashboards/trackmint-operations.json, the TrackMint operations dashboard that the
compose `monitoring` profile provisions in Grafana: `python deploy/grafana/build_dashboard.py`.

Panels are listed here once (title, PromQL, unit) so the JSON stays consistent; tests/deploy checks that
every metric a panel reads is one a service exports.
"""

import json
from pathlib import Path

DATASOURCE = {"type": "prometheus", "uid": "trackmint-prometheus"}
OUTPUT = Path(__file__).resolve().parent / "dashboards" / "trackmint-operations.json"

# (row, [(title, unit, [(expression, legend)])])
ROWS = [
    ("Ingest", [
        ("Events accepted per second", "ops", [("sum(rate(trackmint_ingest_events_accepted_total[1m]))", "accepted")]),
        ("Events rejected per second, by reason", "ops",
         [("sum by (reason) (rate(trackmint_ingest_events_rejected_total[5m]))", "{{reason}}")]),
        ("Batches refused per second", "ops",
         [("sum by (reason) (rate(trackmint_ingest_batches_refused_total[5m]))", "{{reason}}")]),
        ("Processors' backlog, share of the event stream", "percentunit",
         [("max(trackmint_ingest_processor_backlog_ratio)", "unstored")]),
        ("Publish latency (p50, p95)", "s", [
            ("histogram_quantile(0.5, sum by (le) (rate(trackmint_ingest_publish_seconds_bucket[5m])))", "p50"),
            ("histogram_quantile(0.95, sum by (le) (rate(trackmint_ingest_publish_seconds_bucket[5m])))", "p95"),
        ]),
    ]),
    ("Processor", [
        ("Consumer lag (messages)", "short", [
            ("max(trackmint_processor_consumer_pending)", "pending"),
            ("max(trackmint_processor_consumer_ack_pending)", "in flight"),
        ]),
        ("Events stored per second", "ops", [
            ("sum(rate(trackmint_processor_events_stored_total[1m]))", "stored"),
            ("sum(rate(trackmint_processor_duplicates_total[1m]))", "duplicates"),
        ]),
        ("Write latency (p50, p95)", "s", [
            ("histogram_quantile(0.5, sum by (le) (rate(trackmint_processor_write_seconds_bucket[5m])))", "p50"),
            ("histogram_quantile(0.95, sum by (le) (rate(trackmint_processor_write_seconds_bucket[5m])))", "p95"),
        ]),
        ("Events per batch write (mean)", "short", [(
            "sum(rate(trackmint_processor_batch_events_sum[5m]))"
            " / sum(rate(trackmint_processor_batch_events_count[5m]))",
            "events per write")]),
        ("Redeliveries, retries and dead letters per second", "ops", [
            ("sum(rate(trackmint_processor_redeliveries_total[5m]))", "redeliveries"),
            ("sum(rate(trackmint_processor_database_retries_total[5m]))", "database retries"),
            ("sum(rate(trackmint_processor_dead_letters_total[5m]))", "dead letters"),
        ]),
    ]),
    ("Query", [
        ("Query latency p95, by field", "s", [(
            "histogram_quantile(0.95, sum by (le, field) (rate(trackmint_query_seconds_bucket{type=\"query\"}[5m])))",
            "{{field}}")]),
        ("Queries per second, by field", "ops",
         [("sum by (field) (rate(trackmint_query_seconds_count[5m]))", "{{field}}")]),
        ("Errors per second, by code", "ops", [("sum by (code) (rate(trackmint_query_errors_total[5m]))", "{{code}}")]),
        ("Live subscriptions", "short", [("sum(trackmint_query_live_subscriptions)", "subscriptions")]),
    ]),
    ("Alerting and destinations", [
        ("Alert evaluations per minute", "short", [
            ("sum(rate(trackmint_alerting_evaluations_total[5m])) * 60", "evaluations"),
            ("sum(rate(trackmint_alerting_evaluation_errors_total[5m])) * 60", "errors"),
        ]),
        ("Notifications per minute", "short", [
            ("sum(rate(trackmint_alerting_notifications_sent_total[5m])) * 60", "sent"),
            ("sum(rate(trackmint_alerting_notification_failures_total[5m])) * 60", "failed"),
        ]),
        ("Leaders (should be 1 each)", "short", [
            ("sum(trackmint_alerting_leader)", "alerting"),
            ("sum(trackmint_destinations_leader)", "destinations"),
        ]),
        ("Destinations: delivered and failed per second", "ops", [
            ("sum(rate(trackmint_destinations_delivered_events_total[5m]))", "events delivered"),
            ("sum(rate(trackmint_destinations_failed_attempts_total[5m]))", "failed attempts"),
        ]),
        ("Destinations: events waiting, by destination", "short",
         [("max by (destination) (trackmint_destinations_pending_events)", "{{destination}}")]),
    ]),
]


def dashboard() -> dict:
    panels, y, panel_id = [], 0, 1
    for row, charts in ROWS:
        panels.append({"id": panel_id, "type": "row", "title": row, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}})
        panel_id, y = panel_id + 1, y + 1
        for index, (title, unit, targets) in enumerate(charts):
            panels.append({
                "id": panel_id, "type": "timeseries", "title": title, "datasource": DATASOURCE,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": y + 8 * (index // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"refId": chr(ord("A") + number), "datasource": DATASOURCE, "expr": expression,
                             "legendFormat": legend} for number, (expression, legend) in enumerate(targets)],
            })
            panel_id += 1
        y += 8 * ((len(charts) + 1) // 2)
    return {
        "uid": "trackmint-operations", "title": "TrackMint operations", "tags": ["trackmint"],
        "timezone": "browser", "schemaVersion": 39, "version": 1, "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"}, "panels": panels,
    }


if __name__ == "__main__":
    OUTPUT.write_text(json.dumps(dashboard(), indent=2) + "\n")
    print(f"wrote {OUTPUT}")
