"""Custom metric: counters and histograms recorded from workflow and activity code."""
