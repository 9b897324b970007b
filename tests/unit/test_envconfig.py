"""envconfig: TOML profiles and TEMPORAL_* variables, read as temporalio reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotmesh_temporal.client import Client
from hotmesh_temporal.envconfig import (
    ClientConfig,
    ClientConfigProfile,
    ClientConfigTLS,
)
from hotmesh_temporal.service import TLSConfig

TOML = b"""
[profile.default]
address = "db.example.com:7233"
namespace = "ns"

[profile.default.tls]
server_name = "sn"
server_ca_cert_data = "CA"
client_cert_path = "/x/cert"

[profile.default.grpc_meta]
Some_Key = "v"

[profile.other]
api_key = "k"
"""


def test_all_profiles_as_dict() -> None:
    config = ClientConfig.load(config_source=TOML, override_env_vars={})
    assert config.to_dict() == {
        "default": {
            "address": "db.example.com:7233",
            "namespace": "ns",
            "tls": {
                "server_name": "sn",
                "server_ca_cert": {"data": "CA"},
                "client_cert": {"path": "/x/cert"},
            },
            "grpc_meta": {"some-key": "v"},
        },
        "other": {"api_key": "k"},
    }
    tls = config.profiles["default"].tls
    assert tls == ClientConfigTLS(
        server_name="sn", server_root_ca_cert=b"CA", client_cert=Path("/x/cert")
    )
    assert ClientConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()


def test_env_overrides_and_profile_from_env() -> None:
    profile = ClientConfigProfile.load(
        config_source=TOML,
        override_env_vars={
            "TEMPORAL_ADDRESS": "env:2",
            "TEMPORAL_GRPC_META_MY_HEADER": "h",
            "TEMPORAL_TLS": "true",
            "TEMPORAL_PROFILE": "other",
        },
    )
    assert profile == ClientConfigProfile(
        address="env:2",
        api_key="k",
        tls=ClientConfigTLS(disabled=False),
        grpc_meta={"my-header": "h"},
    )


def test_empty_env_meta_value_removes_header() -> None:
    profile = ClientConfigProfile.load(
        config_source=b'[profile.default.grpc_meta]\nA_b = "x"\nc = "y"',
        override_env_vars={"TEMPORAL_GRPC_META_A_B": ""},
    )
    assert profile.grpc_meta == {"c": "y"}


def test_tls_bool_values() -> None:
    def tls(value: str) -> ClientConfigTLS | None:
        env = {"TEMPORAL_TLS": value}
        return ClientConfigProfile.load(config_source=b"", override_env_vars=env).tls

    assert tls("0") == ClientConfigTLS(disabled=True)
    assert tls("false") == ClientConfigTLS(disabled=True)
    assert tls("1") == ClientConfigTLS(disabled=False)
    assert tls("maybe") == ClientConfigTLS()  # not a boolean: TLS present, unspecified


def test_connect_config() -> None:
    connect = ClientConfig.load_client_connect_config(
        config_file=None,
        override_env_vars={"TEMPORAL_TLS_SERVER_NAME": "s", "TEMPORAL_API_KEY": "k"},
        disable_file=True,
    )
    assert connect == {"api_key": "k", "tls": TLSConfig(domain="s")}
    plain = ClientConfigProfile.load(
        config_source=b"", override_env_vars={"TEMPORAL_TLS": "false", "TEMPORAL_NAMESPACE": "n"}
    )
    assert plain.to_client_connect_config() == {"namespace": "n", "tls": False}
    # An API key alone turns TLS on, as in temporalio.
    keyed = ClientConfigProfile(api_key="secret").to_client_connect_config()
    assert keyed == {"api_key": "secret", "tls": True}
    assert ClientConfigProfile().to_client_connect_config() == {}


def test_tls_sources_are_read_when_connecting(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_bytes(b"CERT")
    tls = ClientConfigTLS(client_cert=cert, client_private_key=b"KEY", server_root_ca_cert="CA")
    assert tls.to_connect_tls_config() == TLSConfig(
        client_cert=b"CERT", client_private_key=b"KEY", server_root_ca_cert=b"CA"
    )


def test_config_file_and_env_file_location(tmp_path: Path) -> None:
    path = tmp_path / "temporal.toml"
    path.write_bytes(TOML)
    by_argument = ClientConfig.load_client_connect_config(
        "other", config_file=str(path), override_env_vars={}
    )
    assert by_argument == {"api_key": "k", "tls": True}
    by_env = ClientConfigProfile.load(override_env_vars={"TEMPORAL_CONFIG_FILE": str(path)})
    assert by_env.address == "db.example.com:7233"
    # A missing file is an empty configuration, not an error.
    missing = {"TEMPORAL_CONFIG_FILE": str(tmp_path / "nope.toml")}
    assert ClientConfigProfile.load(override_env_vars=missing) == ClientConfigProfile()


def test_default_file_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "temporalio").mkdir()
    (tmp_path / "temporalio" / "temporal.toml").write_bytes(TOML)
    assert ClientConfigProfile.load(override_env_vars={}).namespace == "ns"


def test_disable_env_and_disable_file() -> None:
    no_env = ClientConfigProfile.load(
        config_source=b"[profile.default]\n",
        disable_env=True,
        override_env_vars={"TEMPORAL_ADDRESS": "a"},
    )
    assert no_env.address is None
    no_file = ClientConfigProfile.load(
        config_source=None,
        disable_file=True,
        override_env_vars={"TEMPORAL_NAMESPACE": "a", "TEMPORAL_CONFIG_FILE": "/x"},
    )
    assert no_file == ClientConfigProfile(namespace="a")
    # Without a file, a profile name has nothing to be looked up in: no error.
    assert ClientConfigProfile.load("p", disable_file=True, override_env_vars={}) == (
        ClientConfigProfile()
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": "nope", "config_source": TOML}, "Profile 'nope' not found"),
        ({"profile": "default", "config_source": b"[profile.x]\n"}, "'default' not found"),
        ({"config_source": b"", "override_env_vars": {"TEMPORAL_PROFILE": "zz"}}, "'zz' not found"),
        ({"config_source": b"[profile.default]\nfoo=1", "config_file_strict": True}, "foo"),
        ({"config_source": b"[profile.default]\naddress=1"}, "expected a string"),
        ({"config_source": b"[profile.default"}, "Configuration loading error"),
        (
            {"config_source": b'[profile.default.tls]\nclient_cert_path="a"\nclient_cert_data="b"'},
            "Cannot specify both client_cert_path and client_cert_data",
        ),
        (
            {
                "config_source": b'[profile.default.tls]\nclient_key_path="/k"',
                "override_env_vars": {"TEMPORAL_TLS_CLIENT_KEY_DATA": "kk"},
            },
            "TEMPORAL_TLS_CLIENT_KEY_DATA",
        ),
    ],
)
def test_bad_configuration_is_a_clear_error(kwargs: dict, message: str) -> None:
    kwargs.setdefault("override_env_vars", {})
    with pytest.raises(RuntimeError, match=message):
        ClientConfigProfile.load(**kwargs)


def test_unknown_keys_are_ignored_unless_strict() -> None:
    loose = ClientConfigProfile.load(
        config_source=b'[profile.default]\nfoo = 1\naddress = "x"', override_env_vars={}
    )
    assert loose.address == "x"


def test_env_path_replaces_file_path() -> None:
    profile = ClientConfigProfile.load(
        config_source=b'[profile.default.tls]\nclient_key_path="/k"',
        override_env_vars={
            "TEMPORAL_TLS_CLIENT_KEY_PATH": "/kk",
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/ca",
        },
    )
    assert profile.tls == ClientConfigTLS(
        client_private_key=Path("/kk"), server_root_ca_cert=Path("/ca")
    )


async def test_address_connects_like_client_connect(dsn: str) -> None:
    """A profile's address is Client.connect's target: a Postgres URL works as is."""
    connect = ClientConfig.load_client_connect_config(
        override_env_vars={"TEMPORAL_ADDRESS": dsn, "TEMPORAL_NAMESPACE": "cfg-ns"},
        disable_file=True,
    )
    client = await Client.connect(**connect)
    try:
        assert client.namespace == "cfg-ns"
        assert await client.service_client.check_health()
    finally:
        await client.service_client.close()


def test_bad_sources_fail_with_temporalios_messages() -> None:
    import temporalio.envconfig as t

    from hotmesh_temporal import envconfig as h

    for module in (t, h):
        with pytest.raises(TypeError) as err:
            module.ClientConfigTLS(client_cert=42).to_connect_tls_config()  # type: ignore[arg-type]
        assert str(err.value) == "Source must be one of pathlib.Path, str, or bytes, but got int"
        with pytest.raises(TypeError) as err:
            module.ClientConfig.load(config_source=42)  # type: ignore[arg-type]
        assert str(err.value) == (
            "config_source must be one of pathlib.Path, str, bytes, or None, but got int"
        )
