"""The driver of an Odoo host: the one place that names an implementation of ``OdooDriver``."""

from __future__ import annotations

import functools
import ssl
from pathlib import Path

import httpx

from saas_server.core.runtime import Runtime
from saas_server.instances.hosts.models import OdooHost
from saas_server.odoo.client import OdooClient
from saas_server.odoo.driver import OdooDriver
from saas_server.odoo.rpc_driver import RpcDriver

# The built-in emulator's data dir under the platform's (hosts/emulator.py).
EMULATOR_DIR = "odoo-emulator"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every Odoo client: httpx builds a new one per client otherwise
    (loading the CA bundle: ~40 ms of CPU, paid by every provisioning job and host check)."""
    return httpx.create_ssl_context()


def driver_for(runtime: Runtime, host: OdooHost) -> OdooDriver:
    """The host's driver: the one place that names an implementation of ``OdooDriver``."""
    return RpcDriver(
        host.url,
        runtime.secrets.decrypt(host.master_password_encrypted),
        postgres_url=(
            runtime.secrets.decrypt(host.postgres_url_encrypted)
            if host.postgres_url_encrypted
            else None
        ),
        # The built-in emulator keeps its filestores under our data dir: backups of its
        # databases are assembled here, pipelined (odoo/direct_dump.py).
        filestore_root=(
            Path(runtime.settings.data_dir) / EMULATOR_DIR / "filestore"
            if host.is_emulator
            else None
        ),
        client=OdooClient(host.url, transport=httpx.AsyncHTTPTransport(verify=_tls_context())),
    )
