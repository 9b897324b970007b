"""Workers: the workflow worker, the activity worker, local activities, polling, the sweeper,
the time-skipping clock driver and the replayer. They use runtime, service and store."""

# One load order. The interceptor types this layer builds on are public names of
# ``hotmesh_temporal.worker`` (as in temporalio), and that package's __init__ loads the
# workers, which load the runtime. Loading it first, whichever engine module is asked for
# first, lets every module here import what it needs at module level.
import hotmesh_temporal.worker._interceptor  # noqa: E402, F401
