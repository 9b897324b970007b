"""Temporal API message classes (the subset the SDK surface needs).

Mirrors the layout of ``temporalio.api``: ``api.common.v1`` and
``api.failure.v1`` hold protobuf-compatible messages implemented in pure
Python (see :mod:`hotmesh_temporal.api._message`).
"""
