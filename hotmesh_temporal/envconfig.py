"""Client configuration from TOML profiles and ``TEMPORAL_*`` environment variables,
with ``temporalio.envconfig``'s API and file format.

A profile's ``address`` becomes ``Client.connect``'s ``target_host``, so it may be a
Postgres URL (``postgresql://user@host/db?schema=s``) or a Temporal-style
``host:port``, which means the default database (``HOTMESH_DSN``, else the local
Postgres, else an embedded one). TLS, API key and gRPC metadata are read exactly as
temporalio reads them; ``Client.connect`` accepts them and has no use for them.

The file (``TEMPORAL_CONFIG_FILE``, else ``temporalio/temporal.toml`` in the user's
configuration directory) looks like::

    [profile.default]
    address = "postgresql://postgres@127.0.0.1:5432/app"
    namespace = "default"

    [profile.default.tls]
    server_name = "db.example.com"

    [profile.default.grpc_meta]
    my-header = "value"

Environment variables override the selected profile: ``TEMPORAL_ADDRESS``,
``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``, ``TEMPORAL_TLS``,
``TEMPORAL_TLS_SERVER_NAME``, ``TEMPORAL_TLS_{SERVER_CA_CERT,CLIENT_CERT,CLIENT_KEY}_{PATH,DATA}``,
``TEMPORAL_GRPC_META_<NAME>`` (an empty value removes the header) and
``TEMPORAL_PROFILE`` (the profile to use).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias, TypedDict, cast

import hotmesh_temporal.service
from hotmesh_temporal._envconfig_errors import ConfigError as _ConfigError
from hotmesh_temporal._envconfig_errors import check_document, decode_error, parse_error

if sys.version_info >= (3, 11):
    from typing import Self

    import tomllib
else:  # pragma: no cover - Python 3.10 (pydantic brings typing_extensions)
    import tomli as tomllib
    from typing_extensions import Self

DataSource: TypeAlias = Path | str | bytes
"""A path to read, or the contents themselves (``str`` or ``bytes``)."""

# TOML / environment names of the three TLS sources -> ClientConfigTLSDict keys.
_TLS_SOURCES = {
    "server_ca_cert": "SERVER_CA_CERT",
    "client_cert": "CLIENT_CERT",
    "client_key": "CLIENT_KEY",
}


class ClientConfigTLSDict(TypedDict, total=False):
    """The TLS table of a profile, as TOML."""

    disabled: bool | None
    server_name: str
    server_ca_cert: Mapping[str, str]
    client_cert: Mapping[str, str]
    client_key: Mapping[str, str]


class ClientConfigProfileDict(TypedDict, total=False):
    """A profile, as TOML."""

    address: str
    namespace: str
    api_key: str
    tls: ClientConfigTLSDict
    grpc_meta: Mapping[str, str]


class ClientConnectConfig(TypedDict, total=False):
    """The ``Client.connect`` keyword arguments a profile can set."""

    target_host: str
    namespace: str
    api_key: str
    tls: bool | hotmesh_temporal.service.TLSConfig
    rpc_metadata: Mapping[str, str]


@dataclass(frozen=True)
class ClientConfigTLS:
    """The TLS settings of a profile."""

    disabled: bool | None = None
    server_name: str | None = None
    server_root_ca_cert: DataSource | None = None
    client_cert: DataSource | None = None
    client_private_key: DataSource | None = None

    def to_dict(self) -> ClientConfigTLSDict:
        """The TOML form (only the settings that are set)."""
        out: ClientConfigTLSDict = {}
        if self.disabled is not None:
            out["disabled"] = self.disabled
        if self.server_name is not None:
            out["server_name"] = self.server_name
        sources: Mapping[str, DataSource | None] = {
            "server_ca_cert": self.server_root_ca_cert,
            "client_cert": self.client_cert,
            "client_key": self.client_private_key,
        }
        for key, source in sources.items():
            as_dict = _source_to_dict(source)
            if as_dict:
                out[key] = as_dict  # type: ignore[literal-required]
        return out

    def to_connect_tls_config(self) -> bool | hotmesh_temporal.service.TLSConfig:
        """``False`` when TLS is disabled, else a ``TLSConfig`` with the sources read."""
        if self.disabled is True:
            return False
        return hotmesh_temporal.service.TLSConfig(
            domain=self.server_name,
            server_root_ca_cert=_read_source(self.server_root_ca_cert),
            client_cert=_read_source(self.client_cert),
            client_private_key=_read_source(self.client_private_key),
        )

    @classmethod
    def from_dict(cls, d: ClientConfigTLSDict | None) -> Self | None:
        if not d:
            return None
        return cls(
            disabled=d.get("disabled"),
            server_name=d.get("server_name"),
            server_root_ca_cert=_dict_to_source(d.get("server_ca_cert")),
            client_cert=_dict_to_source(d.get("client_cert")),
            client_private_key=_dict_to_source(d.get("client_key")),
        )


@dataclass(frozen=True)
class ClientConfigProfile:
    """One profile: where to connect and how."""

    address: str | None = None
    namespace: str | None = None
    api_key: str | None = None
    tls: ClientConfigTLS | None = None
    grpc_meta: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: ClientConfigProfileDict) -> Self:
        return cls(
            address=d.get("address"),
            namespace=d.get("namespace"),
            api_key=d.get("api_key"),
            tls=ClientConfigTLS.from_dict(d.get("tls")),
            grpc_meta=d.get("grpc_meta") or {},
        )

    def to_dict(self) -> ClientConfigProfileDict:
        """The TOML form (only the settings that are set)."""
        out: ClientConfigProfileDict = {}
        if self.address is not None:
            out["address"] = self.address
        if self.namespace is not None:
            out["namespace"] = self.namespace
        if self.api_key is not None:
            out["api_key"] = self.api_key
        tls = self.tls.to_dict() if self.tls else None
        if tls:
            out["tls"] = tls
        if self.grpc_meta:
            out["grpc_meta"] = self.grpc_meta
        return out

    def to_client_connect_config(self) -> ClientConnectConfig:
        """The ``Client.connect`` keyword arguments of this profile: an API key turns
        TLS on (as temporalio does) unless the profile's TLS table says otherwise."""
        config: dict[str, Any] = {}
        if self.address:
            config["target_host"] = self.address
        if self.namespace is not None:
            config["namespace"] = self.namespace
        if self.api_key is not None:
            config["api_key"] = self.api_key
            config["tls"] = True
        if self.tls is not None:
            config["tls"] = self.tls.to_connect_tls_config()
        if self.grpc_meta:
            config["rpc_metadata"] = self.grpc_meta
        return cast(ClientConnectConfig, config)

    @staticmethod
    def load(
        profile: str | None = None,
        *,
        config_source: DataSource | None = None,
        disable_file: bool = False,
        disable_env: bool = False,
        config_file_strict: bool = False,
        override_env_vars: Mapping[str, str] | None = None,
    ) -> ClientConfigProfile:
        """One profile (``profile``, else ``TEMPORAL_PROFILE``, else ``default``) from
        ``config_source`` (else the default file), with environment overrides.

        Raises ``RuntimeError`` for unparseable TOML, a profile asked for by name
        that does not exist, or a TLS source given both as path and as data.
        """
        env = _environment(override_env_vars, disable_env)
        name = profile or env.get("TEMPORAL_PROFILE") or "default"
        raw: dict = {}
        if config_source is not None or not disable_file:
            profiles = _load_profiles(config_source, config_file_strict, env)
            # Only a profile asked for by name must exist; "default" may be absent.
            if name not in profiles and (profile or env.get("TEMPORAL_PROFILE")):
                raise _ConfigError(f"Profile '{name}' not found")
            raw = _profile_from_toml(profiles.get(name) or {})
        if env:
            _apply_env(raw, env)
        return ClientConfigProfile.from_dict(cast(ClientConfigProfileDict, raw))


@dataclass
class ClientConfig:
    """Every profile of a configuration file, by name (no environment overrides)."""

    profiles: Mapping[str, ClientConfigProfile]

    def to_dict(self) -> Mapping[str, ClientConfigProfileDict]:
        return {name: profile.to_dict() for name, profile in self.profiles.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Mapping[str, Any]]) -> Self:
        return cls(
            profiles={
                name: ClientConfigProfile.from_dict(cast(ClientConfigProfileDict, p))
                for name, p in d.items()
            }
        )

    @staticmethod
    def load(
        *,
        config_source: DataSource | None = None,
        config_file_strict: bool = False,
        override_env_vars: Mapping[str, str] | None = None,
    ) -> ClientConfig:
        """All profiles of ``config_source`` (else of the default file, located
        with ``TEMPORAL_CONFIG_FILE``)."""
        env = _environment(override_env_vars, False)
        profiles = _load_profiles(config_source, config_file_strict, env)
        return ClientConfig.from_dict({n: _profile_from_toml(p) for n, p in profiles.items()})

    @staticmethod
    def load_client_connect_config(
        profile: str | None = None,
        *,
        config_file: str | None = None,
        disable_file: bool = False,
        disable_env: bool = False,
        config_file_strict: bool = False,
        override_env_vars: Mapping[str, str] | None = None,
    ) -> ClientConnectConfig:
        """``ClientConfigProfile.load(...).to_client_connect_config()``, reading
        ``config_file`` when given: pass the result to ``Client.connect(**config)``."""
        source = Path(config_file) if config_file and not disable_file else None
        loaded = ClientConfigProfile.load(
            profile=profile,
            config_source=source,
            disable_file=disable_file,
            disable_env=disable_env,
            config_file_strict=config_file_strict,
            override_env_vars=override_env_vars,
        )
        return loaded.to_client_connect_config()


# ------------------------------------------------------------------ sources


def _dict_to_source(d: Mapping[str, Any] | None) -> DataSource | None:
    if not d:
        return None
    if "data" in d:
        return d["data"]
    if "path" in d:
        return Path(d["path"])
    return None


def _source_to_dict(source: DataSource | None) -> Mapping[str, str] | None:
    if isinstance(source, Path):
        return {"path": str(source)}
    if isinstance(source, str):
        return {"data": source}
    if isinstance(source, bytes):
        return {"data": source.decode("utf-8")}
    return None


def _read_source(source: DataSource | None) -> bytes | None:
    if source is None:
        return None
    if isinstance(source, Path):
        return source.read_bytes()
    if isinstance(source, str):
        return source.encode("utf-8")
    if isinstance(source, bytes):
        return source
    raise TypeError(
        f"Source must be one of pathlib.Path, str, or bytes, but got {type(source).__name__}"
    )


# ------------------------------------------------------------------ TOML file


def _environment(override: Mapping[str, str] | None, disabled: bool) -> Mapping[str, str]:
    if disabled:
        return {}
    return dict(os.environ) if override is None else dict(override)


def _default_config_path(env: Mapping[str, str]) -> Path:
    explicit = env.get("TEMPORAL_CONFIG_FILE")
    if explicit:
        return Path(explicit)
    # The user's configuration directory comes from the process environment, not
    # from override_env_vars (as in temporalio).
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "temporalio" / "temporal.toml"


def _read_config_bytes(source: DataSource | None, env: Mapping[str, str]) -> bytes | None:
    """The file's bytes; a file that does not exist is an empty configuration."""
    if isinstance(source, (str, bytes)):
        return source.encode("utf-8") if isinstance(source, str) else source
    if source is not None and not isinstance(source, Path):
        raise TypeError(
            "config_source must be one of pathlib.Path, str, bytes, or None, "
            f"but got {type(source).__name__}"
        )
    path = source if source is not None else _default_config_path(env)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _load_profiles(
    source: DataSource | None, strict: bool, env: Mapping[str, str]
) -> dict[str, dict]:
    data = _read_config_bytes(source, env)
    if not data:
        return {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise decode_error(err) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise parse_error(text, err) from None
    check_document(text, document, strict)
    return document.get("profile") or {}


def _profile_from_toml(profile: Mapping[str, Any]) -> dict:
    """A TOML profile table in ClientConfigProfileDict form."""
    out: dict = {k: profile[k] for k in ("address", "namespace", "api_key") if k in profile}
    if "tls" in profile:
        out["tls"] = _tls_from_toml(profile["tls"] or {})
    meta = {_meta_key(k): str(v) for k, v in (profile.get("grpc_meta") or {}).items()}
    if meta:
        out["grpc_meta"] = meta
    return out


def _tls_from_toml(tls: Mapping[str, Any]) -> dict:
    # "disabled" is always present: an empty [tls] table still means "TLS configured".
    out: dict = {"disabled": tls.get("disabled")}
    if "server_name" in tls:
        out["server_name"] = tls["server_name"]
    for key in _TLS_SOURCES:
        path, data = tls.get(f"{key}_path"), tls.get(f"{key}_data")
        if path is not None and data is not None:
            raise _ConfigError(
                f"Invalid configuration: Cannot specify both {key}_path and {key}_data"
            )
        if path is not None:
            out[key] = {"path": path}
        elif data is not None:
            out[key] = {"data": data.encode("utf-8") if isinstance(data, str) else data}
    return out


def _meta_key(key: str) -> str:
    """gRPC metadata keys are lower case with dashes, as HTTP/2 headers."""
    return key.lower().replace("_", "-")


# ------------------------------------------------------------ environment


def _apply_env(raw: dict, env: Mapping[str, str]) -> None:
    """Override ``raw`` (ClientConfigProfileDict form) with ``TEMPORAL_*`` variables."""
    for key in ("address", "namespace", "api_key"):
        value = env.get(f"TEMPORAL_{key.upper()}")
        if value is not None:
            raw[key] = value
    _apply_env_tls(raw, env)
    _apply_env_meta(raw, env)


def _apply_env_tls(raw: dict, env: Mapping[str, str]) -> None:
    names = [k for k in env if k == "TEMPORAL_TLS" or k.startswith("TEMPORAL_TLS_")]
    if not names:
        return
    tls = raw.setdefault("tls", {"disabled": None})
    if "TEMPORAL_TLS" in env:
        enabled = _parse_bool(env["TEMPORAL_TLS"])
        if enabled is not None:
            tls["disabled"] = not enabled
    if "TEMPORAL_TLS_SERVER_NAME" in env:
        tls["server_name"] = env["TEMPORAL_TLS_SERVER_NAME"]
    for key, env_name in _TLS_SOURCES.items():
        path = env.get(f"TEMPORAL_TLS_{env_name}_PATH")
        data = env.get(f"TEMPORAL_TLS_{env_name}_DATA")
        if path is not None and data is not None:
            raise _ConfigError(
                f"Invalid configuration: Cannot specify both TEMPORAL_TLS_{env_name}_PATH "
                f"and TEMPORAL_TLS_{env_name}_DATA"
            )
        _override_source(tls, key, "path", path, f"TEMPORAL_TLS_{env_name}_PATH")
        _override_source(tls, key, "data", data, f"TEMPORAL_TLS_{env_name}_DATA")


def _override_source(tls: dict, key: str, kind: str, value: str | None, name: str) -> None:
    """An environment source replaces the file's source of the same kind; one of the
    other kind in the file is a conflict (temporalio refuses it too)."""
    if value is None:
        return
    existing = tls.get(key) or {}
    if existing and kind not in existing:
        other = "path" if kind == "data" else "data"
        raise _ConfigError(
            f"Invalid configuration: Cannot specify {key} {kind} via {name} when "
            f"{key} {other} is already specified"
        )
    tls[key] = {kind: value}


def _apply_env_meta(raw: dict, env: Mapping[str, str]) -> None:
    prefix = "TEMPORAL_GRPC_META_"
    meta = dict(raw.get("grpc_meta") or {})
    for name, value in env.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            key = _meta_key(name[len(prefix) :])
            if value:
                meta[key] = value
            else:
                meta.pop(key, None)
    if meta:
        raw["grpc_meta"] = meta
    else:
        raw.pop("grpc_meta", None)


def _parse_bool(value: str) -> bool | None:
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return None
