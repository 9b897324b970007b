"""Sleep for days: a workflow that wakes up once a month, for as long as it takes."""
