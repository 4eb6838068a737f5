"""Metric logic and the Prometheus push."""
