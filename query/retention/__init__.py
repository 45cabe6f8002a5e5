"""GraphQL for retention cohorts and active users (DAU, WAU, MAU, stickiness)."""
