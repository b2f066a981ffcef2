"""A bare Odoo protocol client for the tests (plain httpx and xmlrpc.client, on purpose: the
tests must not depend on the platform's client)."""

from __future__ import annotations

import itertools
import secrets
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

_ids = itertools.count(1)
TIMEOUT = httpx.Timeout(300.0, connect=10.0)
# The administrator password of the databases the tests create.
ADMIN_PASSWORD = "admin-" + secrets.token_hex(4)


def unique_db_name() -> str:
    return f"emu_test_{secrets.token_hex(5)}"


class RpcError(Exception):
    """A JSON-RPC error envelope."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(
            f"{error.get('data', {}).get('name')}: {error.get('data', {}).get('message')}"
        )
        self.error = error

    @property
    def name(self) -> str:
        return str(self.error["data"]["name"])

    @property
    def message(self) -> str:
        return str(self.error["data"]["message"])


@dataclass
class OdooServer:
    url: str
    master_password: str
    serie: str
    version_info: list[Any]
    # SQL access to the server's PostgreSQL, for the tests that need it.
    postgres_url: str | None = None
    emulator_data_dir: Path | None = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=TIMEOUT))

    @classmethod
    def probe(
        cls,
        url: str,
        master_password: str,
        postgres_url: str | None,
        emulator_data_dir: Path | None = None,
    ) -> OdooServer:
        http = httpx.Client(timeout=TIMEOUT)
        version = jsonrpc(http, url, "common", "version")
        return cls(
            url=url,
            master_password=master_password,
            serie=version["server_serie"],
            version_info=version["server_version_info"],
            postgres_url=postgres_url,
            emulator_data_dir=emulator_data_dir,
            http=http,
        )

    @property
    def major(self) -> int:
        return int(self.version_info[0])

    @property
    def is_emulator(self) -> bool:
        return self.emulator_data_dir is not None

    def jsonrpc(self, service: str, method: str, *args: Any) -> Any:
        return jsonrpc(self.http, self.url, service, method, *args)

    def db(self, method: str, *args: Any) -> Any:
        return self.jsonrpc("db", method, *args)

    def common(self, method: str, *args: Any) -> Any:
        return self.jsonrpc("common", method, *args)

    def execute_kw(
        self,
        db: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        return self.jsonrpc(
            "object", "execute_kw", db, uid, password, model, method, args or [], kwargs or {}
        )

    def xmlrpc(self, service: str, *, legacy: bool = False) -> xmlrpc.client.ServerProxy:
        path = f"/xmlrpc/{service}" if legacy else f"/xmlrpc/2/{service}"
        return xmlrpc.client.ServerProxy(self.url + path, allow_none=True)

    def post_json(
        self, path: str, params: dict[str, Any], client: httpx.Client | None = None
    ) -> httpx.Response:
        payload = {"jsonrpc": "2.0", "method": "call", "params": params, "id": next(_ids)}
        return (client or self.http).post(self.url + path, json=payload)

    def drop_quietly(self, name: str) -> None:
        try:
            self.db("drop", self.master_password, name)
        except (RpcError, httpx.HTTPError):
            pass


def jsonrpc(http: httpx.Client, url: str, service: str, method: str, *args: Any) -> Any:
    payload = {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"service": service, "method": method, "args": list(args)},
        "id": next(_ids),
    }
    response = http.post(url + "/jsonrpc", json=payload)
    response.raise_for_status()
    body = response.json()
    if "error" in body:
        raise RpcError(body["error"])
    return body.get("result")
