"""The Segment-compatible HTTP bridge: Segment/RudderStack JSON over HTTP into the same BatchPipeline as gRPC."""
