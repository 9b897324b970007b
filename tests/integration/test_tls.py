"""``Client.connect(tls=...)``: TLS options become Postgres TLS settings."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal._engine.store.tls import tls_context
from hotmesh_temporal.client import Client
from hotmesh_temporal.service import RPCError, RPCStatusCode, TLSConfig
from hotmesh_temporal.worker import Worker


def test_no_tls_leaves_it_to_the_dsn():
    assert tls_context(None) is None
    assert tls_context(False) is None


def test_tls_true_verifies_the_server_name_and_certificate():
    context = tls_context(True)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_client_cert_needs_its_key():
    with pytest.raises(ValueError, match="together"):
        tls_context(TLSConfig(client_cert=b"CERT"))


async def test_tls_to_a_server_without_tls_fails_clearly(dsn):
    # The test server runs without TLS: asking for it must fail, not fall back silently.
    with pytest.raises(RPCError) as err:
        await Client.connect(dsn, tls=True)
    assert err.value.status == RPCStatusCode.UNAVAILABLE
    assert "SSL" in str(err.value) or "ssl" in str(err.value)


# ------------------------------------------------------------- a real TLS server


def _self_signed(directory: str) -> tuple:
    """A self-signed certificate for 127.0.0.1 / localhost and its key, as PEM files."""
    cert, key = os.path.join(directory, "server.crt"), os.path.join(directory, "server.key")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
    )
    os.chmod(key, 0o600)
    return cert, key


@pytest.fixture(scope="module")
def tls_server():
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    from bench.pgcluster import TempCluster, find_bin_dir

    try:
        find_bin_dir()
    except RuntimeError:
        pytest.skip("no initdb on this machine (embedded Postgres only)")
    cluster = TempCluster()
    cert, key = _self_signed(cluster.root)
    for path in (cert, key):
        cluster.give_to_server(path)
    cluster.extra_settings.update(ssl="on", ssl_cert_file=cert, ssl_key_file=key)
    cluster.start()
    with open(cert, "rb") as f:
        pem = f.read()
    with open(key, "rb") as f:
        key_pem = f.read()
    try:
        yield cluster, pem, key_pem
    finally:
        cluster.stop()


@activity.defn
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class ShoutWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            shout, text, start_to_close_timeout=timedelta(seconds=10)
        )


async def test_workflow_runs_over_verified_tls(tls_server):
    cluster, ca_pem, key_pem = tls_server
    tls = TLSConfig(server_root_ca_cert=ca_pem, client_cert=ca_pem, client_private_key=key_pem)
    client = await Client.connect(cluster.dsn + "?schema=tls_test", tls=tls)
    try:
        queue = f"tls-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[ShoutWorkflow], activities=[shout]):
            result = await client.execute_workflow(
                ShoutWorkflow.run, "over tls", id=f"tls-{uuid.uuid4()}", task_queue=queue
            )
        assert result == "OVER TLS"
        store = (await client.service_client._engine()).store
        assert await store.pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        await client.service_client.close()


async def test_unknown_server_certificate_is_refused(tls_server):
    cluster, _, _ = tls_server
    # tls=True trusts only the system's roots, which never signed our test certificate.
    with pytest.raises(RPCError) as err:
        await Client.connect(cluster.dsn + "?schema=tls_test", tls=True)
    assert err.value.status == RPCStatusCode.UNAVAILABLE
    assert "certificate" in str(err.value).lower()
