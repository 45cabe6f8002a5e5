"""The events a benchmark sends: realistic sizes, a few names, a handful of properties."""

import json
import random
import time
import uuid

from trackmint.v1 import event_pb2

EVENT_NAMES = ("page_view", "button_click", "signup", "purchase", "search")


def properties_for(index: int) -> dict:
    return {
        "path": f"/products/{index % 500}",
        "plan": ("free", "pro", "team")[index % 3],
        "amount": round(random.random() * 100, 2),
        "items": index % 7,
        "experiment": {"name": "checkout-v2", "variant": index % 2},
    }


def wire_event(index: int) -> event_pb2.Event:
    """An event as the SDK puts it on the wire."""
    event = event_pb2.Event(
        message_id=str(uuid.uuid4()),
        type=event_pb2.EVENT_TYPE_TRACK,
        name=EVENT_NAMES[index % len(EVENT_NAMES)],
        user_id=f"user-{index % 5000}",
        anonymous_id=f"anon-{index % 9000}",
        properties_json=json.dumps(properties_for(index)),
    )
    event.timestamp.FromNanoseconds(time.time_ns())
    event.context.library.name = "trackmint-python"
    event.context.library.version = "0.1.0"
    event.context.user_agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
    return event
