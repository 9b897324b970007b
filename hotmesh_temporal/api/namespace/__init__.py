"""Temporal's ``temporal.api.namespace`` package (the parts this package serves)."""
