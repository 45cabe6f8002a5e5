"""What ingest does with every batch, whatever transport brought it (gRPC or the HTTP bridge).

Batch limit, per-key rate limit, validation, enrichment, the project's event
schemas, then one JetStream publish; the answer is a BatchAck naming each
refused event. Refused events are then recorded in the dead-letter stream
(ingest/rejections.py). Transports only authenticate, decode their wire format
into an EventBatch and encode the ack. Replaying recorded rejections
(ingest/replay.py) runs the same `check`.
"""

from dataclasses import dataclass, field

from ingest.auth import Grant
from ingest.backlog import BacklogGuard
from ingest.enrichment import EnrichmentContext, EnrichmentStats, enrich_batch
from ingest.errors import InvalidBatchError, RateLimitedError, UnavailableError
from ingest.publisher import EventPublisher
from ingest.rate_limit import RateLimiter
from ingest.rejections import RejectionPublisher, refused_event
from ingest.schemas import SchemaRegistry, check_schemas
from ingest.validation import Limits, ValidationStats, validate_batch
from trackmint.v1 import batch_pb2, event_pb2


@dataclass
class PipelineStats:
    validation: ValidationStats = field(default_factory=ValidationStats)
    enrichment: EnrichmentStats = field(default_factory=EnrichmentStats)
    rate_limited_batches: int = 0
    # Batches whose good events could not be made durable (the stream unavailable): nothing was acked.
    unavailable_batches: int = 0
    # Batches refused because the processors were too far behind (ingest/backlog.py): nothing was acked.
    backlog_refused_batches: int = 0
    # Events JetStream stored and ingest acked.
    accepted_events: int = 0


@dataclass
class CheckedBatch:
    """A batch after validation, enrichment and schemas: what to publish, what to answer, what to dead-letter."""

    accepted: list[event_pb2.Event]
    rejections: list[batch_pb2.Rejection]
    refused: list[batch_pb2.RejectedEvent]
    received_at_ns: int


class BatchPipeline:
    def __init__(
        self,
        limiter: RateLimiter,
        publisher: EventPublisher,
        limits: Limits,
        max_batch_events: int,
        enrichment: EnrichmentContext | None = None,
        schemas: SchemaRegistry | None = None,
        rejections: RejectionPublisher | None = None,
        backlog: BacklogGuard | None = None,
    ) -> None:
        self._limiter = limiter
        self._publisher = publisher
        self._limits = limits
        self.max_batch_events = max_batch_events
        self._enrichment = enrichment or EnrichmentContext()
        # Public for their running stats (`.stats`).
        self.schemas = schemas
        self.rejections = rejections
        self.backlog = backlog
        self.stats = PipelineStats()

    async def accept(self, grant: Grant, batch: batch_pb2.EventBatch) -> batch_pb2.BatchAck:
        """Publish the batch's valid events; raises IngestError when the batch as a whole is refused."""
        if len(batch.events) > self.max_batch_events:
            raise InvalidBatchError(
                f"batch {batch.sequence} has {len(batch.events)} events; the limit is {self.max_batch_events}",
                batch.sequence,
            )
        wait = self._limiter.wait_for(grant.key_digest, grant.rate_limit, len(batch.events))
        if wait:
            self.stats.rate_limited_batches += 1
            raise RateLimitedError(
                f"write key over its rate limit; retry batch {batch.sequence} after {wait:.3f}s", wait
            )
        # About what the batch adds to the stream (enrichment adds a little), counted from admission on.
        admitted = batch.ByteSize() if self.backlog is not None else 0
        if self.backlog is not None:
            try:
                self.backlog.admit(admitted)
            except UnavailableError:
                self.stats.backlog_refused_batches += 1
                raise
        published = 0
        try:
            checked = await self.check(grant.project_id, grant.store_ip, batch)
            published = await self._publisher.publish(grant.project_id, checked.accepted, checked.received_at_ns)
        except UnavailableError:
            self.stats.unavailable_batches += 1
            raise
        finally:
            if self.backlog is not None:
                self.backlog.settle(admitted, published)
        self.stats.accepted_events += len(checked.accepted)
        if self.rejections is not None:
            # After the good events are durable; never fails their ack (failures are logged and counted).
            await self.rejections.publish(grant.project_id, checked.received_at_ns, checked.refused)
        return batch_pb2.BatchAck(
            sequence=batch.sequence, accepted=len(checked.accepted), rejections=checked.rejections
        )

    async def check(
        self, project_id: str, store_ip: bool, batch: batch_pb2.EventBatch, received_at_ns: int | None = None
    ) -> CheckedBatch:
        """Validation, enrichment and schema steps, in place, without publishing; raises UnavailableError."""
        schemas = await self.schemas.schemas_for(project_id) if self.schemas is not None else {}
        validated = validate_batch(batch, self._limits, self.stats.validation, received_at_ns)
        enrich_batch(validated.accepted, self._enrichment, self.stats.enrichment)
        refused_indices = {rejection.index for rejection in validated.rejections}
        # validate_batch keeps the batch order, so the survivors' positions are the indices not refused.
        indices = [index for index in range(len(batch.events)) if index not in refused_indices]
        schema_check = check_schemas(schemas, validated.accepted, indices, self.schemas.stats) if schemas else None
        accepted = schema_check.accepted if schema_check else validated.accepted
        if not store_ip:
            # Geo lookup is done; the address itself is personal data the project did not opt in to keep.
            for event in accepted:
                event.context.ip = ""
        sent_at = batch.sent_at if batch.HasField("sent_at") else None
        received = validated.received_at_ns
        refused = [
            refused_event(batch.events[rejection.index], rejection, corrected=False, batch_sent_at=sent_at,
                          received_at_ns=received, store_ip=store_ip)
            for rejection in validated.rejections
        ]
        rejections = list(validated.rejections)
        for event, rejection in schema_check.rejected if schema_check else ():
            self.stats.validation.rejections[batch_pb2.RejectionCode.Name(rejection.code)] += 1
            refused.append(refused_event(event, rejection, corrected=True, batch_sent_at=sent_at,
                                         received_at_ns=received, store_ip=store_ip))
            rejections.append(rejection)
        if schema_check and schema_check.rejected:
            rejections.sort(key=lambda rejection: rejection.index)
        return CheckedBatch(accepted, rejections, refused, received)
