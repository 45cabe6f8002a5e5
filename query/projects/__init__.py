"""GraphQL for projects and their write (API) keys."""
