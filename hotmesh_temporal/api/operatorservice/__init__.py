"""Temporal's ``temporal.api.operatorservice`` package (the parts this package serves)."""
