"""Workers: the workflow worker, the activity worker, local activities, polling, the sweeper,
the time-skipping clock driver and the replayer. They use runtime, service and store."""
