"""Deploy-time validation: every error names the file, the graph and the activity, and
nothing is stored for a manifest that fails."""

from __future__ import annotations

import textwrap

import pytest

from hotmesh_temporal.hotmesh import DeployError, compile_app


def manifest(graphs: str, header: str = "app:\n  id: shop\n  version: '1'\n") -> str:
    return header + textwrap.indent(textwrap.dedent(graphs), "  ")


VALID_GRAPH = """
graphs:
  - subscribes: s.go
    activities:
      t1:
        type: trigger
      a1:
        type: worker
        topic: w.do
        input:
          maps:
            x: '{t1.output.data.x}'
    transitions:
      t1:
        - to: a1
"""


def test_a_valid_manifest_compiles_to_typed_graphs():
    app = compile_app(manifest(VALID_GRAPH))
    assert (app.id, app.version) == ("shop", "1")
    graph = app.graph_for("s.go")
    assert graph.trigger == "t1"
    assert graph.activities["a1"].topic == "w.do"
    assert graph.transitions["t1"][0].to == "a1"
    assert graph.transitions["t1"][0].conditions.code == [200]


CASES = [
    ("app:\n  id: shop\n  version: '1'\n  graphs: [", "", "", "not valid YAML"),
    ("app:\n  version: '1'\n  graphs: []\n", "", "", "app.id"),
    ("app:\n  id: shop\n  graphs: []\n", "", "", "app.version"),
    ("app:\n  id: shop\n  version: 1.10\n  graphs: []\n", "", "", "quote numbers"),
    (manifest("graphs: []\n"), "", "", "non-empty list"),
    (manifest("graphs:\n  - activities: {t1: {type: trigger}}\n"), "#0", "", "subscribes"),
    (
        manifest("graphs:\n  - subscribes: s.a\n    activities: {a1: {type: worker, topic: w}}\n"),
        "s.a",
        "",
        "exactly one trigger",
    ),
    (
        manifest(
            "graphs:\n  - subscribes: s.a\n"
            "    activities: {t1: {type: trigger}, x: {type: teleport}}\n"
        ),
        "s.a",
        "x",
        "unknown activity type",
    ),
    (
        manifest(
            "graphs:\n  - subscribes: s.a\n"
            "    activities: {t1: {type: trigger}, w1: {type: worker}}\n"
        ),
        "s.a",
        "w1",
        "needs 'topic'",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities:
              t1: {type: trigger}
              t1: {type: hook}
        """),
        "",
        "",
        "duplicate key 't1'",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, a1: {type: activity}}
          - subscribes: s.b
            activities: {t2: {type: trigger}, a1: {type: activity}}
        """),
        "s.b",
        "a1",
        "ids are unique per app",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}}
          - subscribes: s.a
            activities: {t2: {type: trigger}}
        """),
        "s.a",
        "",
        "two graphs subscribe",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}}
            transitions:
              t1: [{to: nowhere}]
        """),
        "s.a",
        "t1",
        "'nowhere', which does not exist",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}}
            transitions:
              ghost: [{to: t1}]
        """),
        "s.a",
        "ghost",
        "does not exist",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, a: {type: activity}, b: {type: activity}}
            transitions:
              t1: [{to: a}]
              a: [{to: b}]
              b: [{to: a}]
        """),
        "s.a",
        "a",
        "loop",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities:
              t1: {type: trigger}
              a1:
                type: activity
                job: {maps: {x: '{nosuch.output.data.x}'}}
        """),
        "s.a",
        "a1",
        "{nosuch.output.data.x} refers to no activity",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities:
              t1: {type: trigger}
              a1:
                type: activity
                job:
                  maps:
                    x:
                      '@pipe':
                        - ['{t1.output.data.x}']
                        - ['{@string.shout}']
        """),
        "s.a",
        "a1",
        "unknown function {@string.shout}",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities:
              t1: {type: trigger}
              a1:
                type: activity
                job: {maps: {x: {'@pipe': 'not rows'}}}
        """),
        "s.a",
        "a1",
        "@pipe must be a non-empty list",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, a1: {type: activity}}
            transitions:
              t1: [{to: a1, conditions: {gate: xor}}]
        """),
        "s.a",
        "t1",
        "gate must be 'and' or 'or'",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, a1: {type: activity}}
            transitions:
              t1: [{to: a1, conditions: {match: [{expected: 1}]}}]
        """),
        "s.a",
        "t1",
        "'expected' and 'actual'",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, a1: {type: activity}}
            transitions:
              t1: [{to: a1, conditions: {code: ok}}]
        """),
        "s.a",
        "t1",
        "status number",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            input:
              schema: {type: obj}
            activities: {t1: {type: trigger}}
        """),
        "s.a",
        "",
        "unknown JSON Schema type 'obj'",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities:
              t1: {type: trigger}
              w1:
                type: worker
                topic: w
                output:
                  schema: {type: object, properties: {x: {type: strin}}}
        """),
        "s.a",
        "w1",
        "output.schema.properties.x",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, c1: {type: cycle, ancestor: t1}}
            transitions:
              t1: [{to: c1}]
        """),
        "s.a",
        "c1",
        "must be a hook with 'cycle: true'",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities:
              t1: {type: trigger}
              h1: {type: hook, cycle: true}
              c1: {type: cycle, ancestor: h1}
            transitions:
              t1: [{to: c1}]
        """),
        "s.a",
        "c1",
        "does not lead to this activity",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, h1: {type: activity}}
            hooks:
              some.topic: [{to: h1}]
        """),
        "s.a",
        "h1",
        "not a hook",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, h1: {type: hook}}
            hooks:
              some.topic:
                - to: h1
                  conditions:
                    match: [{expected: '{t1.output.data.a}', actual: '{t1.output.data.b}'}]
        """),
        "s.a",
        "h1",
        "compare job data with the hook payload",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, a1: {type: await, topic: s.missing}}
            transitions:
              t1: [{to: a1}]
        """),
        "s.a",
        "a1",
        "not subscribed by any graph",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, w1: {type: worker, topic: w, retry: {attempts: 3}}}
        """),
        "s.a",
        "w1",
        "'retry'",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, s1: {type: signal, topic: x, subtype: some}}
        """),
        "s.a",
        "s1",
        "'one' or 'all'",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities:
              t1: {type: trigger, stats: {id: x}}
              w1: {type: worker, topic: w, tmeout: 3}
        """),
        "s.a",
        "w1",
        "unknown field(s) ['tmeout']",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, i1: {type: interrupt, throw: '{t1.output.data.x}'}}
        """),
        "s.a",
        "i1",
        "'throw' must be true or false",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, a1: {type: activity}}
            transitions:
              t1:
                - to: a1
                  conditions:
                    match: [{expected: 1, actual: '{ghost.output.data.n}'}]
        """),
        "s.a",
        "t1",
        "{ghost.output.data.n} refers to no activity",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activities: {t1: {type: trigger}, h1: {type: hook}}
            hooks:
              x.topic:
                - to: h1
                  conditions:
                    match: [{expected: '{t1.output.data.id}', actual: '{$self.hook.data.id}'},
                            {expected: 1, actual: {'@pipe': [['{$self.hook.data.n}'], ['{@nope.x}']]}}]
        """),
        "s.a",
        "h1",
        "unknown function {@nope.x}",
    ),
    (
        manifest("""
        graphs:
          - subscribes: s.a
            activites: {t1: {type: trigger}}
        """),
        "s.a",
        "",
        "unknown graph field(s) ['activites']",
    ),
]


@pytest.mark.parametrize(("text", "graph", "activity", "message"), CASES)
def test_validation_errors_name_where(text, graph, activity, message):
    with pytest.raises(DeployError) as raised:
        compile_app(text)
    error = raised.value
    assert message in str(error)
    assert error.file == "<text>"
    assert error.graph == graph
    assert error.activity == activity
    if graph:
        assert f"graph {graph!r}" in str(error)
    if activity:
        assert f"activity {activity!r}" in str(error)


def test_errors_in_a_file_and_in_its_ref_includes_name_the_file(tmp_path):
    (tmp_path / "graph.yaml").write_text(
        textwrap.dedent("""
        subscribes: s.ref
        activities:
          t1: {type: trigger}
          a1: {type: activity, job: {maps: {x: '{t9.output.data.x}'}}}
    """)
    )
    main = tmp_path / "app.yaml"
    main.write_text("app:\n  id: shop\n  version: '2'\n  graphs:\n    - $ref: graph.yaml\n")
    with pytest.raises(DeployError) as raised:
        compile_app(main)
    assert raised.value.file == str(main)
    assert (raised.value.graph, raised.value.activity) == ("s.ref", "a1")

    (tmp_path / "bad.yaml").write_text("subscribes: [\n")
    main.write_text("app:\n  id: shop\n  version: '2'\n  graphs:\n    - $ref: bad.yaml\n")
    with pytest.raises(DeployError) as raised:
        compile_app(main)
    assert raised.value.file.endswith("bad.yaml") and "not valid YAML" in str(raised.value)

    with pytest.raises(DeployError, match="file not found"):
        compile_app(tmp_path / "absent.yaml")


def test_ref_includes_with_json_pointers(tmp_path):
    (tmp_path / "schemas.yaml").write_text(
        textwrap.dedent("""
        components:
          order:
            type: object
            properties: {id: {type: string}}
    """)
    )
    (tmp_path / "graph.yaml").write_text(
        textwrap.dedent("""
        subscribes: s.ref
        input:
          schema: {$ref: 'schemas.yaml#/components/order'}
        activities:
          t1: {type: trigger}
    """)
    )
    main = tmp_path / "app.yaml"
    main.write_text("app:\n  id: shop\n  version: '2'\n  graphs:\n    - $ref: graph.yaml\n")
    app = compile_app(main)
    assert app.graph_for("s.ref").input_schema == {
        "type": "object",
        "properties": {"id": {"type": "string"}},
    }
    (tmp_path / "graph.yaml").write_text(
        "subscribes: s.ref\ninput:\n  schema: {$ref: 'schemas.yaml#/nope'}\n"
        "activities: {t1: {type: trigger}}\n"
    )
    with pytest.raises(DeployError, match="'/nope' not found"):
        compile_app(main)


async def test_deploy_refuses_without_storing_and_versions_are_immutable(mesh):
    hm = await mesh("")
    bad = f"app:\n  id: {hm.app_id}\n  version: '1'\n  graphs: []\n"
    with pytest.raises(DeployError):
        await hm.deploy(bad)
    assert await hm.store.fetch("list_versions", hm.app_id) == []

    with pytest.raises(DeployError, match="serves"):
        await hm.deploy(manifest(VALID_GRAPH))  # app.id shop is not this HotMesh's app

    good = VALID_GRAPH.replace("s.go", "s.one")
    text = manifest(good, f"app:\n  id: {hm.app_id}\n  version: '1'\n")
    await hm.deploy(text)
    await hm.deploy(text)  # the same content again: nothing changes
    changed = text.replace("w.do", "w.other")
    with pytest.raises(DeployError, match="already deployed with other content"):
        await hm.deploy(changed)
    [row] = await hm.store.fetch("list_versions", hm.app_id)
    assert row["version"] == "1" and row["active"] is False
