"""GraphQL for accounts: registering, logging in, tokens and the current user."""
