"""Running the web UI: options, the bind check, the bearer token and uvicorn.

The UI binds 127.0.0.1 unless told otherwise; another address needs ``allow_remote``
and prints a warning, because the UI can signal and terminate runs. A token, when set,
is asked of every request: ``Authorization: Bearer <token>``, or once as
``?token=<token>`` in the browser, which then keeps it in a cookie.
"""

from __future__ import annotations

import hmac
import ipaddress
import sys
from dataclasses import dataclass
from typing import Any

from hotmesh_temporal.cli._common import CommandError

TOKEN_COOKIE = "hotmesh_ui_token"


@dataclass(frozen=True)
class UIOptions:
    """What the UI serves and allows."""

    target: str | None = None  # DSN or host:port for Client.connect (None: $HOTMESH_DSN...)
    namespace: str = "default"
    codec: str | None = None  # MODULE:OBJECT, as the CLI's --codec
    read_only: bool = False
    token: str | None = None
    page_size: int = 50


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BindRefused(Exception):
    """Binding a non-loopback address without ``allow_remote``."""


def check_bind(host: str, allow_remote: bool, options: UIOptions) -> str | None:
    """Refuse a non-loopback bind unless allowed; the warning to print when allowed."""
    if is_loopback(host):
        return None
    if not allow_remote:
        raise BindRefused(
            f"refusing to bind {host}: the UI can signal and terminate runs; pass "
            "--allow-remote to serve beyond this machine (and consider --token / --read-only)"
        )
    guard = "a bearer token" if options.token else "NO token"
    mode = "read-only" if options.read_only else "with actions enabled"
    return f"warning: serving the UI on {host}, reachable from other machines, {mode}, {guard}"


class TokenMiddleware:
    """Asks every request for the bearer token (header, or cookie set by ?token=)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse, RedirectResponse

        request = Request(scope)
        given = request.query_params.get("token")
        if given is not None and self._matches(given):
            url = request.url.remove_query_params("token")
            response: Any = RedirectResponse(str(url), status_code=303)
            response.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict")
            await response(scope, receive, send)
            return
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        if self._matches(bearer) or self._matches(request.cookies.get(TOKEN_COOKIE)):
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse(
            "401 Unauthorized: this UI needs its token (Authorization: Bearer, or ?token=)",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())


def serve(options: UIOptions, *, host: str, port: int, allow_remote: bool) -> int:
    """Serve until interrupted (the ``hotmesh-temporal ui`` command)."""
    import uvicorn

    # late: ui.app imports this module's middleware and options
    from hotmesh_temporal.ui.app import create_app

    try:
        warning = check_bind(host, allow_remote, options)
    except BindRefused as err:
        raise CommandError(str(err)) from err
    if warning:
        print(warning, file=sys.stderr)
    print(f"hotmesh_temporal UI on http://{host}:{port}/", file=sys.stderr)
    uvicorn.run(create_app(options), host=host, port=port, log_level="warning")
    return 0
