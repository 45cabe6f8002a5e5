"""Authentication for the query service: password hashing, tokens, login throttling."""
