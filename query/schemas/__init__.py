"""Event schemas, the record of rejected events and their replay, and event definitions."""
