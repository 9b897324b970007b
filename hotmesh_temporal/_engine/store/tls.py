"""Client ``tls=`` options as a TLS context for the Postgres connections.

``Client.connect(tls=...)`` means an encrypted, verified connection to the server, as
with Temporal: ``True`` verifies the server against the system's roots, a
``TLSConfig`` brings its own root CA and client certificate. The context is used by
the pool and the LISTEN connection alike. ``ssl`` rejects a client certificate given
as bytes, so the certificate and key pass through a private temporary file that is
removed as soon as they are loaded.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from typing import Any


def tls_context(tls: Any) -> ssl.SSLContext | None:
    """The SSL context for a ``tls`` option; None leaves TLS to the DSN (sslmode=...)."""
    if tls is None or tls is False:
        return None
    if tls is True:
        return ssl.create_default_context()
    if bool(tls.client_cert) != bool(tls.client_private_key):
        raise ValueError("TLSConfig: client_cert and client_private_key must be given together")
    roots = tls.server_root_ca_cert
    context = ssl.create_default_context(cadata=roots.decode() if roots else None)
    if tls.client_cert:
        _load_client_certificate(context, tls.client_cert, tls.client_private_key)
    return context


def _load_client_certificate(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    fd, path = tempfile.mkstemp(prefix="hotmesh-tls-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(cert.rstrip(b"\n") + b"\n" + key)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
