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


_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
)
_IPS = ("81.2.69.142", "2.125.160.218", "89.160.20.130", "175.16.199.10", "216.160.83.58")
_REFERRERS = ("", "", "https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/x")
_PATHS = ("/", "/pricing", "/docs", "/blog/launch", "/signup", "/checkout")


def web_call(sent: int, client: int, visitors: int = 5000) -> tuple[str, tuple, dict]:
    """The `sent`-th SDK call of a web product's traffic: (method, args, kwargs).

    Visitors browse anonymously (page views with URL, referrer, user agent and IP, so ingest
    enriches them), click and search; every visitor identifies once, on their 8th call, which
    links the anonymous id to a user (a person merge in the processor), and is a user after.
    """
    visitor = sent % visitors
    step = sent // visitors
    anonymous_id = f"anon-{client}-{visitor}"
    user_id = f"user-{client}-{visitor}" if step >= 8 else None
    context = {"userAgent": _AGENTS[visitor % len(_AGENTS)], "ip": _IPS[visitor % len(_IPS)]}
    if step == 8:
        return "identify", (f"user-{client}-{visitor}",), {
            "anonymous_id": anonymous_id, "traits": {"email": f"visitor{visitor}@example.com", "plan": "free"},
            "context": context}
    ids = {"anonymous_id": anonymous_id, "user_id": user_id}
    if sent % 3:
        path = _PATHS[(visitor + step) % len(_PATHS)]
        context["page"] = {"url": f"https://shop.example{path}?utm_source=newsletter" if step == 0 else
                           f"https://shop.example{path}", "path": path,
                           "referrer": _REFERRERS[visitor % len(_REFERRERS)] if step == 0 else ""}
        return "page", (path,), {**ids, "context": context}
    return "track", (EVENT_NAMES[sent % len(EVENT_NAMES)],), {**ids, "properties": properties_for(sent),
                                                              "context": context}
