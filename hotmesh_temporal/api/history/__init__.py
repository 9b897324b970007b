"""Temporal's ``temporal.api.history`` package."""
