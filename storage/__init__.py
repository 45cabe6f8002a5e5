"""The PostgreSQL schema every service shares: migrations, connections, partitions, API keys."""
