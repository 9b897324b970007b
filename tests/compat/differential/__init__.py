"""The differential suite: scenarios run on a real Temporal server and on hotmesh_temporal."""
