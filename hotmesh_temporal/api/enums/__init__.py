"""Temporal's ``temporal.api.enums`` package."""
