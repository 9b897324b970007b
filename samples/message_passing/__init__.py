"""Message passing samples: signals, queries and updates beyond hello world."""
