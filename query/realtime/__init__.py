"""GraphQL for real-time: persons active in the last 5 minutes and events per minute over the last 30."""
