"""Temporal's ``temporal.api.taskqueue`` package (the parts this package serves)."""
