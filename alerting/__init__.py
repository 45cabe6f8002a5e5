"""Alerting: detectors, rule evaluation over the trends engine, the leader-elected scheduler, and channels."""
