"""Temporal ``failure`` API package."""
