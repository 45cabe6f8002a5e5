"""GraphQL for an organization's members: listing, inviting, re-roling and removing them."""
