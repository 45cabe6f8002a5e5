"""Alerting over GraphQL: rules, channels, in-app events, backtests, and the alertFired subscription."""
