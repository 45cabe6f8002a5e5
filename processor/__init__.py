"""JetStream consumers that store events in PostgreSQL and keep rollups current."""
