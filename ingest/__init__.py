"""The gRPC ingest service: authenticate, validate, correct clock skew, publish to JetStream."""
