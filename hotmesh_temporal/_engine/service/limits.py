"""The deployment's limits and string checks, for the public modules (which never
import the store layer): the same names as ``store/limits.py``."""

from hotmesh_temporal._engine.store.limits import (  # noqa: F401 (re-exported)
    BLOB_TOO_LARGE,
    MEMO_ERROR,
    MEMO_TOO_LARGE,
    MEMO_WARNING,
    PAYLOADS_ERROR,
    PAYLOADS_WARNING,
    InvalidStringError,
    Limits,
    check_name,
    memo_size,
)
