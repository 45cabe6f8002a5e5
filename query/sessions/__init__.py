"""GraphQL for the sessions summary: counts, durations, bounce rate, entry and exit pages."""
