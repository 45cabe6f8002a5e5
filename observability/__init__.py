"""What operators see of every service: JSON logs with request ids, Prometheus metrics, health and readiness."""
