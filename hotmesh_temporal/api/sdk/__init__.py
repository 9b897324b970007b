"""Temporal's ``temporal.api.sdk`` package (see :mod:`hotmesh_temporal.api.sdk.v1`)."""
