"""The web UI's pages and actions (Starlette, Jinja2 templates, no JavaScript build).

Pages follow the Temporal Web UI: the runs list (filter, status counts, pages), a run
(summary, input and result, pending activities, timeline, history, stack trace, query
box, actions), the schedules list and a schedule. Every read and every action goes
through the public ``Client`` API, one client per namespace over one connection pool.
Pages work as plain HTML; ``ui.js`` only adds the live refresh of a running run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from hotmesh_temporal._ops.runs import RunView, load_run
from hotmesh_temporal.cli._common import (
    DEFAULT_TARGET,
    compact_json,
    load_data_converter,
    relative_time,
    status_name,
    to_json_value,
)
from hotmesh_temporal.client import Client
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.ui.server import TokenMiddleware, UIOptions
from hotmesh_temporal.ui.timeline import build_timeline

HERE = Path(__file__).parent
# How long a query (or the stack trace) may wait for a worker to answer.
QUERY_TIMEOUT = 5.0
# The run page shows the history this many events at a time (a page token in the URL
# reads on): converting events is what costs on a long history.
HISTORY_PAGE = 250


class UIState:
    """The app's clients (one per namespace, sharing one pool) and its settings."""

    def __init__(self, options: UIOptions) -> None:
        self.options = options
        self.csrf = secrets.token_urlsafe(24)
        self._base: Client | None = None
        self._clients: dict[str, Client] = {}

    async def start(self) -> None:
        self._base = await Client.connect(
            self.options.target or DEFAULT_TARGET,
            namespace=self.options.namespace,
            data_converter=load_data_converter(self.options.codec),
            identity="hotmesh-temporal-ui",
        )
        self._clients[self.options.namespace] = self._base

    async def stop(self) -> None:
        if self._base is not None:
            await self._base.service_client.close()

    def client(self, namespace: str) -> Client:
        if namespace not in self._clients:
            assert self._base is not None
            self._clients[namespace] = Client(**{**self._base.config(), "namespace": namespace})
        return self._clients[namespace]


def create_app(options: UIOptions) -> Any:
    state = UIState(options)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(
        ago=relative_time, when=_when, js=compact_json, pretty=_pretty, status=status_name
    )
    templates.env.globals.update(options=options, csrf=state.csrf, url=_url)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    pages = Pages(state, templates)
    routes = [
        Route("/", lambda r: RedirectResponse(f"/namespaces/{options.namespace}/workflows")),
        Route("/namespaces/{ns}/workflows", pages.runs),
        Route("/namespaces/{ns}/workflow", pages.run),
        Route("/namespaces/{ns}/workflow/{action}", pages.run_action, methods=["POST"]),
        Route("/namespaces/{ns}/schedules", pages.schedules),
        Route("/namespaces/{ns}/schedule", pages.schedule),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app: Any = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={RPCError: pages.rpc_error, HTTPException: pages.http_error},
    )
    if options.token:
        app = TokenMiddleware(app, options.token)
    return app


class Pages:
    def __init__(self, state: UIState, templates: Jinja2Templates) -> None:
        self.state = state
        self.templates = templates

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Any:
        context.setdefault("ns", request.path_params.get("ns", self.state.options.namespace))
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    # -------------------------------------------------------------- runs list

    async def runs(self, request: Request) -> Response:
        ns = request.path_params["ns"]
        client = self.state.client(ns)
        query = request.query_params.get("query", "").strip() or None
        token = request.query_params.get("page")
        listing = client.list_workflows(
            query,
            page_size=self.state.options.page_size,
            next_page_token=token.encode() if token else None,
        )
        error = None
        page: list[Any] = []
        counts: list[tuple[str, int]] = []
        total = 0
        # The page and the counts are read at once, on two connections of the pool.
        fetched, counted = await asyncio.gather(
            listing.fetch_next_page(),
            client.count_workflows(_grouped(query)),
            return_exceptions=True,
        )
        for outcome in (fetched, counted):
            if isinstance(outcome, RPCError) and outcome.status == RPCStatusCode.INVALID_ARGUMENT:
                error = outcome.message
            elif isinstance(outcome, BaseException):
                raise outcome
        if error is None:
            assert not isinstance(counted, BaseException)
            page = list(listing.current_page or [])
            total = counted.count
            counts = [(str(g.group_values[0]), g.count) for g in counted.groups]
        next_token = listing.next_page_token if error is None else None
        return self.render(
            request,
            "runs.html",
            runs=page,
            query=query or "",
            error=error,
            total=total,
            counts=counts,
            next_page=next_token.decode() if next_token else None,
            first_page=token is None,
            status_code=400 if error else 200,
        )

    # -------------------------------------------------------------- one run

    async def run(self, request: Request) -> Response:
        ns = request.path_params["ns"]
        client = self.state.client(ns)
        workflow_id, run_id = _run_ids(request)
        page_token = request.query_params.get("events_page")
        view = await load_run(
            client,
            workflow_id,
            run_id or None,
            page_size=HISTORY_PAGE,
            page_token=page_token.encode() if page_token else None,
        )
        context: dict[str, Any] = dict(
            view=view,
            d=view.description,
            timeline=build_timeline(view),
            next_events=view.next_page_token.decode() if view.next_page_token else None,
            paged=page_token is not None,
            events_page=page_token,
            flash=request.query_params.get("flash"),
        )
        if request.query_params.get("stack"):
            context["stack"] = await self._ask(client, view, "__stack_trace", "[]")
        query_name = request.query_params.get("query_name")
        if query_name:
            context["query_answer"] = await self._ask(
                client, view, query_name, request.query_params.get("query_args") or "[]"
            )
        template = "run_live.html" if request.query_params.get("fragment") else "run.html"
        return self.render(request, template, **context)

    async def _ask(self, client: Client, view: RunView, name: str, args_text: str) -> dict:
        try:
            args = json.loads(args_text)
        except json.JSONDecodeError as err:
            return {"name": name, "error": f"arguments are not JSON: {err.msg}"}
        if not isinstance(args, list):
            args = [args]
        handle = client.get_workflow_handle(view.description.id, run_id=view.description.run_id)
        try:
            answer = await asyncio.wait_for(handle.query(name, args=args), QUERY_TIMEOUT)
        except asyncio.TimeoutError:
            return {"name": name, "error": f"no worker answered within {QUERY_TIMEOUT:g}s"}
        except Exception as err:  # noqa: BLE001 (a failed query is shown on the page)
            return {"name": name, "error": f"{type(err).__name__}: {err}"}
        return {"name": name, "answer": answer}

    async def run_action(self, request: Request) -> Response:
        if self.state.options.read_only:
            raise HTTPException(403, "this UI is read-only")
        form = await request.form()
        if not secrets.compare_digest(str(form.get("csrf", "")), self.state.csrf):
            raise HTTPException(403, "stale or foreign form: reload the page")
        if form.get("confirm") != "yes":
            raise HTTPException(400, "tick the confirmation box to do this")
        ns, action = request.path_params["ns"], request.path_params["action"]
        workflow_id, run_id = str(form.get("workflow_id", "")), str(form.get("run_id", ""))
        handle = self.state.client(ns).get_workflow_handle(workflow_id, run_id=run_id or None)
        if action == "signal":
            name = str(form.get("name", "")).strip()
            args = _json_args(str(form.get("input", "") or ""))
            if not name:
                raise HTTPException(400, "a signal needs a name")
            await handle.signal(name, args=args)
            flash = f"Signal {name} sent"
        elif action == "cancel":
            await handle.cancel(reason=str(form.get("reason", "")))
            flash = "Cancellation requested"
        elif action == "terminate":
            await handle.terminate(reason=str(form.get("reason", "")) or None)
            flash = "Run terminated"
        else:
            raise HTTPException(404, f"no action {action}")
        return RedirectResponse(
            _url(f"/namespaces/{ns}/workflow", id=workflow_id, run=run_id, flash=flash),
            status_code=303,
        )

    # -------------------------------------------------------------- schedules

    async def schedules(self, request: Request) -> Response:
        client = self.state.client(request.path_params["ns"])
        listed = [s async for s in await client.list_schedules()]
        return self.render(request, "schedules.html", schedules=listed)

    async def schedule(self, request: Request) -> Response:
        client = self.state.client(request.path_params["ns"])
        schedule_id = request.query_params.get("id") or ""
        described = await client.get_schedule_handle(schedule_id).describe()
        return self.render(request, "schedule.html", s=described)

    # -------------------------------------------------------------- errors

    async def rpc_error(self, request: Request, err: Exception) -> Response:
        assert isinstance(err, RPCError)
        code = 404 if err.status == RPCStatusCode.NOT_FOUND else 400
        if err.status == RPCStatusCode.UNAVAILABLE:
            code = 503
        return self.render(request, "error.html", status_code=code, message=err.message)

    async def http_error(self, request: Request, err: Exception) -> Response:
        assert isinstance(err, HTTPException)
        return self.render(request, "error.html", status_code=err.status_code, message=err.detail)


def _run_ids(request: Request) -> tuple[str, str]:
    workflow_id = request.query_params.get("id")
    if not workflow_id:
        raise HTTPException(400, "which run? give ?id=<workflow id>[&run=<run id>]")
    return workflow_id, request.query_params.get("run", "")


def _json_args(text: str) -> list[Any]:
    if not text.strip():
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise HTTPException(400, f"the input is not JSON: {err.msg}") from err
    return [value]


def _grouped(query: str | None) -> str:
    """The count statement of the status counts: the filter (minus any ORDER BY)
    grouped by status."""
    where = query or ""
    upper = where.upper()
    if " ORDER BY " in f" {upper}":
        where = where[: upper.rfind("ORDER BY")].strip()
    return f"{where} GROUP BY ExecutionStatus".strip()


def _url(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _pretty(value: Any) -> str:

    return json.dumps(to_json_value(value), indent=2)
