"""Runnable samples for hotmesh_temporal. Start with ``python -m samples.demo``."""
