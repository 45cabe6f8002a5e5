"""GraphQL for the raw event log."""
