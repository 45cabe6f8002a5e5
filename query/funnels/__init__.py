"""GraphQL for funnels: persons through ordered steps, with conversion and time between steps."""
