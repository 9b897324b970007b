"""Pydantic converter: pydantic models as workflow and activity inputs and outputs."""
