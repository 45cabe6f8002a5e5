"""The raw limits of the pipeline's stages, measured with the benchmark's own events.

End-to-end throughput means little alone; these say what the stages could do
with nothing else in the way: one nats-py client publishing the same
IngestedBatch messages to a JetStream stream (file storage, async acks), and
PostgreSQL COPY of the same rows into a (temporary) table shaped like `events`.
"""

import asyncio
import time

import asyncpg
import nats
from nats.js.api import StorageType, StreamConfig

from bench.workload import wire_event
from messaging.streams import nats_servers
from processor.transform import STAGING_COLUMNS, rows_from_batch
from processor.writer import staging_table_ddl
from trackmint.v1 import batch_pb2


def envelopes(total_events: int, per_message: int, project_id: str) -> list[bytes]:
    payloads = []
    for start in range(0, total_events, per_message):
        batch = batch_pb2.IngestedBatch(
            project_id=project_id, events=[wire_event(start + i) for i in range(per_message)]
        )
        batch.received_at.GetCurrentTime()
        payloads.append(batch.SerializeToString())
    return payloads


async def jetstream_publish_rate(nats_url: str, namespace: str, payloads: list[bytes], per_message: int,
                                 replicas: int = 1) -> dict:
    stream = f"{namespace.upper()}RAWBENCH"
    subject = f"{namespace}rawbench"
    nc = await nats.connect(nats_servers(nats_url))
    js = nc.jetstream(timeout=30)
    await js.add_stream(StreamConfig(name=stream, subjects=[subject], storage=StorageType.FILE,
                                     num_replicas=replicas))
    window = 64
    started = time.perf_counter()
    for start in range(0, len(payloads), window):
        await asyncio.gather(*(js.publish(subject, payload) for payload in payloads[start:start + window]))
    elapsed = time.perf_counter() - started
    await js.delete_stream(stream)
    await nc.close()
    events = len(payloads) * per_message
    return {"events_per_s": round(events / elapsed), "events": events, "events_per_message": per_message,
            "stream_replicas": replicas}


async def postgres_copy_rate(database_url: str, payloads: list[bytes]) -> dict:
    rows = [row for payload in payloads for row in rows_from_batch(batch_pb2.IngestedBatch.FromString(payload))]
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(staging_table_ddl("raw_copy_bench"))
        await connection.execute("CREATE UNIQUE INDEX ON raw_copy_bench (project_id, message_id)")
        chunk = 5000
        started = time.perf_counter()
        for start in range(0, len(rows), chunk):
            await connection.copy_records_to_table(
                "raw_copy_bench", records=rows[start:start + chunk], columns=STAGING_COLUMNS
            )
        elapsed = time.perf_counter() - started
    finally:
        await connection.close()
    return {"rows_per_s": round(len(rows) / elapsed), "rows": len(rows), "rows_per_copy": chunk,
            "indexes": "unique (project_id, message_id)"}
