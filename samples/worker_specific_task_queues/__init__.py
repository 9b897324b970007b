"""Worker-specific task queues: route a sequence of activities to the host that holds the file."""
