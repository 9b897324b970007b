"""Views shared by the operator tools (command line and web UI), built on the public client API."""
