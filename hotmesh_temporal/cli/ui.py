"""``hotmesh-temporal ui``: serve the web UI (the optional ``ui`` extra)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from hotmesh_temporal.cli._common import CommandError, add_connection_flags

DEFAULT_PORT = 8233  # Temporal's UI port


def add(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ui",
        help="serve the web UI",
        description="Serve the web UI over the database "
        "(needs: pip install 'hotmesh-temporal[ui]').",
    )
    add_connection_flags(parser)
    parser.add_argument("--ip", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="required to bind an address other than loopback",
    )
    parser.add_argument("--read-only", action="store_true", help="turn every action off")
    parser.add_argument(
        "--token",
        default=os.environ.get("HOTMESH_UI_TOKEN"),
        help="require this bearer token (default: $HOTMESH_UI_TOKEN)",
    )
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:  # late: the UI needs the optional ui extra (starlette, uvicorn)
        from hotmesh_temporal.ui.server import UIOptions, serve
    except ImportError as err:
        raise CommandError(
            f"the web UI needs the ui extra: pip install 'hotmesh-temporal[ui]' ({err})"
        ) from err
    options = UIOptions(
        target=args.dsn,
        namespace=args.namespace,
        codec=args.codec,
        read_only=args.read_only,
        token=args.token,
    )
    return serve(options, host=args.ip, port=args.port, allow_remote=args.allow_remote)
