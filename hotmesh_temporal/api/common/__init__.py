"""Temporal ``common`` API package."""
