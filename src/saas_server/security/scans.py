"""Security scans of a tenant's Odoo and host: what is checkable from the platform, each
finding with its severity, evidence and fix.

A scan is a row (``security_scans``) and a job: requesting one (API, CLI, the weekly
schedule) writes the row and defers the job in the same transaction; the job takes it
``running`` (SCAN in security/lifecycle.py), runs the checks outside any transaction (they
are network calls) and stores the findings. Every check is read-only on the tenant: the
only logins it tries are a short list of known-weak passwords, fewer than Odoo's login
cooldown (``base.login_cooldown_after``, 10 failures), so no real user is ever locked out.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import Conflict, NotFound
from saas_server.core.jobs import defer
from saas_server.core.runtime import Runtime
from saas_server.events.service import SECURITY_SCAN_COMPLETED, emit
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.models import Instance
from saas_server.instances.service import production_instance
from saas_server.odoo.client import OdooClient
from saas_server.odoo.errors import OdooError
from saas_server.security.lifecycle import SCAN, ScanAction
from saas_server.security.models import ScanStatus, SecurityScan
from saas_server.tenants.models import Membership, Tenant, TenantRole, TenantStatus
from saas_server.users.models import User

logger = logging.getLogger(__name__)

SCAN_TASK = "security.scan_tenant"
SCHEDULE_SCANS_TASK = "security.schedule_scans"
SCAN_REQUESTED = "security.scan_requested"
SCAN_COMPLETED = SECURITY_SCAN_COMPLETED
SCAN_INTERVAL = timedelta(days=7)
# Scans the weekly schedule starts per run, so a large fleet spreads over several runs.
SCHEDULE_BATCH = 200

# The latest patch release known to this project of each series (nightly builds are dated
# ``<serie>-YYYYMMDD``): the newest builds run and observed (docs/odoo-protocol notes,
# section 11, and the emulator that plays them). A server built before it misses the fixes
# released since. Review and raise these with each Odoo server the project is tested on.
LATEST_PATCH_RELEASES: dict[str, date] = {
    "17.0": date(2024, 7, 9),
    "18.0": date(2025, 5, 20),
    "19.0": date(2025, 10, 2),
}
LATEST_PATCH_TABLE_DATE = date(2026, 12, 5)
_BUILD_DATE = re.compile(r"-(\d{4})(\d{2})(\d{2})")

# Tried as Odoo's master password (db.list_countries checks it and changes nothing).
WEAK_MASTER_PASSWORDS = ("admin", "odoo", "password", "master", "123456")
# Tried on the admin account and on a user named "admin": at most 2 x 4 = 8 failed logins,
# below Odoo's cooldown of 10.
WEAK_USER_PASSWORDS = ("admin", "odoo", "password", "123456")
DEFAULT_ADMIN_LOGIN = "admin"


class ScanNotFound(NotFound):
    code = "SCAN_NOT_FOUND"
    message = "Security scan not found"


class TenantNotScannable(Conflict):
    message = "The tenant has no running Odoo database to scan"


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    title: str
    evidence: str
    fix: str


def build_date(server_version: str) -> date | None:
    """The build date of a packaged server (``17.0-20240709``, ``18.0+e-20250520``)."""
    found = _BUILD_DATE.search(server_version)
    if found is None:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


def version_finding(server_version: str, serie: str) -> Finding | None:
    latest = LATEST_PATCH_RELEASES.get(serie)
    built = build_date(server_version)
    if latest is None or built is None or built >= latest:
        return None
    return Finding(
        check="outdated_version",
        severity="medium",
        title="Odoo is behind the latest patch release of its series",
        evidence=f"server_version {server_version!r}, built {built}; the latest {serie} "
        f"patch release known is of {latest} (table of {LATEST_PATCH_TABLE_DATE})",
        fix=f"Update the server to the latest {serie} nightly build and restart it.",
    )


# -- requesting and reading -----------------------------------------------------------------


async def request_scan(
    session: AsyncSession,
    tenant: Tenant,
    *,
    trigger: str,
    actor_id: uuid.UUID | None,
    client: ClientInfo | None,
) -> SecurityScan:
    """A pending scan of ``tenant``, its job deferred in this transaction."""
    if tenant.status != TenantStatus.READY.value:
        raise TenantNotScannable()
    scan = SecurityScan(
        tenant_id=tenant.id,
        status=ScanStatus.PENDING.value,
        trigger=trigger,
        requested_by=actor_id,
        findings=[],
    )
    session.add(scan)
    await session.flush()
    await defer(session, SCAN_TASK, queue="maintenance", scan_id=str(scan.id))
    if actor_id is not None:
        await audit.record(
            session,
            action=SCAN_REQUESTED,
            resource_type="security_scan",
            resource_id=scan.id,
            actor_id=actor_id,
            tenant_id=tenant.id,
            new_values={"trigger": trigger},
            client=client,
        )
    return scan


def visible_scans(actor: User) -> Select[Any]:
    """Platform admins see every scan; others the scans of tenants they own or administer."""
    stmt = select(SecurityScan)
    if not actor.is_platform_admin:
        managed = select(Membership.tenant_id).where(
            Membership.user_id == actor.id,
            Membership.role.in_([TenantRole.OWNER.value, TenantRole.ADMIN.value]),
        )
        stmt = stmt.where(SecurityScan.tenant_id.in_(managed))
    return stmt


async def get_scan(session: AsyncSession, actor: User, scan_id: uuid.UUID) -> SecurityScan:
    found = (
        await session.execute(visible_scans(actor).where(SecurityScan.id == scan_id))
    ).scalar_one_or_none()
    if found is None:
        raise ScanNotFound()
    return found


async def schedule_weekly_scans(session: AsyncSession) -> int:
    """Request a scan of each ready tenant whose last scan is older than a week."""
    last = (
        select(SecurityScan.tenant_id, func.max(SecurityScan.created_at).label("last"))
        .group_by(SecurityScan.tenant_id)
        .subquery()
    )
    due = (
        await session.execute(
            select(Tenant)
            .outerjoin(last, last.c.tenant_id == Tenant.id)
            .where(
                Tenant.status == TenantStatus.READY.value,
                (last.c.last.is_(None)) | (last.c.last < clock.now() - SCAN_INTERVAL),
            )
            .order_by(Tenant.created_at)
            .limit(SCHEDULE_BATCH)
        )
    ).scalars()
    count = 0
    for tenant in due:
        await request_scan(session, tenant, trigger="scheduled", actor_id=None, client=None)
        count += 1
    return count


# -- running --------------------------------------------------------------------------------


async def run_scan(runtime: Runtime, scan_id: uuid.UUID) -> SecurityScan | None:
    """Take the scan, run its checks, store the findings (idempotent: a finished scan is left
    as it is)."""
    async with runtime.db.transaction() as session:
        scan = await session.get(SecurityScan, scan_id, with_for_update=True)
        if scan is None or scan.status in (ScanStatus.COMPLETED.value, ScanStatus.FAILED.value):
            return scan
        SCAN.apply(scan, ScanAction.START)
        scan.started_at = clock.now()
        tenant_id = scan.tenant_id
        target = await _target(session, runtime, tenant_id)
    findings: list[Finding] = []
    error: str | None = None
    if target is None:
        error = "The tenant has no Odoo database on a host"
    else:
        try:
            findings = await check_instance(target)
        except (OdooError, httpx.HTTPError) as exc:
            logger.warning("security scan %s failed: %s", scan_id, exc)
            error = f"The tenant's Odoo could not be checked: {exc}"
    async with runtime.db.transaction() as session:
        scan = await session.get(SecurityScan, scan_id, with_for_update=True)
        assert scan is not None
        if error is not None:
            SCAN.apply(scan, ScanAction.FAIL)
            scan.error = error
        else:
            SCAN.apply(scan, ScanAction.COMPLETE)
            scan.findings = [asdict(f) for f in findings]
        scan.completed_at = clock.now()
        await emit(
            session,
            SCAN_COMPLETED,
            {"id": str(scan.id), "status": scan.status, "findings": len(scan.findings)},
            tenant_id=tenant_id,
        )
        return scan


@dataclass(frozen=True)
class ScanTarget:
    """What the checks need of a tenant's production database, read before they start."""

    host_url: str
    database: str
    admin_login: str
    admin_password: str = field(repr=False)


async def _target(
    session: AsyncSession, runtime: Runtime, tenant_id: uuid.UUID
) -> ScanTarget | None:
    instance: Instance | None = await production_instance(session, tenant_id)
    if instance is None or instance.host_id is None:
        return None
    host = await session.get(OdooHost, instance.host_id)
    if host is None:
        return None
    return ScanTarget(
        host_url=host.url,
        database=instance.database_name,
        admin_login=instance.admin_login,
        admin_password=runtime.secrets.decrypt(instance.admin_password_encrypted),
    )


async def check_instance(target: ScanTarget) -> list[Finding]:
    """Every check on one database and its host; read-only."""
    db = target.database
    admin_login = target.admin_login
    admin_password = target.admin_password
    host_url = target.host_url
    findings: list[Finding] = []
    async with OdooClient(host_url, retries=1) as client:
        version = await client.version()
        found = version_finding(version.server_version, version.server_serie)
        if found:
            findings.append(found)

        listing = await _lists_databases(client)
        if listing is not None:
            findings.append(
                Finding(
                    check="database_listing",
                    severity="medium",
                    title="Database listing is enabled",
                    evidence=f"db.list on {host_url} answered {listing} database names",
                    fix="Start Odoo with --no-database-list (list_db = False) and a dbfilter.",
                )
            )
            async with httpx.AsyncClient(base_url=host_url, timeout=10.0) as web:
                manager = await web.get("/web/database/manager")
            if manager.status_code == 200:
                findings.append(
                    Finding(
                        check="database_manager",
                        severity="high",
                        title="The database manager is reachable and usable from outside",
                        evidence=f"GET {host_url}/web/database/manager answered 200 while "
                        "database management is enabled",
                        fix="Block /web/database/* at the reverse proxy and disable "
                        "list_db; manage databases from the platform only.",
                    )
                )

        if await _werkzeug_debugger(host_url):
            findings.append(
                Finding(
                    check="debug_mode",
                    severity="critical",
                    title="Odoo runs in developer mode with Werkzeug's interactive debugger",
                    evidence=f"GET {host_url}{DEBUGGER_PROBE} answered the debugger's own "
                    "script: the server runs with --dev=werkzeug (or all)",
                    fix="Remove --dev (dev_mode) from the Odoo service: it wraps the server in "
                    "Werkzeug's debugger (evalex), which shows tracebacks and runs code.",
                )
            )

        for candidate in WEAK_MASTER_PASSWORDS:
            if await _master_accepts(client, candidate):
                findings.append(
                    Finding(
                        check="weak_master_password",
                        severity="critical",
                        title="The master password is a default or weak one",
                        evidence=f"the master password {_masked(candidate)} was accepted",
                        fix="Set a long random admin_passwd in the Odoo config and update the "
                        "host's master password in the platform.",
                    )
                )
                break

        if admin_login == DEFAULT_ADMIN_LOGIN:
            findings.append(
                Finding(
                    check="default_admin_login",
                    severity="medium",
                    title="The administrator uses the default login 'admin'",
                    evidence=f"the tenant's administrator login is {admin_login!r}",
                    fix="Give the administrator a personal login (their email address).",
                )
            )
        for login in dict.fromkeys((admin_login, DEFAULT_ADMIN_LOGIN)):
            weak = await _weak_password(client, db, login)
            if weak is not None:
                findings.append(
                    Finding(
                        check="weak_admin_password",
                        severity="high",
                        title="An administrator account has a well-known password",
                        evidence=f"login {login!r} accepted the password {_masked(weak)}",
                        fix="Change that account's password to a long unique one.",
                    )
                )

        uid = await client.authenticate(db, admin_login, admin_password)
        if uid is None:
            logger.info("scan of %s: the platform's admin credentials were refused", db)
        else:
            findings += await _config_findings(client, db, uid, admin_password)
    return findings


# Odoo's --dev=werkzeug wraps the server in werkzeug.debug.DebuggedApplication, which answers
# this query on any path with its own static file before Odoo sees the request. ``?debug=1``
# (the web client's developer mode) is not a finding: every Odoo lets a signed-in user turn
# it on, and it grants no rights of its own.
DEBUGGER_PROBE = "/web/login?__debugger__=yes&cmd=resource&f=debugger.js"


async def _werkzeug_debugger(host_url: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=host_url, timeout=10.0) as web:
            answer = await web.get(DEBUGGER_PROBE, follow_redirects=False)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and "javascript" in answer.headers.get("content-type", "")


async def _lists_databases(client: OdooClient) -> int | None:
    try:
        return len(await client.list_databases())
    except OdooError:
        return None  # AccessDenied: list_db is off


async def _master_accepts(client: OdooClient, candidate: str) -> bool:
    try:
        await client.call("db", "list_countries", candidate)
    except OdooError:
        return False
    return True


async def _weak_password(client: OdooClient, db: str, login: str) -> str | None:
    for candidate in WEAK_USER_PASSWORDS:
        if await client.authenticate(db, login, candidate):
            return candidate
    return None


async def _config_findings(client: OdooClient, db: str, uid: int, password: str) -> list[Finding]:
    async def param(key: str) -> Any:
        return await client.execute_kw(db, uid, password, "ir.config_parameter", "get_param", [key])

    findings = []
    scope = await param("auth_signup.invitation_scope")
    if scope == "b2c":
        findings.append(
            Finding(
                check="open_signup",
                severity="medium",
                title="Anyone can sign up to the Odoo database",
                evidence="auth_signup.invitation_scope is 'b2c' (free sign-up)",
                fix="Set customer account sign-up to 'On invitation' (b2b).",
            )
        )
    base_url = await param("web.base.url")
    if not (isinstance(base_url, str) and base_url.startswith("https://")):
        findings.append(
            Finding(
                check="base_url_not_https",
                severity="medium",
                title="web.base.url is not an https URL",
                evidence=f"web.base.url is {base_url!r}: links in mails and portals go over "
                "plain HTTP",
                fix="Serve the tenant over TLS and set web.base.url (and web.base.url.freeze) "
                "to its https URL.",
            )
        )
    return findings


def _masked(password: str) -> str:
    # The evidence names which well-known password it was, without spelling it out whole.
    return f"{password[:1]}{'*' * (len(password) - 1)} (a well-known password)"
