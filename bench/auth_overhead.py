"""What authentication and rate limiting cost ingest per batch and per event.

    python bench/auth_overhead.py [--batches N] [--batch-size N]

Ingest authenticates a call from its key cache (a SHA-256 of the key and a
dictionary hit) and checks the key's token bucket once per batch; a Stream
authenticates once for all its batches. This measures both on this machine
with a warm cache, next to the cost of the rest of the per-batch ingest work
(validation and building the JetStream message), and prints one JSON object.
"""

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.workload import wire_event
from config import load_settings
from ingest.auth import KeyResolver
from ingest.publisher import chunk_events
from ingest.rate_limit import RateLimiter
from ingest.validation import Limits, ValidationStats, validate_batch
from storage.api_keys import generate_key
from trackmint.v1 import batch_pb2


class _OneLookupStore:
    """Answers the first (cold) key lookup like PostgreSQL would; any later lookup means the cache missed."""

    def __init__(self) -> None:
        self.lookups = 0

    async def fetchrow(self, *arguments):
        self.lookups += 1
        if self.lookups > 1:
            raise AssertionError("the measured lookups must be cache hits")
        return {"project_id": uuid4(), "rate_limit_events_per_second": None, "expires_at": None}


async def _auth_seconds_per_call(resolver: KeyResolver, key: str, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await resolver.grant_for(key)
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=500)
    arguments = parser.parse_args()
    settings = load_settings()

    key = generate_key()
    resolver = KeyResolver(_OneLookupStore(), ttl=3600)
    grant = asyncio.run(resolver.grant_for(key))  # the cold lookup fills the cache
    auth_call = asyncio.run(_auth_seconds_per_call(resolver, key, 20_000))
    digest = grant.key_digest

    limiter = RateLimiter(default_rate=10**12, burst_seconds=1)
    started = time.perf_counter()
    for _ in range(20_000):
        limiter.wait_for(digest, None, arguments.batch_size)
    limit_call = (time.perf_counter() - started) / 20_000

    limits, stats = Limits.from_settings(settings), ValidationStats()
    batches = []
    for sequence in range(arguments.batches):
        batch = batch_pb2.EventBatch(sequence=sequence, events=[wire_event(i) for i in range(arguments.batch_size)])
        batch.sent_at.GetCurrentTime()
        batches.append(batch.SerializeToString())
    started = time.perf_counter()
    for data in batches:
        validated = validate_batch(batch_pb2.EventBatch.FromString(data), limits, stats)
        for chunk in chunk_events(validated.accepted, 900_000):
            batch_pb2.IngestedBatch(project_id=str(grant.project_id), events=chunk).SerializeToString()
    other_per_batch = (time.perf_counter() - started) / len(batches)

    per_batch = auth_call + limit_call
    print(json.dumps({
        "benchmark": "ingest_auth_overhead",
        "conditions": {
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
            "batch_size": arguments.batch_size,
            "cache": "warm (every call after the first within the key cache TTL)",
        },
        "auth_us_per_call": round(auth_call * 1e6, 2),
        "rate_limit_us_per_batch": round(limit_call * 1e6, 2),
        "other_ingest_work_us_per_batch": round(other_per_batch * 1e6, 1),
        "auth_and_limit_share_of_ingest_cpu_percent": round(per_batch / (per_batch + other_per_batch) * 100, 4),
        "auth_and_limit_us_per_event": round(per_batch / arguments.batch_size * 1e6, 4),
    }, indent=2))


if __name__ == "__main__":
    main()
