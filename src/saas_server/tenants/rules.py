"""The tenants' rules: who manages which tenant; subdomains, Odoo settings, metadata size.

"Who manages which tenant" is answered here and only here: the tenant API's access checks,
the /users directory, the /logs reader and anything new ask :func:`manages`,
:func:`managed_tenants` or :func:`managed_tenant_ids`.
"""

from __future__ import annotations

import json
import re
import uuid
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.tenants.models import GONE_STATUSES, Membership, Tenant, TenantRole

# -- who manages which tenant ---------------------------------------------------------------

# The roles that manage a tenant: its members, settings, instance and backups.
MANAGER_ROLES = frozenset({TenantRole.OWNER.value, TenantRole.ADMIN.value})


def manages(role: str | None) -> bool:
    """Whether a member with ``role`` manages the tenant (platform admins: see callers)."""
    return role in MANAGER_ROLES


def owns(role: str | None) -> bool:
    return role == TenantRole.OWNER.value


def managed_tenants(user_id: uuid.UUID, *, include_gone: bool = False) -> Select[Any]:
    """The ids of the tenants ``user_id`` manages, as a subquery. A deleting or deleted
    tenant counts only with ``include_gone``: what it left behind (its audit trail, its
    members' accounts) stays its managers' to read."""
    stmt = select(Membership.tenant_id).where(
        Membership.user_id == user_id, Membership.role.in_(sorted(MANAGER_ROLES))
    )
    if not include_gone:
        stmt = stmt.join(Tenant, Tenant.id == Membership.tenant_id).where(
            Tenant.status.not_in(GONE_STATUSES)
        )
    return stmt


async def managed_tenant_ids(
    session: AsyncSession, user_id: uuid.UUID, *, include_gone: bool = False
) -> set[uuid.UUID]:
    """The tenants ``user_id`` manages (see :func:`managed_tenants`)."""
    return set(
        (await session.execute(managed_tenants(user_id, include_gone=include_gone))).scalars()
    )


def member_tenants(user_id: uuid.UUID) -> Select[Any]:
    """The ids of every tenant ``user_id`` is a member of, in any role and state."""
    return select(Membership.tenant_id).where(Membership.user_id == user_id)


async def owned_tenant_ids(session: AsyncSession, user_id: uuid.UUID) -> set[uuid.UUID]:
    """The tenants ``user_id`` owns, in any state."""
    owned = select(Membership.tenant_id).where(
        Membership.user_id == user_id, Membership.role == TenantRole.OWNER.value
    )
    return set((await session.execute(owned)).scalars())


# -- input ----------------------------------------------------------------------------------

SUBDOMAIN_MIN = 3
SUBDOMAIN_MAX = 63
_SUBDOMAIN_CHARS = re.compile(r"^[a-z0-9-]+$")

# Names that would collide with the platform's own hosts or mislead users.
RESERVED_SUBDOMAINS = frozenset(
    {
        "www", "api", "admin", "app", "apps", "mail", "smtp", "imap", "pop", "pop3", "mx",
        "static", "assets", "cdn", "media", "docs", "doc", "status", "help", "support",
        "blog", "dashboard", "console", "portal", "auth", "login", "logout", "signup",
        "register", "account", "accounts", "billing", "pay", "payment", "payments",
        "webhook", "webhooks", "dev", "test", "staging", "stage", "prod", "production",
        "demo", "sandbox", "internal", "root", "system", "odoo", "saas", "platform",
        "ns", "ns1", "ns2", "dns", "ftp", "sftp", "ssh", "vpn", "git", "metrics",
        "monitoring", "grafana", "prometheus", "health", "backup", "backups", "db",
        "database", "postgres", "redis", "localhost", "autoconfig", "autodiscover",
        "security", "abuse", "postmaster", "hostmaster", "webmaster", "info", "news",
    }
)  # fmt: skip

# Odoo language codes: ll, ll_CC, ll_NNN (es_419) and an optional @script (sr@latin).
_ODOO_LANGUAGE = re.compile(r"^[a-z]{2,3}(_([A-Z]{2}|\d{3}))?(@[a-z]+)?$")
METADATA_MAX_BYTES = 16 * 1024


def subdomain_of(value: str, base_domain: str | None) -> str:
    """The subdomain a seed-style ``domain`` names: ``acme.<base domain>`` is ``acme``."""
    if base_domain:
        suffix = "." + base_domain.strip(".").lower()
        if value.lower().endswith(suffix) and len(value) > len(suffix):
            return value[: -len(suffix)]
    return value


def subdomain_problems(subdomain: str) -> list[str]:
    """Every way ``subdomain`` breaks the DNS-label rules (uniqueness is checked elsewhere)."""
    problems: list[str] = []
    if not SUBDOMAIN_MIN <= len(subdomain) <= SUBDOMAIN_MAX:
        problems.append(f"Must be between {SUBDOMAIN_MIN} and {SUBDOMAIN_MAX} characters long.")
    if not _SUBDOMAIN_CHARS.match(subdomain):
        problems.append("Only lowercase letters, digits and hyphens are allowed.")
    if "." in subdomain:
        problems.append("Give the subdomain alone (acme), not a domain outside the platform's.")
    if subdomain.startswith("-") or subdomain.endswith("-"):
        problems.append("Must not start or end with a hyphen.")
    if "--" in subdomain[2:4] and subdomain[:2] == "xn":
        problems.append("Punycode labels (xn--) are not allowed.")
    if subdomain in RESERVED_SUBDOMAINS:
        problems.append("This name is reserved.")
    return problems


@lru_cache(maxsize=1)
def timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def settings_problems(settings: dict[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    timezone = settings.get("timezone")
    if timezone is not None and (not isinstance(timezone, str) or timezone not in timezones()):
        problems["settings.timezone"] = ["Must be an IANA time zone such as Europe/Brussels."]
    language = settings.get("language")
    if language is not None and (
        not isinstance(language, str) or not _ODOO_LANGUAGE.match(language)
    ):
        problems["settings.language"] = ["Must be an Odoo language code such as en_US."]
    return problems


def metadata_problems(metadata: dict[str, Any]) -> list[str]:
    size = len(json.dumps(metadata, separators=(",", ":")).encode())
    if size > METADATA_MAX_BYTES:
        return [f"Must be at most {METADATA_MAX_BYTES} bytes of JSON (got {size})."]
    return []
