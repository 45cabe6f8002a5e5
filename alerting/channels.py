"""Sending one notice through one channel: email (SMTP), Slack incoming webhook, signed webhook, in-app (NATS).

Every sender raises `DeliveryError` with a readable reason on any failure
(unreachable, refused, timed out, a non-2xx answer) and never waits longer
than its timeout; retries and backoff belong to the dispatcher, which records
every attempt.
"""

import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import aiosmtplib
import httpx
import orjson
from nats.aio.client import Client as NATS

from alerting.errors import DeliveryError
from alerting.notices import Notice, email_message, notice_payload, slack_message
from alerting.signing import DELIVERY_HEADER, SIGNATURE_HEADER, signature_header, webhook_secret
from config import Settings
from messaging.names import Names

USER_AGENT = "TrackMint-Alerts/1"


@dataclass(frozen=True)
class ChannelTarget:
    """A stored channel, as a sender needs it."""

    id: UUID
    kind: str  # "email", "slack", "webhook"
    name: str
    settings: dict[str, Any]
    secret_nonce: bytes | None = None


class Senders:
    """The senders of one alerting (or query) process, sharing its HTTP client and NATS connection."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient, nc: NATS | None = None) -> None:
        self._settings = settings
        self._http = http
        # Set when the process's NATS connection is up (it connects in the background); None until then.
        self.nc = nc
        self._names = Names(settings.nats_namespace)

    async def send(self, target: ChannelTarget | None, notice: Notice, delivery_id: UUID | None = None) -> None:
        """Send through `target` (None: the in-app push)."""
        if target is None:
            await self.publish_in_app(notice)
        elif target.kind == "email":
            await self.send_email(target, notice)
        elif target.kind == "slack":
            await self.send_slack(target, notice)
        elif target.kind == "webhook":
            await self.send_webhook(target, notice, delivery_id)
        else:
            raise DeliveryError(f"unknown channel kind {target.kind!r}")

    async def send_email(self, target: ChannelTarget, notice: Notice) -> None:
        settings = self._settings
        recipients = [str(address) for address in target.settings.get("to") or []]
        if not recipients:
            raise DeliveryError("the email channel has no recipients")
        await self.send_email_message(email_message(notice, settings.smtp_from, recipients))

    async def send_email_message(self, message: EmailMessage) -> None:
        """Send a composed message (its To header names the recipients) through the configured SMTP server."""
        settings = self._settings
        if not settings.smtp_host:
            raise DeliveryError("no SMTP server is configured (TRACKMINT_SMTP_HOST)")
        try:
            await aiosmtplib.send(
                message, hostname=settings.smtp_host, port=settings.smtp_port,
                # Empty (as compose passes an unset variable) means no login, like unset.
                username=settings.smtp_username or None, password=settings.smtp_password or None,
                use_tls=settings.smtp_tls == "tls", start_tls=settings.smtp_tls == "starttls",
                timeout=settings.alerting_delivery_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise DeliveryError(
                f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(error).__name__}: {error}"
            ) from None

    async def send_slack(self, target: ChannelTarget, notice: Notice) -> None:
        await self._post(str(target.settings.get("url") or ""), orjson.dumps(slack_message(notice)), {})

    async def send_webhook(self, target: ChannelTarget, notice: Notice, delivery_id: UUID | None) -> None:
        if target.secret_nonce is None:
            raise DeliveryError("the webhook channel has no signing secret")
        body = orjson.dumps(notice_payload(notice))
        secret = webhook_secret(self._settings.secret_key, target.secret_nonce)
        headers = {SIGNATURE_HEADER: signature_header(secret, int(time.time()), body)}
        if delivery_id is not None:
            headers[DELIVERY_HEADER] = str(delivery_id)
        await self._post(str(target.settings.get("url") or ""), body, headers)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        if not url.startswith(("http://", "https://")):
            raise DeliveryError("the channel has no http(s) URL")
        try:
            response = await self._http.post(
                url, content=body, timeout=self._settings.alerting_delivery_timeout_seconds,
                headers={"content-type": "application/json", "user-agent": USER_AGENT, **headers},
            )
        except httpx.TimeoutException as error:
            raise DeliveryError(f"POST {_origin(url)}: {type(error).__name__}: no answer within "
                                f"{self._settings.alerting_delivery_timeout_seconds:g} s") from None
        except httpx.HTTPError as error:
            raise DeliveryError(f"POST {_origin(url)}: {type(error).__name__}: {error}") from None
        if not response.is_success:
            raise DeliveryError(f"POST {_origin(url)}: HTTP {response.status_code} {response.text[:200]!r}")

    async def publish_in_app(self, notice: Notice) -> None:
        nc = self.nc
        if nc is None or not nc.is_connected:
            raise DeliveryError("NATS is not connected; the in-app push waits for it")
        try:
            await nc.publish(self._names.alerts_subject(str(notice.project_id)), orjson.dumps(notice_payload(notice)))
            await nc.flush(timeout=self._settings.alerting_delivery_timeout_seconds)
        except Exception as error:  # nats-py raises its own hierarchy and TimeoutError
            raise DeliveryError(f"NATS publish: {type(error).__name__}: {error}") from None


def _origin(url: str) -> str:
    # Never log or show a whole webhook URL: Slack's (and many others') carry their secret in the path.
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
