"""Span and trace ids that a replay reproduces."""

from __future__ import annotations

import random
from typing import Any

from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import INVALID_SPAN_ID, INVALID_TRACE_ID

import hotmesh_temporal.workflow


def _workflow_id_random() -> random.Random | None:
    """The run's generator of span ids, made on first use from the workflow's seeded
    randomness (so a replay makes the same one at the same point); None outside
    workflow code and in queries and update validators, which must not draw from
    the workflow's randomness."""
    if not hotmesh_temporal.workflow.in_workflow():
        return None
    if hotmesh_temporal.workflow.unsafe.is_read_only():
        return None
    # The generator rides on the run (any attribute will do: it lives as long as the run).
    run: Any = hotmesh_temporal.workflow._runtime()
    generator = getattr(run, "_otel_id_random", None)
    if generator is None:
        generator = hotmesh_temporal.workflow.new_random()
        run._otel_id_random = generator
    return generator


def _draw(generator: random.Random, bits: int, invalid: int) -> int:
    value = generator.getrandbits(bits)
    while value == invalid:
        value = generator.getrandbits(bits)
    return value


class TemporalIdGenerator(IdGenerator):
    """Ids from the workflow's deterministic randomness inside workflow code, so a
    span re-created on replay has the id it had; ``id_generator``'s ids elsewhere."""

    def __init__(self, id_generator: IdGenerator):
        """Wrap ``id_generator``, used outside workflow code."""
        self._id_generator = id_generator

    def generate_span_id(self) -> int:
        """A 64-bit span id."""
        generator = _workflow_id_random()
        if generator is None:
            return self._id_generator.generate_span_id()
        return _draw(generator, 64, INVALID_SPAN_ID)

    def generate_trace_id(self) -> int:
        """A 128-bit trace id."""
        generator = _workflow_id_random()
        if generator is None:
            return self._id_generator.generate_trace_id()
        return _draw(generator, 128, INVALID_TRACE_ID)
