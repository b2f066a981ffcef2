"""The one interface the platform uses to run Odoo databases.

Callers (provisioning, lifecycle, standbys, backups) speak only to ``OdooDriver`` and never
reach past it to the Odoo client; ``RpcDriver`` implements it for any Odoo server reachable
over HTTP (plus SQL when the host has a PostgreSQL URL), and only the host factory
(``instances/hosts/service.py`` ``driver_for``) names it. A Kubernetes driver can implement
the same protocol later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Protocol

from saas_server.odoo.client import ServerVersion


@dataclass(frozen=True)
class Credentials:
    login: str
    password: str


@dataclass(frozen=True)
class DatabaseSetup:
    """What provisioning writes into a fresh database (all of it idempotent)."""

    admin: Credentials
    company_name: str
    lang: str
    timezone: str
    base_url: str
    expires_at: datetime | None = None
    expiration_reason: str | None = None
    extra_params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OdooUser:
    """An internal user the platform manages in a tenant's database (a seat)."""

    login: str
    name: str
    email: str


@dataclass(frozen=True)
class HostHealth:
    reachable: bool
    latency_ms: float | None
    version: ServerVersion | None
    error: str | None = None


@dataclass(frozen=True)
class UserActivity:
    """A database's internal users (``share`` false, active), and how many of them logged
    in since the moment asked about (their ``login_date``, kept by ``res.users.log``)."""

    internal_users: int
    active_users: int


@dataclass(frozen=True)
class LoginRecord:
    """One successful login to an Odoo database (a ``res.users.log`` row)."""

    at: datetime
    user_id: int
    user: str


# The counters of ``pg_stat_database`` a tenant's metrics carry (connections now, and
# cumulative transaction, block and row counters since the statistics were reset).
DATABASE_STAT_COLUMNS = (
    "numbackends",
    "xact_commit",
    "xact_rollback",
    "blks_read",
    "blks_hit",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
)


@dataclass(frozen=True)
class OdooLogin:
    """A person logged in to an Odoo database through its web login (a portal client or an
    employee): who they are there, and the web session Odoo opened for them."""

    uid: int
    partner_id: int
    db: str
    login: str
    name: str
    is_internal: bool
    is_portal: bool
    company_id: int | None
    lang: str | None
    tz: str | None
    session_id: str


class OdooDriver(Protocol):
    @property
    def can_stop(self) -> bool:
        """Whether one database can be stopped (closed) while the others keep working:
        that needs SQL access to the host's PostgreSQL, which RPC cannot replace."""
        ...

    def database_url(self, name: str) -> str | None:
        """A PostgreSQL URL of the host's database ``name``, where the host has one (the
        move's catch-up reads and writes tables through it); None otherwise."""
        ...

    async def close(self) -> None: ...

    async def health(self) -> HostHealth: ...

    async def server_version(self) -> ServerVersion: ...

    async def list_databases(self) -> list[str]:
        """The databases the Odoo server lists (``db.list``): not the stopped ones, nor
        those of another PostgreSQL role; raises ``OdooError`` when listing is off."""
        ...

    async def database_exists(self, name: str) -> bool: ...

    async def create(self, name: str, *, admin: Credentials, lang: str) -> None: ...

    async def clone(self, template: str, name: str) -> None: ...

    async def rename(self, name: str, new_name: str) -> None: ...

    async def configure(
        self,
        name: str,
        *,
        current: Credentials,
        setup: DatabaseSetup,
        renew_identity: bool = True,
    ) -> None: ...

    async def authenticate(self, name: str, credentials: Credentials) -> int | None: ...

    async def set_config_parameters(
        self, name: str, uid: int, password: str, values: Mapping[str, str]
    ) -> None:
        """Write ``values`` into ``ir.config_parameter``, in their order, as the user
        ``uid`` (whose ``password`` is given; callers authenticate first)."""
        ...

    async def set_password(
        self,
        name: str,
        current: Credentials,
        password: str,
        *,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        """Log in as ``current``, write ``parameters``, then give that user ``password``
        (Odoo hashes it; the write ends the login). One password check; raises
        ``OdooFault`` (access denied) when ``current`` is refused."""
        ...

    async def stop(self, name: str) -> None: ...

    async def start(self, name: str) -> None: ...

    async def restart(self, name: str) -> None: ...

    async def drop(self, name: str) -> bool: ...

    async def drop_and_confirm(self, name: str) -> bool:
        """Drop ``name`` if it exists, then prove it is gone: False when it is still
        there (Odoo answered but left it in place), True when it is gone or never was."""
        ...

    def dump(self, name: str) -> AsyncIterator[bytes]: ...

    async def restore(self, name: str, archive: IO[bytes], *, copy: bool) -> None: ...

    async def size(self, name: str) -> int | None: ...

    async def filestore_size(self, name: str) -> int | None: ...

    async def database_stats(self, name: str) -> dict[str, int] | None:
        """``DATABASE_STAT_COLUMNS`` of the database from ``pg_stat_database``; None when
        the host has no PostgreSQL URL."""
        ...

    async def user_activity(
        self, name: str, credentials: Credentials, since: datetime
    ) -> UserActivity:
        """Internal users and those who logged in since ``since``, read as ``credentials``
        (the tenant's administrator) through RPC."""
        ...

    async def login_records(
        self,
        name: str,
        credentials: Credentials,
        *,
        since: datetime | None,
        until: datetime | None,
        limit: int,
    ) -> list[LoginRecord]:
        """The database's newest logins (``res.users.log``), at most ``limit``, read as the
        tenant's administrator."""

    # -- internal users (billing's seats) --

    async def ensure_internal_user(
        self, name: str, admin: Credentials, user: OdooUser, password: str
    ) -> bool:
        """Make ``user.login`` an active internal user, logged in as ``admin``: created
        with ``password`` when no user has that login (True), else reactivated as it was,
        password untouched (False)."""
        ...

    async def deactivate_user(self, name: str, admin: Credentials, login: str) -> bool:
        """Archive the user of that login (False: no such active user)."""
        ...

    async def active_internal_logins(self, name: str, admin: Credentials) -> list[str]:
        """The logins of the active internal (non-portal, non-public) users."""
        ...

    # -- records (the client portal's reads and writes, as the tenant's administrator) --

    async def install_modules(self, name: str, admin: Credentials, modules: list[str]) -> list[str]:
        """Install the modules not installed yet (``button_immediate_install``); the names
        newly installed. Raises ``OdooFault`` when a module is unknown to the server."""
        ...

    async def search_read(
        self,
        name: str,
        admin: Credentials,
        model: str,
        domain: list[Any],
        fields: list[str],
        *,
        order: str | None = None,
        limit: int | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]: ...

    async def readable_fields(
        self, name: str, admin: Credentials, model: str, fields: list[str]
    ) -> list[str]:
        """Those of ``fields`` the user may read on ``model`` (``fields_get``: Odoo leaves out
        a field of groups the user is in none of, and reading one is an AccessError)."""
        ...

    async def create_record(
        self, name: str, admin: Credentials, model: str, values: dict[str, Any]
    ) -> int: ...

    async def unlink_records(
        self, name: str, admin: Credentials, model: str, ids: list[int]
    ) -> bool: ...

    async def web_login(self, name: str, login: str, password: str) -> OdooLogin | None:
        """Log a person in as Odoo's web login does (``/web/session/authenticate``); None
        when Odoo refuses the credentials."""
        ...

    async def web_logout(self, session_id: str) -> None:
        """End a web session ``web_login`` opened (``/web/session/destroy``)."""
        ...
