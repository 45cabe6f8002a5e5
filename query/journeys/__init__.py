"""GraphQL for journeys: one person's sessions with their events, and the top paths after or before an event."""
