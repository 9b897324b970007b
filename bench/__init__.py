"""Benchmarks of hotmesh_temporal against DESIGN.md section 5 (see README.md)."""
