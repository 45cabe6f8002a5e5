"""Analytics queries: one module per query, each building SQL with bound parameters only.

These modules know PostgreSQL and the schema, not GraphQL: they take plain
Python values and return dataclasses, so other front ends (exports, alerting
evaluation) can call them too.
"""
