"""The compiled app: typed dataclasses the compiler produces and the interpreter walks.

A compiled app is stored as JSON (``to_json``/``from_json``) in Postgres per version,
and travels inside each run's input so a run finishes on the version it started with.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import dacite

ACTIVITY_TYPES = ("trigger", "worker", "await", "hook", "cycle", "signal", "interrupt", "activity")
# Statuses a transition may test with ``code``; a worker's result defaults to 200.
DEFAULT_CODE = 200


@dataclass
class Match:
    expected: Any
    actual: Any


@dataclass
class Conditions:
    gate: str = "and"
    code: list[int] = field(default_factory=lambda: [DEFAULT_CODE])
    match: list[Match] = field(default_factory=list)


@dataclass
class Transition:
    to: str
    conditions: Conditions = field(default_factory=Conditions)


@dataclass
class HookRule:
    to: str
    conditions: Conditions = field(default_factory=Conditions)
    # The statement on the job's side of the correlation (evaluated when the hook
    # starts waiting) and on the payload's side (evaluated against a signal's data).
    job_key: Any = None
    signal_key: Any = None


@dataclass
class Retry:
    maximum_attempts: int = 3
    initial_interval: float = 1.0
    backoff_coefficient: float = 2.0
    maximum_interval: float | None = None


@dataclass
class Escalation:
    role: str = ""
    type: str = ""
    subtype: str = ""
    priority: int = 0
    description: Any = None
    metadata: Any = None
    envelope: Any = None


@dataclass
class Activity:
    id: str
    type: str
    title: str = ""
    topic: str = ""
    input_maps: Any = None
    output_maps: Any = None
    job_maps: Any = None
    # worker
    retry: Retry | None = None
    timeout: float = 60.0
    # await
    wait: bool = True
    # hook
    sleep: Any = None
    cycle: bool = False
    escalation: Escalation | None = None
    # cycle
    ancestor: str = ""
    # signal
    subtype: str = "one"
    key_value: Any = None
    signal_maps: Any = None
    # interrupt
    target: Any = None
    reason: Any = None
    throw: bool = True
    descend: bool = False
    code: int = 410


@dataclass
class Graph:
    subscribes: str
    trigger: str
    activities: dict[str, Activity]
    transitions: dict[str, list[Transition]] = field(default_factory=dict)
    hooks: dict[str, list[HookRule]] = field(default_factory=dict)
    publishes: str = ""
    input_schema: Any = None
    output_schema: Any = None
    expire: int = 0

    def parents(self, activity_id: str) -> list[str]:
        return [
            src for src, outs in self.transitions.items() if any(t.to == activity_id for t in outs)
        ]

    def descendants(self, activity_id: str) -> list[str]:
        seen: list[str] = []
        stack = [t.to for t in self.transitions.get(activity_id, [])]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.append(node)
                stack.extend(t.to for t in self.transitions.get(node, []))
        return seen

    def hook_rules_for(self, activity_id: str) -> list[tuple[str, HookRule]]:
        return [
            (topic, r) for topic, rules in self.hooks.items() for r in rules if r.to == activity_id
        ]


@dataclass
class CompiledApp:
    id: str
    version: str
    settings: dict[str, Any]
    graphs: list[Graph]

    def graph_for(self, topic: str) -> Graph | None:
        return next((g for g in self.graphs if g.subscribes == topic), None)

    def subset_for(self, topic: str) -> CompiledApp:
        """The graphs a run of ``topic`` can reach (itself and what it awaits)."""
        wanted, stack = [], [topic]
        while stack:
            graph = self.graph_for(stack.pop())
            if graph is None or graph in wanted:
                continue
            wanted.append(graph)
            stack.extend(a.topic for a in graph.activities.values() if a.type == "await")
        return CompiledApp(self.id, self.version, self.settings, wanted)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompiledApp:
        return dacite.from_dict(cls, data, config=dacite.Config(check_types=False))


def fingerprint(document: dict[str, Any]) -> str:
    """A content hash of a compiled app's JSON: equal hashes mean equal apps."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# Compiled apps by fingerprint, so a process decodes each version's graphs once rather
# than per run. Content-addressed, so a hit is always the same graphs (deterministic).
_DECODED: dict[str, CompiledApp] = {}
_DECODED_LIMIT = 256


def decode_app(document: dict[str, Any], print_: str | None) -> CompiledApp:
    if print_ is None:
        return CompiledApp.from_json(document)
    app = _DECODED.get(print_)
    if app is None:
        if len(_DECODED) >= _DECODED_LIMIT:
            _DECODED.clear()
        app = _DECODED[print_] = CompiledApp.from_json(document)
    return app
