"""YAML app manifests -> a validated :class:`CompiledApp`.

``compile_app(source)`` reads a manifest (a path or YAML text), pulls in ``$ref``
includes, and checks everything a run would otherwise trip over later: the app
header, one trigger per graph, unique activity ids across the app, activity fields per
type, every referenced activity and function, transitions (targets exist, no loops:
loops are ``cycle`` activities), conditions, hook rules and schemas. The first problem
raises :class:`DeployError`, whose message names the file, the graph and the activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import yaml
except ImportError as err:  # the optional extra
    raise ImportError(
        "hotmesh_temporal.hotmesh reads YAML with PyYAML: pip install 'hotmesh-temporal[yaml]'"
    ) from err

from hotmesh_temporal.hotmesh.model import (
    ACTIVITY_TYPES,
    Activity,
    CompiledApp,
    Conditions,
    Escalation,
    Graph,
    HookRule,
    Match,
    Retry,
    Transition,
)
from hotmesh_temporal.hotmesh.pipe import CONTEXT_ROOTS, known_function, reference_roots

# Fields an activity may carry. HotMesh fields this engine accepts but does not act on
# (docs/yaml.md, "Differences") are listed apart; anything else is a typo and refused.
ACTIVITY_FIELDS = {
    "type",
    "title",
    "topic",
    "input",
    "output",
    "job",
    "retry",
    "timeout",
    "await",
    "sleep",
    "cycle",
    "escalation",
    "ancestor",
    "subtype",
    "key_value",
    "signal",
    "target",
    "reason",
    "throw",
    "descend",
    "code",
}
IGNORED_ACTIVITY_FIELDS = {
    "emit",
    "persist",
    "statusThreshold",
    "statusThresholdType",
    "telemetry",
    "stats",
    "entity",
    "key_name",
    "resolver",
    "scrub",
    "status",
    "stack",
    "hook",
    "expire",
}
GRAPH_FIELDS = {
    "subscribes",
    "publishes",
    "input",
    "output",
    "activities",
    "transitions",
    "hooks",
    "expire",
    "persistent",
    "title",
    "description",
}
JSON_SCHEMA_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


class DeployError(ValueError):
    """A manifest that cannot be deployed; ``file``, ``graph`` and ``activity`` say where."""

    def __init__(
        self, problem: str, *, file: str = "", graph: str = "", activity: str = ""
    ) -> None:
        self.problem, self.file, self.graph, self.activity = problem, file, graph, activity
        where = [file or "<text>"]
        if graph:
            where.append(f"graph {graph!r}")
        if activity:
            where.append(f"activity {activity!r}")
        super().__init__(f"{': '.join(where)}: {problem}")


# ------------------------------------------------------------------------ YAML input


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with a repeated key (YAML allows it silently,
    and a repeated activity id would hide an activity)."""


def _construct_mapping(
    loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False
) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(text: str, file: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        raise DeployError(f"not valid YAML: {err}", file=file) from err


@dataclass
class _Source:
    document: Any
    file: str
    folder: Path | None


def _read_source(source: str | Path) -> _Source:
    if isinstance(source, Path) or (
        "\n" not in str(source) and str(source).endswith((".yaml", ".yml"))
    ):
        path = Path(source)
        if not path.is_file():
            raise DeployError("file not found", file=str(path))
        return _Source(
            _load_yaml(path.read_text(encoding="utf-8"), str(path)), str(path), path.parent
        )
    return _Source(_load_yaml(str(source), "<text>"), "<text>", None)


def _expand_refs(value: Any, folder: Path | None, file: str, depth: int = 0) -> Any:
    """Replace every ``{"$ref": "file.yaml[#/json/pointer]"}`` with the referenced
    document (relative to the including file), recursively."""
    if depth > 20:
        raise DeployError("$ref includes nest more than 20 deep (a loop?)", file=file)
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return _include(str(value["$ref"]), folder, file, depth)
        return {k: _expand_refs(v, folder, file, depth) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_refs(v, folder, file, depth) for v in value]
    return value


def _include(ref: str, folder: Path | None, file: str, depth: int) -> Any:
    name, _, pointer = ref.partition("#")
    if folder is None:
        raise DeployError(
            f"$ref {ref!r} needs a manifest file (deploy a path, not text)", file=file
        )
    path = (folder / name).resolve()
    if not path.is_file():
        raise DeployError(f"$ref {ref!r}: file not found", file=file)
    document = _load_yaml(path.read_text(encoding="utf-8"), str(path))
    for part in [p for p in pointer.split("/") if p]:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(document, dict) and key in document:
            document = document[key]
        elif isinstance(document, list) and key.isdigit() and int(key) < len(document):
            document = document[int(key)]
        else:
            raise DeployError(f"$ref {ref!r}: {pointer!r} not found in {path.name}", file=file)
    return _expand_refs(document, path.parent, str(path), depth + 1)


# -------------------------------------------------------------------------- compile


def compile_app(source: str | Path) -> CompiledApp:
    """Compile and validate a manifest (a ``.yaml`` path or YAML text)."""
    src = _read_source(source)
    document = _expand_refs(src.document, src.folder, src.file)
    return _Compiler(src.file).app(document)


class _Compiler:
    def __init__(self, file: str) -> None:
        self.file = file
        self.graph = ""
        self.activity = ""

    def fail(self, problem: str) -> DeployError:
        return DeployError(problem, file=self.file, graph=self.graph, activity=self.activity)

    def app(self, document: Any) -> CompiledApp:
        if not isinstance(document, dict) or not isinstance(document.get("app"), dict):
            raise self.fail("the manifest needs a top-level 'app:' mapping")
        app = document["app"]
        app_id, version = app.get("id"), app.get("version")
        if not isinstance(app_id, str) or not app_id:
            raise self.fail("app.id must be a non-empty string")
        # An unquoted 1.10 would be read as the float 1.1: only strings and whole numbers.
        if isinstance(version, bool) or not isinstance(version, (str, int)) or str(version) == "":
            raise self.fail("app.version must be a string (quote numbers: version: '1.10')")
        settings = app.get("settings") or {}
        if not isinstance(settings, dict):
            raise self.fail("app.settings must be a mapping")
        graphs_doc = app.get("graphs")
        if not isinstance(graphs_doc, list) or not graphs_doc:
            raise self.fail("app.graphs must be a non-empty list")
        graphs = [self.graph_of(g, i) for i, g in enumerate(graphs_doc)]
        self.graph = self.activity = ""
        self.check_app(graphs)
        return CompiledApp(id=app_id, version=str(version), settings=settings, graphs=graphs)

    def check_app(self, graphs: list[Graph]) -> None:
        topics: dict[str, str] = {}
        ids: dict[str, str] = {}
        for graph in graphs:
            self.graph = graph.subscribes
            if graph.subscribes in topics:
                raise self.fail("two graphs subscribe to this topic")
            topics[graph.subscribes] = graph.subscribes
            for activity_id in graph.activities:
                if activity_id in ids:
                    self.activity = activity_id
                    raise self.fail(
                        f"activity id is also used in graph {ids[activity_id]!r}; "
                        "ids are unique per app"
                    )
                ids[activity_id] = graph.subscribes
        for graph in graphs:
            self.graph = graph.subscribes
            for activity in graph.activities.values():
                self.activity = activity.id
                if activity.type == "await" and activity.topic not in topics:
                    raise self.fail(
                        f"await topic {activity.topic!r} is not subscribed by any graph"
                    )
        self.graph = self.activity = ""

    # ----------------------------------------------------------------------- graphs

    def graph_of(self, doc: Any, index: int) -> Graph:
        self.graph, self.activity = f"#{index}", ""
        if not isinstance(doc, dict):
            raise self.fail("a graph must be a mapping")
        subscribes = doc.get("subscribes")
        if not isinstance(subscribes, str) or not subscribes:
            raise self.fail("a graph needs 'subscribes: <topic>' (exactly one topic)")
        self.graph = subscribes
        unknown = sorted(set(doc) - GRAPH_FIELDS)
        if unknown:
            raise self.fail(f"unknown graph field(s) {unknown}")
        publishes = doc.get("publishes") or ""
        if not isinstance(publishes, str):
            raise self.fail("'publishes' must be one topic")
        input_schema = self.schema_of(doc.get("input"), "input")
        output_schema = self.schema_of(doc.get("output"), "output")
        activities_doc = doc.get("activities")
        if not isinstance(activities_doc, dict) or not activities_doc:
            raise self.fail("a graph needs 'activities:' with at least a trigger")
        activities = {str(k): self.activity_of(str(k), v) for k, v in activities_doc.items()}
        self.activity = ""
        triggers = [a.id for a in activities.values() if a.type == "trigger"]
        if len(triggers) != 1:
            raise self.fail(f"a graph needs exactly one trigger activity, found {len(triggers)}")
        transitions = self.transitions_of(doc.get("transitions") or {}, activities)
        hooks = self.hooks_of(doc.get("hooks") or {}, activities)
        expire = doc.get("expire", 0)
        if not isinstance(expire, int):
            raise self.fail("'expire' must be whole seconds")
        graph = Graph(
            subscribes=subscribes,
            trigger=triggers[0],
            activities=activities,
            transitions=transitions,
            hooks=hooks,
            publishes=publishes,
            input_schema=input_schema,
            output_schema=output_schema,
            expire=expire,
        )
        self.check_graph(graph)
        return graph

    def check_graph(self, graph: Graph) -> None:
        if graph.parents(graph.trigger):
            self.activity = graph.trigger
            raise self.fail("a trigger cannot be the target of a transition")
        self.activity = ""
        self.check_acyclic(graph)
        for source, outs in graph.transitions.items():
            self.activity = source
            for transition in outs:
                for match in transition.conditions.match:
                    self.check_statement([match.expected, match.actual], graph)
        for rules in graph.hooks.values():
            for rule in rules:
                self.activity = rule.to
                for match in rule.conditions.match:
                    self.check_statement([match.expected, match.actual], graph)
        for activity in graph.activities.values():
            self.activity = activity.id
            self.check_statements(activity, graph)
            if activity.type == "cycle":
                ancestor = graph.activities.get(activity.ancestor)
                if ancestor is None:
                    raise self.fail(
                        f"cycle ancestor {activity.ancestor!r} is not an activity of this graph"
                    )
                if ancestor.type != "hook" or not ancestor.cycle:
                    raise self.fail(
                        f"cycle ancestor {activity.ancestor!r} must be a hook with 'cycle: true'"
                    )
                if activity.id not in graph.descendants(activity.ancestor):
                    raise self.fail(
                        f"cycle ancestor {activity.ancestor!r} does not lead to this activity"
                    )
        self.activity = ""

    def check_acyclic(self, graph: Graph) -> None:
        state: dict[str, int] = {}

        def visit(node: str) -> None:
            state[node] = 1
            for t in graph.transitions.get(node, []):
                if state.get(t.to) == 1:
                    self.activity = t.to
                    raise self.fail("transitions form a loop; loop with a 'cycle' activity instead")
                if t.to not in state:
                    visit(t.to)
            state[node] = 2

        for node in graph.activities:
            if node not in state:
                visit(node)

    def schema_of(self, doc: Any, where: str) -> Any:
        if doc is None:
            return None
        if not isinstance(doc, dict):
            raise self.fail(f"'{where}' must be a mapping (with 'schema' and/or 'maps')")
        schema = doc.get("schema")
        if schema is not None:
            self.check_schema(schema, f"{where}.schema")
        return schema

    def check_schema(self, schema: Any, where: str) -> None:
        if not isinstance(schema, dict):
            raise self.fail(f"{where} must be a JSON Schema mapping")
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
        for k in kinds:
            if k not in JSON_SCHEMA_TYPES:
                raise self.fail(f"{where}: unknown JSON Schema type {k!r}")
        properties = schema.get("properties")
        if properties is not None:
            if not isinstance(properties, dict):
                raise self.fail(f"{where}.properties must be a mapping")
            for name, sub in properties.items():
                self.check_schema(sub, f"{where}.properties.{name}")
        if "items" in schema and isinstance(schema["items"], dict):
            self.check_schema(schema["items"], f"{where}.items")
        required = schema.get("required")
        if required is not None and not (
            isinstance(required, list) and all(isinstance(r, str) for r in required)
        ):
            raise self.fail(f"{where}.required must be a list of names")

    # ------------------------------------------------------------------- activities

    def activity_of(self, activity_id: str, doc: Any) -> Activity:
        self.activity = activity_id
        if not isinstance(doc, dict):
            raise self.fail("an activity must be a mapping")
        unknown = sorted(set(doc) - ACTIVITY_FIELDS - IGNORED_ACTIVITY_FIELDS)
        if unknown:
            raise self.fail(f"unknown field(s) {unknown}")
        kind = doc.get("type", "activity")
        if kind == "job":
            kind = "activity"
        if kind not in ACTIVITY_TYPES:
            raise self.fail(f"unknown activity type {kind!r} (one of {', '.join(ACTIVITY_TYPES)})")
        activity = Activity(id=activity_id, type=kind, title=str(doc.get("title", "")))
        activity.input_maps = self.maps_of(doc.get("input"), "input")
        activity.output_maps = self.maps_of(doc.get("output"), "output")
        activity.job_maps = self.maps_of(doc.get("job"), "job")
        getattr(self, f"fields_{kind}")(activity, doc)
        return activity

    def maps_of(self, doc: Any, where: str) -> Any:
        if doc is None:
            return None
        if not isinstance(doc, dict):
            raise self.fail(f"'{where}' must be a mapping")
        if doc.get("schema") is not None:
            self.check_schema(doc["schema"], f"{where}.schema")
        maps = doc.get("maps")
        if maps is not None and not isinstance(maps, dict):
            raise self.fail(f"{where}.maps must be a mapping of field: statement")
        return maps

    def flag(self, doc: dict, name: str, default: bool) -> bool:
        value = doc.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(f"'{name}' must be true or false, got {value!r}")
        return value

    def topic_of(self, doc: dict, kind: str) -> str:
        topic = doc.get("topic")
        if not isinstance(topic, str) or not topic:
            raise self.fail(f"a {kind} activity needs 'topic'")
        return topic

    def fields_trigger(self, activity: Activity, doc: dict) -> None:
        pass

    def fields_activity(self, activity: Activity, doc: dict) -> None:
        pass

    def fields_worker(self, activity: Activity, doc: dict) -> None:
        activity.topic = self.topic_of(doc, "worker")
        retry = doc.get("retry")
        if retry is not None:
            if not isinstance(retry, dict):
                raise self.fail(
                    "'retry' must be a mapping (maximum_attempts, initial_interval, ...)"
                )
            try:
                activity.retry = Retry(**retry)
            except TypeError as err:
                raise self.fail(f"'retry': {err}") from err
            if activity.retry.maximum_attempts < 1:
                raise self.fail("retry.maximum_attempts must be at least 1")
        timeout = doc.get("timeout", 60)
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise self.fail("'timeout' must be a positive number of seconds")
        activity.timeout = float(timeout)

    def fields_await(self, activity: Activity, doc: dict) -> None:
        activity.topic = self.topic_of(doc, "await")
        wait = doc.get("await", True)
        if not isinstance(wait, bool):
            raise self.fail("'await' must be true or false")
        activity.wait = wait

    def fields_hook(self, activity: Activity, doc: dict) -> None:
        activity.sleep = doc.get("sleep")
        if activity.sleep is not None and not isinstance(activity.sleep, (int, float, str, dict)):
            raise self.fail("'sleep' must be seconds or a mapping statement")
        activity.cycle = self.flag(doc, "cycle", False)
        escalation = doc.get("escalation")
        if escalation is not None:
            if not isinstance(escalation, dict):
                raise self.fail("'escalation' must be a mapping")
            try:
                activity.escalation = Escalation(**escalation)
            except TypeError as err:
                raise self.fail(f"'escalation': {err}") from err

    def fields_cycle(self, activity: Activity, doc: dict) -> None:
        ancestor = doc.get("ancestor")
        if not isinstance(ancestor, str) or not ancestor:
            raise self.fail("a cycle activity needs 'ancestor: <hook activity id>'")
        activity.ancestor = ancestor

    def fields_signal(self, activity: Activity, doc: dict) -> None:
        activity.topic = self.topic_of(doc, "signal")
        subtype = doc.get("subtype", "one")
        if subtype not in ("one", "all"):
            raise self.fail("signal 'subtype' must be 'one' or 'all'")
        activity.subtype = subtype
        activity.key_value = doc.get("key_value")
        activity.signal_maps = self.maps_of(doc.get("signal"), "signal")

    def fields_interrupt(self, activity: Activity, doc: dict) -> None:
        activity.topic = str(doc.get("topic", ""))
        activity.target = doc.get("target")
        activity.reason = doc.get("reason")
        activity.throw = self.flag(doc, "throw", True)
        activity.descend = self.flag(doc, "descend", False)
        code = doc.get("code", 410)
        if not isinstance(code, int):
            raise self.fail("interrupt 'code' must be a number")
        activity.code = code

    # ---------------------------------------------------------- statements and refs

    def check_statements(self, activity: Activity, graph: Graph) -> None:
        for statement in (
            activity.input_maps,
            activity.output_maps,
            activity.job_maps,
            activity.sleep,
            activity.signal_maps,
            activity.key_value,
            activity.target,
            activity.reason,
            activity.escalation.__dict__ if activity.escalation else None,
        ):
            self.check_statement(statement, graph)

    def check_statement(self, statement: Any, graph: Graph) -> None:
        self.check_pipes(statement)
        for path in reference_roots(statement):
            head = path.split(".")[0]
            if head.startswith("@"):
                if not known_function(path[1:]):
                    raise self.fail(f"unknown function {{{path}}}")
            elif head not in CONTEXT_ROOTS and head not in graph.activities:
                raise self.fail(f"{{{path}}} refers to no activity of this graph")

    def check_pipes(self, statement: Any) -> None:
        if isinstance(statement, dict):
            for key, value in statement.items():
                if key in ("@pipe", "@reduce"):
                    self.check_rows(value, key)
                else:
                    self.check_pipes(value)
        elif isinstance(statement, list):
            for value in statement:
                self.check_pipes(value)

    def check_rows(self, rows: Any, key: str) -> None:
        if not isinstance(rows, list) or not rows:
            raise self.fail(f"{key} must be a non-empty list of rows")
        for row in rows:
            if isinstance(row, dict):
                if set(row) not in ({"@pipe"}, {"@reduce"}):
                    raise self.fail(
                        f"a {key} row must be a list, @pipe or @reduce, got keys {sorted(row)}"
                    )
                self.check_pipes(row)
            elif not isinstance(row, list) or not row:
                raise self.fail(f"a {key} row must be a non-empty list, got {row!r}")
            else:
                for cell in row[1:]:
                    self.check_pipes(cell)

    # --------------------------------------------------------- transitions and hooks

    def conditions_of(self, doc: Any, activities: dict[str, Activity]) -> Conditions:
        if doc is None:
            return Conditions()
        if not isinstance(doc, dict):
            raise self.fail("'conditions' must be a mapping (gate, code, match)")
        unknown = set(doc) - {"gate", "code", "match"}
        if unknown:
            raise self.fail(f"unknown condition keys {sorted(unknown)}")
        gate = doc.get("gate", "and")
        if gate not in ("and", "or"):
            raise self.fail(f"condition gate must be 'and' or 'or', got {gate!r}")
        code = doc.get("code", 200)
        codes = code if isinstance(code, list) else [code]
        try:
            codes = [int(c) for c in codes]
        except (TypeError, ValueError) as err:
            raise self.fail(f"condition code must be a status number, got {code!r}") from err
        matches = []
        for item in doc.get("match") or []:
            if not isinstance(item, dict) or set(item) != {"expected", "actual"}:
                raise self.fail("each condition match needs exactly 'expected' and 'actual'")
            matches.append(Match(expected=item["expected"], actual=item["actual"]))
        return Conditions(gate=gate, code=codes, match=matches)

    def transitions_of(
        self, doc: Any, activities: dict[str, Activity]
    ) -> dict[str, list[Transition]]:
        if not isinstance(doc, dict):
            raise self.fail("'transitions' must be a mapping of activity id: [targets]")
        result: dict[str, list[Transition]] = {}
        for source, targets in doc.items():
            self.activity = str(source)
            if source not in activities:
                raise self.fail("transition from an activity that does not exist")
            if not isinstance(targets, list):
                raise self.fail("transitions must be a list of {to, conditions}")
            outs = []
            for target in targets:
                if not isinstance(target, dict) or not isinstance(target.get("to"), str):
                    raise self.fail("each transition needs 'to: <activity id>'")
                if target["to"] not in activities:
                    raise self.fail(f"transition to {target['to']!r}, which does not exist")
                outs.append(
                    Transition(
                        to=target["to"],
                        conditions=self.conditions_of(target.get("conditions"), activities),
                    )
                )
            result[str(source)] = outs
        self.activity = ""
        return result

    def hooks_of(self, doc: Any, activities: dict[str, Activity]) -> dict[str, list[HookRule]]:
        if not isinstance(doc, dict):
            raise self.fail("'hooks' must be a mapping of topic: [rules]")
        result: dict[str, list[HookRule]] = {}
        for topic, rules in doc.items():
            if not isinstance(rules, list):
                raise self.fail(f"hooks.{topic} must be a list of {{to, conditions}}")
            parsed = []
            for rule in rules:
                if not isinstance(rule, dict) or rule.get("to") not in activities:
                    raise self.fail(f"hooks.{topic}: each rule needs 'to' naming an activity")
                self.activity = rule["to"]
                if activities[rule["to"]].type != "hook":
                    raise self.fail(f"hooks.{topic} targets an activity that is not a hook")
                conditions = self.conditions_of(rule.get("conditions"), activities)
                parsed.append(self.correlated(HookRule(to=rule["to"], conditions=conditions)))
                self.activity = ""
            result[str(topic)] = parsed
        return result

    def correlated(self, rule: HookRule) -> HookRule:
        """Split the first match into the job's side and the signal's side: the side that
        reads the hook payload (``$self.hook`` / ``<hook id>.hook``) is the signal's."""
        for match in rule.conditions.match:
            sides = [(match.expected, match.actual), (match.actual, match.expected)]
            for job_side, signal_side in sides:
                if _reads_hook(signal_side, rule.to) and not _reads_hook(job_side, rule.to):
                    rule.job_key, rule.signal_key = job_side, signal_side
                    return rule
        if rule.conditions.match:
            raise self.fail(
                "a hook rule's match must compare job data with the hook payload "
                "({$self.hook.data...})"
            )
        return rule


def _reads_hook(statement: Any, hook_id: str) -> bool:
    return any(p.startswith(("$self.hook", f"{hook_id}.hook")) for p in reference_roots(statement))
