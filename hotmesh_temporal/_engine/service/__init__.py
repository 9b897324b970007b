"""Typed operations over the store: schedules, visibility, standalone and asynchronous
activities. The public modules reach the database only through this layer."""
