"""Segment message factories for the bridge tests: plain functions building JSON-ready dicts."""

import uuid
from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def message(kind: str = "track", **fields: object) -> dict:
    """A valid Segment message of `kind`, with fields overriding or adding to the defaults."""
    base: dict[str, object] = {"type": kind, "messageId": str(uuid.uuid4()), "userId": "user-1",
                               "timestamp": now_iso()}
    if kind == "track":
        base["event"] = "Signed Up"
        base["properties"] = {"plan": "pro"}
    elif kind in ("page", "screen"):
        base["name"] = "Home"
        base["properties"] = {"url": "https://example.com/"}
    elif kind in ("identify", "group"):
        base["traits"] = {"email": "ada@example.com"}
    if kind == "group":
        base["groupId"] = "group-1"
    if kind == "alias":
        base["previousId"] = "anon-1"
    base.update(fields)
    return base
