"""THE table of API-key scopes: every route of the API and the scope a key needs to call it.

A scope names a resource and a verb (``tenants:read``, ``backups:write``). A key acts as its
user and never beyond: a scope only narrows what the user could do anyway, so the endpoints'
own rules (membership, tenant role, platform admin) still apply on top. Two markers are not
scopes: ``PUBLIC`` routes take no authentication (a key changes nothing there), and
``SESSION_ONLY`` routes refuse keys altogether (a key cannot mint keys, end a login session or
change the password). JWT sessions are not concerned by any of it.

A route missing from ``ROUTE_SCOPES`` refuses every key (fail closed), and
tests/auth/test_api_key_scopes.py walks the app's routes and fails on any such route: adding an
endpoint means adding its line here. Confinement to one tenant is decided here too: see
``TENANT_LESS_FOR_CONFINED_KEYS``.
"""

from __future__ import annotations

from typing import Final

from saas_server.core.openapi import API_KEY_SCHEME, BEARER_SCHEME

PUBLIC: Final = "public"
SESSION_ONLY: Final = "session-only"

# Every scope a key may be given, with what it lets a key do (shown in the docs).
SCOPES: Final[dict[str, str]] = {
    "tenants:read": "Read the tenants the user belongs to",
    "tenants:write": "Create, change and delete tenants",
    "members:read": "Read a tenant's members and invitations",
    "members:write": "Invite, change and remove a tenant's members; accept invitations",
    "instances:read": "Read Odoo instances and their transitions",
    "instances:write": "Act on Odoo instances (start, stop, restart...)",
    "backups:read": "Read backups and restores",
    "backups:write": "Create and delete backups, restore them",
    "users:read": "Read the user's own profile; the user directory (platform admins)",
    "users:write": "Change the user's profile; manage users (platform admins)",
    "audit:read": "Read the audit trail",
    "webhooks:read": "Read webhook endpoints and their deliveries",
    "webhooks:write": "Create, change, test, delete webhook endpoints; retry, replay deliveries",
    "events:read": "Follow the real-time event stream (the events webhooks would receive)",
    "security:read": "Read security scans; security metrics, threats and blocks (platform admins)",
    "analytics:read": "Read SEO audits and analytics",
    "analytics:write": "Request SEO audits",
    "social:read": "Read scheduled posts, social providers and social analytics",
    "social:write": "Schedule, reschedule and cancel posts; configure social providers",
    "ai:read": "Run offline analyses (sentiment, keywords, topics, ...) and read recommendations",
    "security:write": "Request security scans; act on threats and IP blocks (platform admins)",
    "integrations:read": "Read integration providers, inbound events and health (platform admins)",
    "integrations:write": "Manage integration providers, retry inbound events (platform admins)",
    "metrics:read": "Read a tenant's metrics and logs",
    "billing:read": "Read subscriptions, seats, invoices (and their PDFs), payment methods",
    "billing:write": "Subscribe, change and cancel; seats; payment methods; billing details",
    "portal:read": "Read a tenant's client portal: its projects, invoices, files, sync, reports",
    "portal:write": "Turn a tenant's portal on, sync it, share files, mark notifications read",
    "admin:read": "Platform administration, reading (platform admins only)",
    "admin:write": "Platform administration, acting (platform admins only)",
}

_API = "/api/v1"

# (method, path template) -> the scope a key needs, PUBLIC or SESSION_ONLY.
ROUTE_SCOPES: Final[dict[tuple[str, str], str]] = {
    # Outside the API: health, metrics, documentation.
    ("GET", "/health"): PUBLIC,
    ("GET", "/health/detailed"): "admin:read",
    ("GET", "/metrics"): "admin:read",
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/assets/{name}"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    # The web dashboard's pages (dashboard/router.py): the browser's session cookie, never a
    # key; each page calls the API with the person's own token, where the scopes apply.
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/signup"): PUBLIC,
    ("POST", "/signup"): PUBLIC,
    ("GET", "/verify-email"): PUBLIC,
    ("GET", "/forgot-password"): PUBLIC,
    ("POST", "/forgot-password"): PUBLIC,
    ("GET", "/reset-password"): PUBLIC,
    ("POST", "/reset-password"): PUBLIC,
    ("GET", "/accept-invitation"): PUBLIC,
    ("POST", "/accept-invitation"): PUBLIC,
    ("GET", "/app/profile"): PUBLIC,
    ("POST", "/app/profile"): PUBLIC,
    ("GET", "/app/api-keys"): PUBLIC,
    ("POST", "/app/api-keys"): PUBLIC,
    ("GET", "/app/tenants"): PUBLIC,
    ("GET", "/app/tenants/new"): PUBLIC,
    ("POST", "/app/tenants/new"): PUBLIC,
    ("GET", "/app/tenants/{tenant_id}"): PUBLIC,
    ("POST", "/app/tenants/{tenant_id}"): PUBLIC,
    ("GET", "/app/tenants/{tenant_id}/backups/{backup_id}/download"): PUBLIC,
    ("GET", "/app/events"): PUBLIC,
    ("GET", "/app/admin"): PUBLIC,
    ("GET", "/app/admin/hosts"): PUBLIC,
    ("POST", "/app/admin/hosts"): PUBLIC,
    ("GET", "/app/admin/tenants"): PUBLIC,
    ("POST", "/app/admin/tenants"): PUBLIC,
    ("GET", "/app/admin/audit"): PUBLIC,
    ("GET", "/static/{name}"): PUBLIC,
    ("GET", "/app/billing"): PUBLIC,
    ("POST", "/app/billing"): PUBLIC,
    ("GET", "/app/billing/invoices/{invoice_id}/pdf"): PUBLIC,
    ("GET", "/app/webhooks"): PUBLIC,
    ("POST", "/app/webhooks"): PUBLIC,
    ("GET", "/app/webhooks/{endpoint_id}"): PUBLIC,
    ("GET", "/app/admin/users"): PUBLIC,
    ("POST", "/app/admin/users"): PUBLIC,
    ("GET", "/app/admin/security"): PUBLIC,
    ("POST", "/app/admin/security"): PUBLIC,
    ("GET", "/app/admin/maintenance"): PUBLIC,
    ("POST", "/app/admin/maintenance"): PUBLIC,
    ("GET", "/app/tenants/{tenant_id}/metrics"): PUBLIC,
    ("GET", "/app/admin/plans"): PUBLIC,
    ("POST", "/app/admin/plans"): PUBLIC,
    ("GET", "/app/admin/plans/{plan_id}"): PUBLIC,
    ("POST", "/app/admin/plans/{plan_id}"): PUBLIC,
    ("POST", "/app/admin/hosts/new"): PUBLIC,
    ("GET", "/app/admin/security/threats/{threat_id}"): PUBLIC,
    ("POST", "/app/admin/audit/verify"): PUBLIC,
    ("GET", "/app/admin/integrations"): PUBLIC,
    ("GET", "/app/admin/integrations/events/{event_id}"): PUBLIC,
    ("POST", "/app/admin/integrations/events/{event_id}"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    # Authentication: a key reads and edits its user's profile, nothing about sessions.
    ("GET", f"{_API}/auth/me"): "users:read",
    ("GET", f"{_API}/auth/profile"): "users:read",
    ("PATCH", f"{_API}/auth/profile"): "users:write",
    ("POST", f"{_API}/auth/register"): PUBLIC,
    ("POST", f"{_API}/auth/verify-email"): PUBLIC,
    ("GET", f"{_API}/auth/verify-email"): PUBLIC,
    ("POST", f"{_API}/auth/resend-verification"): PUBLIC,
    ("POST", f"{_API}/auth/login"): PUBLIC,
    ("POST", f"{_API}/auth/token"): PUBLIC,
    ("POST", f"{_API}/auth/unlock"): PUBLIC,
    ("GET", f"{_API}/auth/unlock"): PUBLIC,
    ("POST", f"{_API}/auth/refresh"): PUBLIC,
    ("POST", f"{_API}/auth/password-reset/request"): PUBLIC,
    ("POST", f"{_API}/auth/password-reset/confirm"): PUBLIC,
    ("POST", f"{_API}/auth/logout"): SESSION_ONLY,
    ("POST", f"{_API}/auth/change-password"): SESSION_ONLY,
    # API keys: managed from a login session only (a key cannot mint keys).
    ("POST", f"{_API}/api-keys"): SESSION_ONLY,
    ("GET", f"{_API}/api-keys"): SESSION_ONLY,
    ("DELETE", f"{_API}/api-keys/{{key_id}}"): SESSION_ONLY,
    # The user directory.
    ("GET", f"{_API}/users"): "users:read",
    ("POST", f"{_API}/users"): "users:write",
    ("GET", f"{_API}/users/{{user_id}}"): "users:read",
    ("PATCH", f"{_API}/users/{{user_id}}"): "users:write",
    ("PUT", f"{_API}/users/{{user_id}}"): "users:write",
    ("DELETE", f"{_API}/users/{{user_id}}"): "users:write",
    ("GET", f"{_API}/users/{{user_id}}/tenants"): "users:read",
    ("GET", f"{_API}/users/{{user_id}}/owned-tenants"): "users:read",
    # Tenants.
    ("POST", f"{_API}/tenants"): "tenants:write",
    ("GET", f"{_API}/tenants"): "tenants:read",
    ("GET", f"{_API}/tenants/{{tenant_id}}"): "tenants:read",
    ("PATCH", f"{_API}/tenants/{{tenant_id}}"): "tenants:write",
    ("PUT", f"{_API}/tenants/{{tenant_id}}"): "tenants:write",
    ("DELETE", f"{_API}/tenants/{{tenant_id}}"): "tenants:write",
    ("POST", f"{_API}/tenants/{{tenant_id}}/transfer-ownership"): "tenants:write",
    # Members and invitations.
    ("GET", f"{_API}/tenants/{{tenant_id}}/users"): "members:read",
    ("POST", f"{_API}/tenants/{{tenant_id}}/users"): "members:write",
    ("GET", f"{_API}/tenants/{{tenant_id}}/users/{{user_id}}"): "members:read",
    ("PATCH", f"{_API}/tenants/{{tenant_id}}/users/{{user_id}}"): "members:write",
    ("PUT", f"{_API}/tenants/{{tenant_id}}/users/{{user_id}}"): "members:write",
    ("DELETE", f"{_API}/tenants/{{tenant_id}}/users/{{user_id}}"): "members:write",
    ("GET", f"{_API}/tenants/{{tenant_id}}/invitations"): "members:read",
    ("DELETE", f"{_API}/tenants/{{tenant_id}}/invitations/{{invitation_id}}"): "members:write",
    ("POST", f"{_API}/invitations/accept"): "members:write",
    # Instances.
    ("GET", f"{_API}/instances"): "instances:read",
    ("GET", f"{_API}/instances/{{instance_id}}"): "instances:read",
    ("GET", f"{_API}/instances/{{instance_id}}/transitions"): "instances:read",
    ("POST", f"{_API}/instances/{{instance_id}}/actions"): "instances:write",
    ("GET", f"{_API}/tenants/{{tenant_id}}/instances"): "instances:read",
    # Backups and restores.
    ("GET", f"{_API}/tenants/{{tenant_id}}/backups"): "backups:read",
    ("POST", f"{_API}/tenants/{{tenant_id}}/backups"): "backups:write",
    ("GET", f"{_API}/tenants/{{tenant_id}}/backups/{{backup_id}}"): "backups:read",
    ("DELETE", f"{_API}/tenants/{{tenant_id}}/backups/{{backup_id}}"): "backups:write",
    ("POST", f"{_API}/tenants/{{tenant_id}}/backups/{{backup_id}}/restore"): "backups:write",
    ("GET", f"{_API}/tenants/{{tenant_id}}/restores"): "backups:read",
    ("GET", f"{_API}/tenants/{{tenant_id}}/restores/{{restore_id}}"): "backups:read",
    # A signed download link carries its own authorisation.
    ("GET", f"{_API}/backups/download/{{token}}"): PUBLIC,
    # The audit trail.
    ("GET", f"{_API}/audit/logs"): "audit:read",
    ("POST", f"{_API}/audit/verify"): "audit:read",
    # Platform administration.
    ("POST", f"{_API}/admin/tenants/{{tenant_id}}/actions"): "admin:write",
    ("POST", f"{_API}/admin/odoo-hosts"): "admin:write",
    ("GET", f"{_API}/admin/odoo-hosts"): "admin:read",
    ("GET", f"{_API}/admin/odoo-hosts/{{host_id}}"): "admin:read",
    ("PATCH", f"{_API}/admin/odoo-hosts/{{host_id}}"): "admin:write",
    ("DELETE", f"{_API}/admin/odoo-hosts/{{host_id}}"): "admin:write",
    ("POST", f"{_API}/admin/odoo-hosts/{{host_id}}/actions"): "admin:write",
    ("GET", f"{_API}/admin/moves"): "admin:read",
    ("GET", f"{_API}/admin/moves/{{move_id}}"): "admin:read",
    ("POST", f"{_API}/admin/moves/{{move_id}}/actions"): "admin:write",
    # The real-time event stream.
    ("GET", f"{_API}/events/stream"): "events:read",
    # Outbound webhooks.
    ("POST", f"{_API}/webhooks/endpoints"): "webhooks:write",
    ("GET", f"{_API}/webhooks/endpoints"): "webhooks:read",
    ("GET", f"{_API}/webhooks/endpoints/{{endpoint_id}}"): "webhooks:read",
    ("PATCH", f"{_API}/webhooks/endpoints/{{endpoint_id}}"): "webhooks:write",
    ("DELETE", f"{_API}/webhooks/endpoints/{{endpoint_id}}"): "webhooks:write",
    ("GET", f"{_API}/webhooks/endpoints/{{endpoint_id}}/deliveries"): "webhooks:read",
    ("POST", f"{_API}/webhooks/endpoints/{{endpoint_id}}/rotate-secret"): "webhooks:write",
    ("POST", f"{_API}/webhooks/endpoints/{{endpoint_id}}/test"): "webhooks:write",
    ("POST", f"{_API}/webhooks/endpoints/{{endpoint_id}}/replay"): "webhooks:write",
    ("POST", f"{_API}/webhooks/deliveries/{{delivery_id}}/retry"): "webhooks:write",
    # Security.
    ("GET", f"{_API}/security/metrics"): "security:read",
    ("GET", f"{_API}/security/threats"): "security:read",
    ("GET", f"{_API}/security/threats/{{threat_id}}"): "security:read",
    ("POST", f"{_API}/security/threats/{{threat_id}}/actions"): "security:write",
    ("GET", f"{_API}/security/blocked-ips"): "security:read",
    ("POST", f"{_API}/security/blocked-ips"): "security:write",
    ("DELETE", f"{_API}/security/blocked-ips/{{blocked_id}}"): "security:write",
    ("GET", f"{_API}/security/scans"): "security:read",
    ("POST", f"{_API}/security/scans"): "security:write",
    ("GET", f"{_API}/security/scans/{{scan_id}}"): "security:read",
    # Tenant metrics and logs.
    ("GET", f"{_API}/tenants/{{tenant_id}}/metrics"): "metrics:read",
    ("GET", f"{_API}/tenants/{{tenant_id}}/logs"): "metrics:read",
    # The admin console.
    ("GET", f"{_API}/admin/stats"): "admin:read",
    ("GET", f"{_API}/admin/users"): "admin:read",
    ("GET", f"{_API}/admin/tenants"): "admin:read",
    ("GET", f"{_API}/admin/instances"): "admin:read",
    ("GET", f"{_API}/admin/metrics/platform"): "admin:read",
    ("GET", f"{_API}/admin/maintenance"): "admin:read",
    ("POST", f"{_API}/admin/maintenance"): "admin:write",
    # Marketing intelligence (issue 21).
    ("POST", f"{_API}/ai/analyze"): "ai:read",
    ("GET", f"{_API}/ai/recommendations"): "ai:read",
    ("GET", f"{_API}/analytics/seo"): "analytics:read",
    ("GET", f"{_API}/analytics/seo/audit"): "analytics:read",
    ("POST", f"{_API}/analytics/seo/audit"): "analytics:write",
    ("GET", f"{_API}/analytics/seo/audit/{{audit_id}}"): "analytics:read",
    ("GET", f"{_API}/analytics/social"): "social:read",
    ("GET", f"{_API}/social/analytics"): "social:read",
    ("GET", f"{_API}/social/providers/{{name}}"): "social:read",
    ("PUT", f"{_API}/social/providers/{{name}}"): "social:write",
    ("GET", f"{_API}/social/schedule"): "social:read",
    ("POST", f"{_API}/social/schedule"): "social:write",
    ("GET", f"{_API}/social/schedule/{{post_id}}"): "social:read",
    ("PATCH", f"{_API}/social/schedule/{{post_id}}"): "social:write",
    ("DELETE", f"{_API}/social/schedule/{{post_id}}"): "social:write",
    # Signed by the provider's own secret: no login.
    ("POST", f"{_API}/social/engagement/{{provider_id}}"): PUBLIC,
    # Integrations (inbound).
    ("GET", f"{_API}/integrations/providers"): "integrations:read",
    ("POST", f"{_API}/integrations/providers"): "integrations:write",
    ("GET", f"{_API}/integrations/providers/{{provider_id}}"): "integrations:read",
    ("PATCH", f"{_API}/integrations/providers/{{provider_id}}"): "integrations:write",
    ("DELETE", f"{_API}/integrations/providers/{{provider_id}}"): "integrations:write",
    ("GET", f"{_API}/integrations/events"): "integrations:read",
    ("GET", f"{_API}/integrations/events/{{event_id}}"): "integrations:read",
    ("POST", f"{_API}/integrations/events/{{event_id}}/retry"): "integrations:write",
    ("GET", f"{_API}/integrations/health"): "integrations:read",
    # Inbound webhooks carry their own (signed) authorisation.
    ("POST", f"{_API}/integrations/webhooks/{{provider}}"): PUBLIC,
    ("POST", f"{_API}/odoo/webhook"): PUBLIC,
    # Billing: plans (public), subscriptions and seats, invoices, payment methods.
    ("GET", f"{_API}/billing/plans"): PUBLIC,
    ("GET", f"{_API}/billing/subscriptions"): "billing:read",
    ("POST", f"{_API}/billing/subscriptions"): "billing:write",
    ("GET", f"{_API}/billing/subscriptions/{{subscription_id}}"): "billing:read",
    ("PATCH", f"{_API}/billing/subscriptions/{{subscription_id}}"): "billing:write",
    ("POST", f"{_API}/billing/subscriptions/{{subscription_id}}/cancel"): "billing:write",
    ("GET", f"{_API}/subscriptions"): "billing:read",
    ("POST", f"{_API}/subscriptions"): "billing:write",
    ("GET", f"{_API}/subscriptions/{{subscription_id}}"): "billing:read",
    ("POST", f"{_API}/subscriptions/{{subscription_id}}/preview"): "billing:read",
    ("PUT", f"{_API}/subscriptions/{{subscription_id}}"): "billing:write",
    ("PATCH", f"{_API}/subscriptions/{{subscription_id}}"): "billing:write",
    ("DELETE", f"{_API}/subscriptions/{{subscription_id}}"): "billing:write",
    ("POST", f"{_API}/subscriptions/{{subscription_id}}/cancel"): "billing:write",
    ("GET", f"{_API}/subscriptions/{{subscription_id}}/users"): "billing:read",
    ("POST", f"{_API}/subscriptions/{{subscription_id}}/users"): "billing:write",
    ("DELETE", f"{_API}/subscriptions/{{subscription_id}}/users/{{user_id}}"): "billing:write",
    ("GET", f"{_API}/tenants/{{tenant_id}}/subscriptions"): "billing:read",
    ("GET", f"{_API}/users/{{user_id}}/subscriptions"): "billing:read",
    ("GET", f"{_API}/tenants/{{tenant_id}}/billing"): "billing:read",
    ("PATCH", f"{_API}/tenants/{{tenant_id}}/billing"): "billing:write",
    ("GET", f"{_API}/billing/invoices"): "billing:read",
    ("GET", f"{_API}/billing/invoices/{{invoice_id}}"): "billing:read",
    ("GET", f"{_API}/billing/invoices/{{invoice_id}}/pdf"): "billing:read",
    ("GET", f"{_API}/billing/payment-methods"): "billing:read",
    ("POST", f"{_API}/billing/payment-methods"): "billing:write",
    ("DELETE", f"{_API}/billing/payment-methods/{{payment_method_id}}"): "billing:write",
    ("GET", f"{_API}/admin/plans"): "admin:read",
    ("POST", f"{_API}/admin/plans"): "admin:write",
    ("GET", f"{_API}/admin/plans/{{plan_id}}"): "admin:read",
    ("PUT", f"{_API}/admin/plans/{{plan_id}}"): "admin:write",
    ("PATCH", f"{_API}/admin/plans/{{plan_id}}"): "admin:write",
    ("DELETE", f"{_API}/admin/plans/{{plan_id}}"): "admin:write",
    ("GET", f"{_API}/admin/subscriptions"): "admin:read",
    ("GET", f"{_API}/admin/invoices"): "admin:read",
    ("POST", f"{_API}/admin/invoices/{{invoice_id}}/actions"): "admin:write",
    # The client portal (seed 004). Its clients use portal tokens, never keys; a member's key
    # reads it with ?tenant_id=.
    ("POST", f"{_API}/tenants/{{tenant_id}}/portal"): "portal:write",
    ("GET", f"{_API}/tenants/{{tenant_id}}/portal"): "portal:read",
    ("GET", f"{_API}/odoo/sync"): "portal:read",
    ("POST", f"{_API}/odoo/sync"): "portal:write",
    ("GET", f"{_API}/projects"): "portal:read",
    ("GET", f"{_API}/projects/{{project_id}}"): "portal:read",
    ("GET", f"{_API}/portal/invoices"): "portal:read",
    ("GET", f"{_API}/portal/invoices/{{invoice_id}}"): "portal:read",
    ("POST", f"{_API}/files/upload"): "portal:write",
    ("GET", f"{_API}/files/{{file_id}}"): "portal:read",
    ("GET", f"{_API}/files/{{file_id}}/download"): "portal:read",
    ("DELETE", f"{_API}/files/{{file_id}}"): "portal:write",
    ("GET", f"{_API}/notifications"): "portal:read",
    ("PUT", f"{_API}/notifications/{{notification_id}}/read"): "portal:write",
    ("GET", f"{_API}/settings"): "portal:read",
    ("PUT", f"{_API}/settings"): "portal:write",
    ("GET", f"{_API}/portal/dashboard"): "portal:read",
    ("GET", f"{_API}/portal/reports"): "portal:read",
    ("GET", f"{_API}/blog/posts"): PUBLIC,
    ("GET", f"{_API}/blog/posts/{{post_id}}"): PUBLIC,
    # Payment providers' webhooks carry their own (signed) authorisation.
    ("POST", f"{_API}/billing/webhooks/stripe"): PUBLIC,
}

# A key confined to one tenant reaches routes naming that tenant (``{tenant_id}``: another
# tenant's id answers 404) and, of the routes naming no tenant, only these: they show the
# user or list tenants narrowed to the key's one. Every other tenant-less route could reach
# beyond the tenant (create a tenant, list every instance): 403.
TENANT_LESS_FOR_CONFINED_KEYS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("GET", f"{_API}/auth/me"),
        ("GET", f"{_API}/auth/profile"),
        ("GET", f"{_API}/tenants"),
        ("GET", f"{_API}/instances"),
    }
)

TENANT_PARAMETER: Final = "tenant_id"

# Routes naming no tenant in their path that take one as ``?tenant_id=`` to narrow what they
# show. A confined key reaches them: with its own tenant's id, or with none (the route then
# narrows to the key's tenant itself, ``Principal.confined_tenant_id``); another tenant's id
# answers 404, as in a path (decision 0019).
TENANT_QUERY_ROUTES: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("GET", f"{_API}/events/stream"),
    }
)

# Path parameters naming a resource that belongs to one tenant, on routes naming no tenant:
# a confined key reaches the resource only when it belongs to the key's tenant (else the
# resource's own 404). Its tenant is asked of the domain that owns it (``resource_tenant``
# in auth/api_keys.py). Such routes need no line in TENANT_LESS_FOR_CONFINED_KEYS.
RESOURCE_PARAMETERS: Final[dict[str, str]] = {"instance_id": "instance"}


def security_requirements(method: str, path: str) -> list[dict[str, list[str]]] | None:
    """The OpenAPI security requirements of a route, from this table (core/openapi.py
    documents them): none for a public route, a login token for a session-only one, a login
    token or a key with the route's scope for the rest; None for a route missing here."""
    needed = ROUTE_SCOPES.get((method, path))
    if needed is None:
        return None
    if needed == PUBLIC:
        return []
    if needed == SESSION_ONLY:
        return [{BEARER_SCHEME: []}]
    return [{BEARER_SCHEME: []}, {API_KEY_SCHEME: [needed]}]
