"""Pure workflow runtime: activations, the workflow instance and its event loop, replay,
completion building, cron and the list-filter compiler. No I/O; imports only the type
modules."""
