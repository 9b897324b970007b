"""Worker multiprocessing: several worker processes share one task queue."""
