"""Prometheus metrics: request and publisher counters, outbox gauges, ``GET /metrics``."""
