"""Per-event cost of ingest enrichment, step by step, on realistic browser events.

Runs the real enrichment steps (ua-parser, MaxMind lookup, utm, referrer
channel) in-process over generated browser events and prints JSON: µs per
event for each step, for two workloads:

- `typical`: user agents and IPs drawn Zipf-like from a pool, as real traffic
  repeats them (so the per-process caches hit most of the time);
- `all_unique`: every event with a user agent and an IP never seen before
  (the worst case: every lookup misses the caches).

    python bench/enrichment.py [--events 200000] [--geo tests/data/geo/GeoLite2-City-Test.mmdb]
"""

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.enrichment import PIPELINE, EnrichmentContext, EnrichmentStats, enrich_batch, open_geo_database
from trackmint.v1 import event_pb2

_ROOT = Path(__file__).resolve().parent.parent
_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{v} "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPad; CPU OS 16_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) v{v}",
]
_IPS = ["81.2.69.142", "2.125.160.218", "89.160.20.130", "175.16.199.10", "216.160.83.58", "203.0.113.9"]
_REFERRERS = ["", "https://www.google.com/", "https://news.ycombinator.com/item?id=1", "https://t.co/abc",
              "https://mail.google.com/", "https://partner.example/blog", "https://duckduckgo.com/"]
_URLS = ["https://shop.example/", "https://shop.example/pricing?utm_source=newsletter&utm_medium=email",
         "https://shop.example/p/42?gclid=abc", "https://shop.example/blog/post?utm_source=twitter&utm_medium=social",
         "https://shop.example/signup"]


def _events(count: int, rng: random.Random, unique: bool) -> list[event_pb2.Event]:
    events = []
    for index in range(count):
        event = event_pb2.Event(message_id=str(index), type=event_pb2.EVENT_TYPE_PAGE, anonymous_id="a")
        context = event.context
        if unique:
            context.user_agent = rng.choice(_AGENTS).format(v=index)
            context.ip = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        else:
            # Zipf-like: a few browsers and addresses make most of the traffic.
            version = int(rng.paretovariate(1.2)) % 40 + 100
            context.user_agent = _AGENTS[min(int(rng.paretovariate(1.0)) - 1, len(_AGENTS) - 1)].format(v=version)
            context.ip = _IPS[min(int(rng.paretovariate(1.0)) - 1, len(_IPS) - 1)]
        context.page.url = rng.choice(_URLS)
        context.page.referrer = rng.choice(_REFERRERS)
        events.append(event)
    return events


def _measure(events: list[event_pb2.Event], context: EnrichmentContext, batch: int) -> dict:
    stats = EnrichmentStats()
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        enrich_batch(events[start:start + batch], context, stats)
    elapsed = time.perf_counter() - started
    return {
        "events": len(events),
        "us_per_event_total": round(elapsed / len(events) * 1e6, 2),
        "us_per_event_by_step": {name: round(stats.step_seconds[name] / len(events) * 1e6, 2) for name, _ in PIPELINE},
        "events_per_second_one_core": round(len(events) / elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--geo", type=Path, default=_ROOT / "tests/data/geo/GeoLite2-City-Test.mmdb")
    args = parser.parse_args()
    geo = open_geo_database(args.geo)
    try:
        context = EnrichmentContext(geo=geo)
        rng = random.Random(1)
        results = {
            "typical": _measure(_events(args.events, rng, unique=False), context, args.batch),
            "all_unique": _measure(_events(args.events // 10, rng, unique=True), context, args.batch),
        }
    finally:
        if geo is not None:
            geo.close()
    print(json.dumps({
        "benchmark": "ingest enrichment",
        "conditions": {"batch": args.batch, "geo_database": args.geo.name, "python": platform.python_version(),
                       "machine": platform.machine(), "note": "in-process, one core, caches cold at start"},
        **results,
    }, indent=2))


if __name__ == "__main__":
    main()
