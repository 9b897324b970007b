"""Event loops whose sockets cannot work, refused up front with a clear error.

Under gevent's monkey patching, asyncio's default selector is gevent's, and it binds to
the gevent hub of the thread that first registers a file with it: the thread that made
the loop (its self-pipe). temporalio's gevent sample makes its loop in the main thread
and runs it in a thread of gevent's pool; temporalio's own I/O is in its Rust core, but
here every Postgres connection is an asyncio socket, and on such a loop none becomes
ready: connecting would hang until asyncpg's timeout and fail without saying why.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

GEVENT_FOREIGN_LOOP = (
    "this asyncio event loop was created in another thread than the one running it, "
    "under gevent's monkey patching: its selector waits on the other thread's gevent hub, "
    "so its sockets never become ready and Postgres cannot be reached. Create the loop in "
    "the thread that runs it (for example executor.submit(asyncio.run, main()) instead of "
    "executor.submit(loop.run_until_complete, main()) with a loop made outside)"
)


def check_loop_can_do_io(loop: asyncio.AbstractEventLoop) -> None:
    """Raise RuntimeError when ``loop``'s sockets could never become ready."""
    hub_thread = _gevent_hub_thread(loop)
    # _real_thread_ident imports gevent: asked only when the selector is gevent's.
    if hub_thread is not None and hub_thread != _real_thread_ident():
        raise RuntimeError(GEVENT_FOREIGN_LOOP)


def _gevent_hub_thread(loop: asyncio.AbstractEventLoop) -> int | None:
    """The thread of the gevent hub the loop's selector is bound to, if it is one."""
    selector: Any = getattr(loop, "_selector", None)
    if selector is None or type(selector).__module__ != "gevent.selectors":
        return None
    hub = vars(selector).get("hub")  # bound (and cached) on first registration
    return getattr(hub, "thread_ident", None)


def _real_thread_ident() -> int:
    # gevent patches threading.get_ident to name greenlets; the hub records OS threads.
    # (Only called when the selector is gevent's; the package does not depend on it.)
    monkey: Any = importlib.import_module("gevent.monkey")
    return int(monkey.get_original("_thread", "get_ident")())
