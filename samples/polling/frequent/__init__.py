"""Frequent polling: an activity polls in a loop and heartbeats between tries."""
