"""What ingest does with every batch, whatever transport brought it (gRPC or the HTTP bridge).

Batch limit, per-key rate limit, validation, enrichment, then one JetStream
publish; the answer is a BatchAck naming each refused event. Transports only
authenticate, decode their wire format into an EventBatch and encode the ack.
"""

from dataclasses import dataclass, field

from ingest.auth import Grant
from ingest.enrichment import EnrichmentContext, EnrichmentStats, enrich_batch
from ingest.errors import InvalidBatchError, RateLimitedError
from ingest.publisher import EventPublisher
from ingest.rate_limit import RateLimiter
from ingest.validation import Limits, ValidationStats, validate_batch
from trackmint.v1 import batch_pb2


@dataclass
class PipelineStats:
    validation: ValidationStats = field(default_factory=ValidationStats)
    enrichment: EnrichmentStats = field(default_factory=EnrichmentStats)
    rate_limited_batches: int = 0


class BatchPipeline:
    def __init__(
        self,
        limiter: RateLimiter,
        publisher: EventPublisher,
        limits: Limits,
        max_batch_events: int,
        enrichment: EnrichmentContext | None = None,
    ) -> None:
        self._limiter = limiter
        self._publisher = publisher
        self._limits = limits
        self.max_batch_events = max_batch_events
        self._enrichment = enrichment or EnrichmentContext()
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
        validated = validate_batch(batch, self._limits, self.stats.validation)
        enrich_batch(validated.accepted, self._enrichment, self.stats.enrichment)
        if not grant.store_ip:
            # Geo lookup is done; the address itself is personal data the project did not opt in to keep.
            for event in validated.accepted:
                event.context.ip = ""
        await self._publisher.publish(grant.project_id, validated.accepted, validated.received_at_ns)
        return batch_pb2.BatchAck(
            sequence=batch.sequence, accepted=len(validated.accepted), rejections=validated.rejections
        )
