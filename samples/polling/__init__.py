"""Polling samples: waiting for an external service to be ready."""
