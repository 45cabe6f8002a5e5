"""GraphQL for trends: counts of events per time bucket."""
