"""Waiting for handlers, and compensating when the workflow is cancelled."""
