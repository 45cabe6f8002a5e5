"""One settings class for every service, validated at startup.

Values come from the environment with the prefix `TRACKMINT_` (for example
`TRACKMINT_DATABASE_URL`), then from an optional `.env` file.
"""

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, FilePath, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"
"""The default signing secret: fine on a laptop, refused in production mode."""
MIN_SECRET_KEY_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKMINT_", env_file=".env", extra="ignore")

    mode: Literal["development", "production"] = "development"
    log_level: str = "INFO"
    # "json": one JSON object per line (service, logger, level, request id), for log collectors; "text":
    # for a terminal. Unset: json in production mode, text in development.
    log_format: Literal["json", "text"] | None = None

    # Operations endpoints (/healthz, /readyz, /metrics) of the services without an HTTP server of their
    # own; unset: not served. The query service serves them on its own port.
    ops_host: str = "127.0.0.1"
    ingest_ops_port: int | None = Field(None, ge=0, le=65535)
    processor_ops_port: int | None = Field(None, ge=0, le=65535)
    alerting_ops_port: int | None = Field(None, ge=0, le=65535)
    destinations_ops_port: int | None = Field(None, ge=0, le=65535)
    # Where `trackmint up` keeps embedded PostgreSQL and NATS, and the state file
    # other commands read to reach them.
    data_dir: Path = Path(".trackmint")

    # Unset means "the embedded servers of data_dir".
    database_url: str | None = None
    nats_url: str | None = None
    # Prefix for stream, subject and consumer names, so installations can share a NATS server.
    nats_namespace: str = Field("", pattern=r"^[a-z0-9_]*$", max_length=32)
    database_pool_size: int = Field(10, ge=1, le=200)

    ingest_host: str = "127.0.0.1"
    ingest_port: int = Field(50051, ge=0, le=65535)
    query_host: str = "127.0.0.1"
    query_port: int = Field(8000, ge=0, le=65535)
    # The Segment-compatible HTTP bridge, served by the ingest process.
    bridge_host: str = "127.0.0.1"
    bridge_port: int = Field(8080, ge=0, le=65535)
    # Largest request body, counted after gzip decompression as well as on the wire.
    bridge_max_body_bytes: int = Field(2 * MIB, ge=KIB, le=64 * MIB)
    # Take the client IP from the left-most X-Forwarded-For entry: only behind a proxy that sets it,
    # otherwise any client could claim any address.
    bridge_trust_forwarded_for: bool = False
    # The bridge's URL as browsers reach it (`apiHost` in /v1/config); unset: the URL the request came to.
    bridge_public_url: str | None = None

    # JetStream stream of accepted events.
    stream_max_bytes: int = Field(10 * GIB, ge=MIB)
    stream_max_age_seconds: float = Field(timedelta(days=7).total_seconds(), gt=0)
    stream_duplicate_window_seconds: float = Field(120, gt=0)
    stream_replicas: int = Field(1, ge=1, le=5)
    stream_storage: Literal["file", "memory"] = "file"
    # Ingest refuses new batches (UNAVAILABLE, "processors are behind") while events not yet stored fill this
    # share of the stream: the stream drops its oldest messages when full, and those must be stored ones.
    stream_backlog_refuse_fraction: float = Field(0.8, gt=0, le=0.95)

    # Input limits enforced by ingest.
    max_batch_events: int = Field(1000, ge=1, le=10_000)
    max_batch_bytes: int = Field(1 * MIB, ge=KIB, le=64 * MIB)
    max_event_bytes: int = Field(32 * KIB, ge=256)
    max_id_length: int = Field(200, ge=16)
    max_name_length: int = Field(200, ge=16)
    max_properties_depth: int = Field(10, ge=1, le=64)
    max_event_future_seconds: float = Field(3600, ge=0)
    max_event_age_days: float = Field(730, gt=0)
    # Per write key and ingest replica, unless the project sets its own; 0 means unlimited.
    rate_limit_events_per_second: float = Field(10_000, ge=0)
    rate_limit_burst_seconds: float = Field(2.0, gt=0, le=60)
    api_key_cache_ttl_seconds: float = Field(5.0, gt=0, le=60)
    # How long ingest uses a project's compiled event schemas before reloading them.
    schema_cache_ttl_seconds: float = Field(5.0, gt=0, le=300)
    # How often ingest writes api_keys.last_used_at (never per batch).
    api_key_usage_flush_seconds: float = Field(10.0, gt=0, le=3600)
    shutdown_grace_seconds: float = Field(10.0, ge=0)
    # A MaxMind City database (GeoLite2-City.mmdb or GeoIP2-City.mmdb) for country, region and city
    # enrichment; unset turns geo enrichment off.
    geoip_database_path: FilePath | None = None

    # Accounts. The secret signs access tokens (JWT HS256); anyone who knows it can mint them.
    secret_key: str = DEVELOPMENT_SECRET_KEY
    access_token_ttl_seconds: int = Field(900, ge=10, le=86_400)
    refresh_token_ttl_days: float = Field(30, gt=0, le=365)

    # Processor.
    # Concurrent fetch→write loops per replica, so one transforms while another waits on PostgreSQL.
    processor_workers: int = Field(2, ge=1, le=16)
    processor_fetch_messages: int = Field(64, ge=1, le=10_000)
    processor_fetch_timeout_seconds: float = Field(0.25, gt=0)
    processor_ack_wait_seconds: float = Field(60, gt=1)
    processor_max_deliveries: int = Field(5, ge=1)
    processor_retry_max_seconds: float = Field(10, gt=0)

    # Live subscriptions (query service).
    # Notices a subscriber may have waiting; a slower client loses the oldest (and is told how many events).
    live_inbox_size: int = Field(64, ge=1, le=10_000)
    # Fewest seconds between two pushes of one chart subscription (its debounce).
    live_push_interval_seconds: float = Field(1.0, ge=0.05, le=60)
    # How often an open subscription re-checks its token, membership, role and project.
    live_access_check_seconds: float = Field(5.0, ge=0.1, le=300)
    # How long a new WebSocket may take to send `connection_init`.
    live_connection_init_seconds: float = Field(10.0, gt=0, le=300)

    # Alerting. Where notices link to (charts in the web UI); unset: http://<query_host>:<query_port>.
    public_url: str | None = None
    # Email notices go through this SMTP server; unset: email channels fail visibly ("no SMTP server").
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    # "starttls" upgrades a plain connection, "tls" is TLS from the start (usually port 465), "none" neither.
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "TrackMint <alerts@localhost>"
    # How often the alerting leader looks for due rules and deliveries.
    alerting_tick_seconds: float = Field(5.0, gt=0, le=60)
    # A replica that is not the leader tries to take the lock this often; the leader checks its lock connection
    # as often, so a dead leader is replaced within about the sum (well under a minute).
    alerting_leader_retry_seconds: float = Field(5.0, gt=0, le=30)
    alerting_leader_check_seconds: float = Field(5.0, gt=0, le=30)
    # The PostgreSQL advisory lock key of the alerting leader (change it only to run two installations in one
    # database).
    alerting_lock_key: int = 0x7472_6B61  # "trka"
    # Rules evaluated and deliveries sent at once; each with its own timeout, so a slow one holds up no other.
    alerting_concurrency: int = Field(8, ge=1, le=256)
    alerting_evaluation_timeout_seconds: float = Field(30.0, gt=0, le=600)
    alerting_delivery_timeout_seconds: float = Field(10.0, gt=0, le=120)
    # Attempts per delivery before it is marked failed; waits double from the base between attempts.
    alerting_delivery_attempts: int = Field(5, ge=1, le=20)
    alerting_retry_base_seconds: float = Field(5.0, gt=0, le=3600)
    # A bucket is judged once it ended this long ago, so events still in the pipeline do not look like a drop.
    alerting_settle_seconds: float = Field(30.0, ge=0, le=3600)

    # Destinations (outbound webhooks, destinations/). One replica leads (advisory lock) and runs every
    # destination's consumer; each destination has its own, so a slow target holds back only itself.
    destinations_lock_key: int = 0x7472_6B64  # "trkd"
    destinations_leader_retry_seconds: float = Field(5.0, gt=0, le=30)
    destinations_leader_check_seconds: float = Field(5.0, gt=0, le=30)
    # How often the leader notices created, changed, disabled and deleted destinations.
    destinations_refresh_seconds: float = Field(2.0, gt=0, le=60)
    # Stream messages fetched (and so at most unacked) per destination at once; each message is one ingest batch.
    destinations_fetch_messages: int = Field(50, ge=1, le=1000)
    destinations_fetch_timeout_seconds: float = Field(1.0, gt=0, le=30)
    # Most events, and bytes of JSON, in one POST.
    destinations_batch_max_events: int = Field(500, ge=1, le=10_000)
    destinations_batch_max_bytes: int = Field(1 * MIB, ge=64 * KIB, le=16 * MIB)
    destinations_delivery_timeout_seconds: float = Field(10.0, gt=0, le=120)
    # Attempts per batch before it is parked as a dead letter; waits double from the base (with jitter) up to max.
    destinations_max_attempts: int = Field(8, ge=1, le=30)
    destinations_retry_base_seconds: float = Field(1.0, gt=0, le=600)
    destinations_retry_max_seconds: float = Field(300.0, gt=0, le=3600)
    # Unacked messages of a replica that died are redelivered after this long (live ones are kept ours meanwhile).
    destinations_ack_wait_seconds: float = Field(30.0, ge=1, le=3600)
    # Dead letters kept per destination; past it the oldest are dropped (and counted).
    destinations_max_dead_letters: int = Field(10_000, ge=1, le=1_000_000)

    # The built web UI the query service serves at `/` (`make webui`); unset: webui/dist of this checkout.
    webui_dist_dir: Path | None = None

    @field_validator("database_url")
    @classmethod
    def _asyncpg_scheme(cls, value: str | None) -> str | None:
        # SQLAlchemy-style URLs are common in .env files; asyncpg wants the plain scheme.
        if value and value.startswith("postgresql+asyncpg://"):
            return "postgresql://" + value.removeprefix("postgresql+asyncpg://")
        return value

    @model_validator(mode="after")
    def _log_format_of_mode(self) -> "Settings":
        if self.log_format is None:
            self.log_format = "json" if self.mode == "production" else "text"
        return self

    @model_validator(mode="after")
    def _production_secret(self) -> "Settings":
        if self.mode == "production" and (
            self.secret_key == DEVELOPMENT_SECRET_KEY or len(self.secret_key) < MIN_SECRET_KEY_LENGTH
        ):
            raise ValueError(
                "TRACKMINT_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters in production mode (the default development secret "
                "would let anyone forge access tokens); generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return self


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides (CLI flags, tests) on top."""
    return Settings(**{key: value for key, value in overrides.items() if value is not None})
