"""GraphQL of destinations (outbound webhooks): types, queries, mutations."""
