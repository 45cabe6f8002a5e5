"""Wire-level names on NATS, in one place so producers and consumers cannot drift apart.

Stream, subject and consumer names live in a `Names` built from an optional
namespace (setting `TRACKMINT_NATS_NAMESPACE`, empty in production) so that
several TrackMint installations, or test runs, can share one NATS server.
"""

from dataclasses import dataclass

HEADER_MSG_ID = "Nats-Msg-Id"
"""JetStream de-duplication id of a published message."""

HEADER_DEAD_LETTER_REASON = "TrackMint-Dead-Letter-Reason"
"""Why a message was dead-lettered, in words."""

HEADER_DEAD_LETTER_DELIVERIES = "TrackMint-Deliveries"
"""How many times the processor was handed the message before giving up."""

HEADER_ORIGINAL_SUBJECT = "TrackMint-Original-Subject"
"""The subject a dead-lettered message was first published on."""


@dataclass(frozen=True)
class Names:
    namespace: str = ""

    @property
    def events_stream(self) -> str:
        """JetStream stream holding every accepted event batch until the processor stored it."""
        return f"{self.namespace.upper()}EVENTS"

    @property
    def events_subject_prefix(self) -> str:
        """Accepted batches are published on `<prefix>.<project_id>`."""
        return f"{self.namespace}events"

    @property
    def events_subjects(self) -> str:
        """Every project's event subject."""
        return f"{self.events_subject_prefix}.>"

    def events_subject(self, project_id: str) -> str:
        return f"{self.events_subject_prefix}.{project_id}"

    @property
    def dead_letter_stream(self) -> str:
        """Messages the processor could never store, and events ingest refused, kept with their reason."""
        return f"{self.namespace.upper()}EVENTS_DLQ"

    @property
    def dead_letter_subject_prefix(self) -> str:
        return f"{self.namespace}dlq.events"

    def dead_letter_subject(self, project_id: str | None) -> str:
        return f"{self.dead_letter_subject_prefix}.{project_id or 'unknown'}"

    @property
    def rejected_subject_prefix(self) -> str:
        """Events ingest refused (validation, schemas) are published on `<prefix>.<project_id>`, in the DLQ stream."""
        return f"{self.namespace}dlq.rejected"

    def rejected_subject(self, project_id: str) -> str:
        return f"{self.rejected_subject_prefix}.{project_id}"

    @property
    def dead_letter_subjects(self) -> list[str]:
        """Every subject of the dead-letter stream: processor dead letters and ingest rejections."""
        return [f"{self.dead_letter_subject_prefix}.>", f"{self.rejected_subject_prefix}.>"]

    @property
    def dead_letter_filter(self) -> str:
        """One subject filter matching every subject of the dead-letter stream."""
        return f"{self.namespace}dlq.>"

    @property
    def rejections_consumer(self) -> str:
        """Durable pull consumer on the dead-letter stream that records every message in `rejected_events`."""
        return f"{self.namespace}rejections"

    @property
    def replay_subject(self) -> str:
        """Core NATS request subject: replay recorded rejected events of a project through ingest."""
        return f"{self.namespace}ingest.replay"

    @property
    def replay_queue_group(self) -> str:
        """Queue group of the replay responders, so one ingest replica answers each request."""
        return f"{self.namespace}ingest-replay"

    @property
    def live_subject_prefix(self) -> str:
        """Core NATS (not JetStream): the processor publishes what it just committed on `<prefix>.<project_id>`."""
        return f"{self.namespace}live"

    @property
    def live_subjects(self) -> str:
        """Every project's live subject: what each query replica subscribes to, once."""
        return f"{self.live_subject_prefix}.*"

    def live_subject(self, project_id: str) -> str:
        return f"{self.live_subject_prefix}.{project_id}"

    @property
    def alerts_subject_prefix(self) -> str:
        """Core NATS: the alerting leader publishes each in-app alert event on `<prefix>.<project_id>`."""
        return f"{self.namespace}alerts"

    def alerts_subject(self, project_id: str) -> str:
        return f"{self.alerts_subject_prefix}.{project_id}"

    @property
    def processor_consumer(self) -> str:
        """Durable pull consumer shared by every processor replica."""
        return f"{self.namespace}processor"

    @property
    def destination_consumer_prefix(self) -> str:
        """Durable consumers of the events stream, one per destination: `<prefix><destination id hex>`."""
        return f"{self.namespace}dest_"

    def destination_consumer(self, destination_id: str) -> str:
        return f"{self.destination_consumer_prefix}{destination_id.replace('-', '')}"
