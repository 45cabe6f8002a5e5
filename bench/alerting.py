"""Detector benchmark: precision and recall of each anomaly detector on generated series.

    python bench/alerting.py [--seeds 10] [--weeks 8]

Each seed generates `weeks` of hourly counts with weekly seasonality and noise
(tests/alerting/series.py); the first four weeks are clean history, the rest
carry injected one-hour spikes, drops (one or three hours) and day-long level
shifts. Every detector, with its default settings, judges every bucket of the
later weeks from the buckets before it, as a rule evaluated each hour would.

Scored per incident, as people experience alerts: an incident is a run of
consecutive firing buckets. Precision: incidents that overlap an anomaly
(its buckets or the few after it) / all incidents. Recall: anomalies with at
least one incident starting within them / all anomalies. Also the false
incidents on ordinary Monday mornings (06:00-12:00), where the plain z-score
mistakes the week's start for a spike. Prints one JSON object.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerting.detectors import DetectorKind, DetectorParams, Verdict, scan
from tests.alerting.series import DETECTION_SLACK, WEEK, GeneratedSeries, generate

DETECTORS = (DetectorKind.ZSCORE, DetectorKind.EWMA, DetectorKind.SEASONAL)
ANOMALY_KINDS = ("spike", "drop", "level_shift")
HISTORY_WEEKS = 4


MERGE_GAP = 3
"""Firing runs separated by fewer quiet buckets than this are one incident (as a rule's cooldown makes them)."""


def incidents(firing: list[bool], offset: int = 0) -> list[range]:
    """Runs of firing buckets (closer than MERGE_GAP merged), as index ranges shifted by `offset`."""
    runs: list[range] = []
    start = None
    for index, fired in enumerate([*firing, False]):
        if fired and start is None:
            start = index
        elif not fired and start is not None:
            if runs and start - runs[-1].stop < MERGE_GAP:
                start = runs.pop().start
            runs.append(range(start, index))
            start = None
    return [range(run.start + offset, run.stop + offset) for run in runs]


def score(series: GeneratedSeries, verdicts: list[Verdict], offset: int) -> dict[str, object]:
    """Incidents (true or not), anomalies caught by kind, and false incidents on Monday mornings, of one run."""
    runs = incidents([verdict.firing for verdict in verdicts], offset)
    caught_by_kind: dict[str, list[int]] = {name: [0, 0] for name in ANOMALY_KINDS}
    for anomaly in series.anomalies:
        caught = any(run.start in anomaly.window or anomaly.start in run for run in runs)
        caught_by_kind[anomaly.kind][0] += caught
        caught_by_kind[anomaly.kind][1] += 1
    monday_mornings = sum(
        1 for run in runs
        if not any(series.is_anomalous(index) for index in run)
        and (run.start % WEEK) // 24 == 0 and 6 <= run.start % 24 < 12
    )
    return {
        "incidents": len(runs),
        "true_incidents": sum(1 for run in runs if any(series.is_anomalous(index) for index in run)),
        "anomalies": len(series.anomalies),
        "caught": sum(caught for caught, _ in caught_by_kind.values()),
        "caught_by_kind": caught_by_kind,
        "monday_morning_false_incidents": monday_mornings,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def run(seeds: int, weeks: int) -> dict[str, object]:
    counters = ("incidents", "true_incidents", "anomalies", "caught", "monday_morning_false_incidents")
    totals = {kind: dict.fromkeys(counters, 0) for kind in DETECTORS}
    by_anomaly = {kind: {name: [0, 0] for name in ANOMALY_KINDS} for kind in DETECTORS}
    started = time.perf_counter()
    offset = HISTORY_WEEKS * WEEK
    for seed in range(seeds):
        series = generate(seed, weeks=weeks, clean_weeks=HISTORY_WEEKS)
        for kind in DETECTORS:
            result = score(series, scan(series.values, DetectorParams(kind), WEEK, start=offset), offset)
            for name in counters:
                totals[kind][name] += result[name]  # type: ignore[operator]
            for name, (caught, count) in result["caught_by_kind"].items():  # type: ignore[attr-defined]
                by_anomaly[kind][name][0] += caught
                by_anomaly[kind][name][1] += count
    elapsed = time.perf_counter() - started
    results = {}
    for kind, total in totals.items():
        params = DetectorParams(kind).with_defaults()
        results[kind.value] = {
            "precision": _ratio(total["true_incidents"], total["incidents"]),
            "recall": _ratio(total["caught"], total["anomalies"]),
            "recall_by_anomaly": {name: _ratio(hit, count) for name, (hit, count) in by_anomaly[kind].items()},
            **total,
            "settings": {"sensitivity": params.sensitivity, "min_volume": params.min_volume,
                         **({"lookback": params.lookback} if kind is not DetectorKind.SEASONAL else {}),
                         **({"alpha": params.alpha} if kind is DetectorKind.EWMA else {}),
                         **({"weeks": params.weeks} if kind is DetectorKind.SEASONAL else {})},
        }
    return {
        "benchmark": "alerting detectors",
        "conditions": {
            "seeds": seeds, "weeks": weeks, "history_weeks": HISTORY_WEEKS, "interval": "hour",
            "series": "weekday business hump (level 100-130), quiet nights (12) and weekends (10-25),"
                      " 8 % multiplicative noise plus count noise",
            "anomalies": "4 per later week, in weekday business hours: spikes x2-3 for 1 h, drops to 0-20 % for"
                         " 1 or 3 h, level shifts x0.4 or x2 for 24 h",
            "scoring": f"per incident (firing runs less than {MERGE_GAP} buckets apart merged); an anomaly is caught"
                       f" if an incident covers its start or starts within it or {DETECTION_SLACK} buckets after",
            "python": platform.python_version(), "seconds": round(elapsed, 2),
        },
        "detectors": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=8)
    arguments = parser.parse_args()
    print(json.dumps(run(arguments.seeds, arguments.weeks), indent=2))


if __name__ == "__main__":
    main()
