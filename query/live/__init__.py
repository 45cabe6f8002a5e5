"""Live updates for GraphQL subscriptions: the NATS fan-out hub, bounded inboxes, access re-checks, and the
helpers that make a query live (results.py) and stream the event feed (feed.py)."""
