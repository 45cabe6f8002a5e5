"""GraphQL for top lists: the most frequent pages, referrers, countries, browsers, ... and property values."""
