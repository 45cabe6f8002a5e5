"""The `trackmint` command: run the whole system or one service, migrate, create projects."""
