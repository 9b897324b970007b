"""Metrics and telemetry shared by the workers and the client."""
