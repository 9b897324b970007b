"""The web UI (``hotmesh-temporal ui``; needs the ``ui`` extra)."""
