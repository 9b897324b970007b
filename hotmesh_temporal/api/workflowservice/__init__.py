"""Temporal's ``temporal.api.workflowservice`` package (the parts this package serves)."""
