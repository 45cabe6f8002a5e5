"""Parking messages that can never be stored in the dead-letter stream, with their reason."""

import logging

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from messaging.names import (
    HEADER_DEAD_LETTER_DELIVERIES,
    HEADER_DEAD_LETTER_REASON,
    HEADER_ORIGINAL_SUBJECT,
    Names,
)

logger = logging.getLogger(__name__)


def _project_of(subject: str) -> str | None:
    _, _, last = subject.rpartition(".")
    return last or None


async def dead_letter(js: JetStreamContext, names: Names, msg: Msg, reason: str, *, data: bytes | None = None) -> None:
    """Publish the message (or `data`, the part of it that failed) with its reason, then stop its redelivery."""
    deliveries = msg.metadata.num_delivered if msg.metadata else 0
    await js.publish(
        names.dead_letter_subject(_project_of(msg.subject)),
        msg.data if data is None else data,
        headers={
            HEADER_DEAD_LETTER_REASON: reason[:1000],
            HEADER_DEAD_LETTER_DELIVERIES: str(deliveries),
            HEADER_ORIGINAL_SUBJECT: msg.subject,
        },
    )
    await msg.term()
    logger.error("dead-lettered message from %s after %s deliveries: %s", msg.subject, deliveries, reason)
