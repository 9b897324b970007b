"""Batch sliding window: process a large batch with a bounded number of records in flight."""
