"""hotmesh_temporal's copy of the sandbox comparison workflow (see sandbox_cases.py)."""

from __future__ import annotations

import asyncio

from hotmesh_temporal import workflow
from tests.compat.sandbox_cases import *  # noqa: F403

with workflow.unsafe.imports_passed_through():
    import tests.compat.sandbox_passthrough_helper as sandbox_passthrough_helper


@workflow.defn
class SandboxCase:
    @workflow.run
    async def run(self, name: str) -> list:
        if name == "passed_through":  # the helper's own os.getcwd() is not refused
            return ["ok", str(sandbox_passthrough_helper.working_directory_known())]
        if name == "dynamic_import":  # warned about: first loaded during an activation
            import tests.compat.sandbox_dynamic_module as late

            return ["ok", late.VALUE]
        if name == "asyncio_wait":  # warned about, not refused
            done, _ = await asyncio.wait([asyncio.ensure_future(asyncio.sleep(0))])
            return ["ok", str(len(done))]
        try:
            value = globals()[name]()
        except Exception as err:  # noqa: BLE001 - the comparison is about what was raised
            return [type(err).__name__, str(err)]
        return ["ok", str(value)]
