"""Pure workflow runtime: activations, the workflow instance and its event loop, replay,
completion building, cron and the list-filter compiler. No I/O; imports only the type
modules."""

# One load order. The interceptor types this layer builds on are public names of
# ``hotmesh_temporal.worker`` (as in temporalio), and that package's __init__ loads the
# workers, which load the runtime. Loading it first, whichever engine module is asked for
# first, lets every module here import what it needs at module level.
import hotmesh_temporal.worker._interceptor  # noqa: E402, F401
