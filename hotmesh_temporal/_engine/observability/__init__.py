"""Metrics shared by the workers and the client (the environment-driven telemetry
settings live with the client: ``client/_telemetry.py``)."""
