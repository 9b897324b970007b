"""Calls workflow code might make, for the sandbox comparison (test_sandbox_parity.py).

Each SDK's workflow module imports these with ``import *``, so temporalio's sandbox
re-imports this module inside itself (its restricted proxies in place of ``os``,
``time`` ...) and hotmesh_temporal's guard sees calls made from non-library code.
"""

from __future__ import annotations

import datetime
import glob
import json
import math
import os
import pathlib
import platform
import random
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid


def case_os_getcwd() -> object:
    return os.getcwd()


def case_os_listdir() -> object:
    return os.listdir(".")


def case_time_sleep() -> object:
    return time.sleep(0)


def case_time_monotonic() -> object:
    return time.monotonic()


def case_time_perf_counter() -> object:
    return time.perf_counter()


def case_datetime_now() -> object:
    return datetime.datetime.now()


def case_datetime_utcnow() -> object:
    return datetime.datetime.utcnow()


def case_date_today() -> object:
    return datetime.date.today()


def case_uuid1() -> object:
    return uuid.uuid1()


def case_open() -> object:
    with open(__file__) as source:
        return source.read(1)


def case_subprocess_run() -> object:
    return subprocess.run(["true"], check=False).returncode


def case_socket_gethostname() -> object:
    return socket.gethostname()


def case_threading_lock() -> object:
    return threading.Lock()


def case_pathlib_exists() -> object:
    return pathlib.Path(".").exists()


def case_secrets_token_hex() -> object:
    return secrets.token_hex(4)


def case_shutil_which() -> object:
    return shutil.which("sh")


def case_glob() -> object:
    return glob.glob("*.nothing")


def case_platform_system() -> object:
    return platform.system()


def case_tempfile_gettempdir() -> object:
    return tempfile.gettempdir()


# Allowed by temporalio's default restrictions.


def case_json_dumps() -> object:
    return json.dumps({"a": 1})


def case_math_sqrt() -> object:
    return math.sqrt(16)


def case_datetime_constructor() -> object:
    return datetime.datetime(2020, 1, 2).isoformat()


def case_random_instance() -> object:
    return random.Random(7).randint(1, 1000)


def case_re_match() -> object:
    return bool(re.match("a+", "aaa"))


def case_time_strftime() -> object:
    return time.strftime("%Y", time.gmtime(0))


def case_pathlib_pure() -> object:
    return pathlib.PurePosixPath("a", "b").as_posix()


# Reads, not calls: temporalio refuses reading os.name and os.path (its restrictions'
# access sets) and any use of os.environ but membership, length and iteration.


def case_os_name() -> object:
    return os.name


def case_os_path_join() -> object:
    return os.path.join("a", "b")


def case_os_sep() -> object:
    return os.sep


def case_os_environ_item() -> object:
    return os.environ["PATH"]


def case_os_environ_get() -> object:
    return os.environ.get("PATH")


def case_os_environ_copy() -> object:
    return dict(os.environ)


def case_os_environ_set_and_delete() -> object:
    os.environ["HOTMESH_SANDBOX_CASE"] = "1"
    del os.environ["HOTMESH_SANDBOX_CASE"]
    return "set and deleted"


def case_os_environ_delete_missing() -> object:
    del os.environ["HOTMESH_SANDBOX_CASE_NEVER_SET"]
    return None


def case_os_environ_pop() -> object:
    return os.environ.pop("HOTMESH_SANDBOX_CASE_NEVER_SET", None)


def case_os_environ_contains() -> object:
    return "PATH" in os.environ


def case_os_environ_len_and_iteration() -> object:
    return len(os.environ) == len(list(os.environ)) and bool(os.environ)


def case_os_environ_repr() -> object:
    return repr(os.environ)[:8]


def case_os_environb_bytes_item() -> object:
    return os.environb[b"PATH"] is not None


# Refused by temporalio, answered from the workflow here (docs/determinism.md).


def case_time_time() -> object:
    return time.time()


def case_random_randint() -> object:
    return random.randint(1, 10)


def case_uuid4() -> object:
    return uuid.uuid4()


CASE_NAMES = sorted(name for name in dir() if name.startswith("case_"))
