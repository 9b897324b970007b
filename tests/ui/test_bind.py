"""Where the UI may listen: loopback freely, anything else only when asked, with a
warning that says what is exposed."""

from __future__ import annotations

import pytest

from hotmesh_temporal.ui.server import BindRefused, UIOptions, check_bind


def test_loopback_needs_nothing():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert check_bind(host, allow_remote=False, options=UIOptions()) is None


def test_other_addresses_need_allow_remote_and_warn():
    with pytest.raises(BindRefused, match="--allow-remote"):
        check_bind("0.0.0.0", allow_remote=False, options=UIOptions())
    open_warning = check_bind("0.0.0.0", allow_remote=True, options=UIOptions())
    assert open_warning is not None
    assert "0.0.0.0" in open_warning and "actions enabled" in open_warning
    assert "NO token" in open_warning
    guarded = check_bind(
        "192.0.2.10", allow_remote=True, options=UIOptions(read_only=True, token="t")
    )
    assert guarded is not None and "read-only" in guarded and "a bearer token" in guarded
