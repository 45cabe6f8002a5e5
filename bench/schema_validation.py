"""What checking events against a JSON Schema costs ingest, per event.

    python bench/schema_validation.py [--events N] [--rounds N]

Measures `check_schemas` (ingest/schemas.py) over events of one name with a
typical five-property schema (types, an enum, a minimum, two required keys):
valid events, events that break the schema in WARN mode, and the baseline of
events whose name has no schema. Also the one-off compile time of the schema.
Prints one JSON object; figures are microseconds per event on this machine.
"""

import argparse
import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.schemas import CompiledSchema, SchemaMode, SchemaStats, check_schemas, compile_schema
from trackmint.v1 import event_pb2

SCHEMA = {
    "type": "object",
    "properties": {
        "price": {"type": "number"},
        "currency": {"type": "string", "enum": ["EUR", "USD"]},
        "sku": {"type": "string"},
        "quantity": {"type": "integer", "minimum": 1},
        "coupon": {"type": "boolean"},
    },
    "required": ["price", "currency"],
}
VALID = {"price": 12.5, "currency": "EUR", "sku": "A-1", "quantity": 2, "coupon": False, "note": "gift"}
INVALID = {**VALID, "price": "12.50"}


def _events(count: int, name: str, properties: dict) -> list[event_pb2.Event]:
    text = json.dumps(properties)
    return [event_pb2.Event(message_id=str(uuid.uuid4()), type=event_pb2.EVENT_TYPE_TRACK, name=name,
                            user_id="u1", properties_json=text) for _ in range(count)]


def _per_event_us(schemas: dict, events: list[event_pb2.Event], rounds: int) -> float:
    indices = list(range(len(events)))
    best = float("inf")
    for _ in range(rounds):
        for event in events:
            event.enrichment.schema_violation = ""
        started = time.perf_counter()
        check_schemas(schemas, events, indices, SchemaStats())
        best = min(best, time.perf_counter() - started)
    return best / len(events) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()

    started = time.perf_counter()
    validate = compile_schema(SCHEMA)
    compile_ms = (time.perf_counter() - started) * 1000
    schemas = {"purchase": CompiledSchema("purchase", SchemaMode.WARN, b"", validate)}
    result = {
        "benchmark": "schema_validation",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "events": options.events,
        "schema_properties": len(SCHEMA["properties"]),
        "compile_ms": round(compile_ms, 2),
        "us_per_event_valid": round(_per_event_us(schemas, _events(options.events, "purchase", VALID),
                                                  options.rounds), 2),
        "us_per_event_violation_warn": round(_per_event_us(schemas, _events(options.events, "purchase", INVALID),
                                                           options.rounds), 2),
        "us_per_event_no_schema_for_name": round(_per_event_us(schemas, _events(options.events, "signup", VALID),
                                                               options.rounds), 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
