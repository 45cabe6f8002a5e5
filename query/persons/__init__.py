"""GraphQL for persons (identity), their sessions, and trait mappings."""
