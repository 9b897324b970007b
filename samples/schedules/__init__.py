"""Schedules: start a workflow on a timetable, and manage the schedule from the client."""
