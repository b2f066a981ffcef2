"""THE table of OpenAPI ``operationId``s: the names the SDKs give the API's operations.

They become method names in generated clients (``tenants_create`` -> ``client.tenants.create``),
so they are chosen, readable and stable: ``<resource>_<verb>`` in snake_case, never FastAPI's
default (``create_tenant_api_v1_tenants_post``), which changes whenever a function or path is
renamed. Decision 0019 says how they are named:

- the resource is the path's collection (``tenants``, ``backups``, ``webhook_endpoints``);
  resources of their own that live under a tenant keep their own name (``backups_create`` for
  ``POST /tenants/{tenant_id}/backups``); views of a tenant that are not resources of their own
  carry the tenant's (``tenants_instances_list``, ``tenants_billing_get``);
- the verb is ``list``/``create`` on a collection, ``get``/``update`` (PATCH)/``replace``
  (PUT)/``delete`` on one item, and the action's own name for the rest (``backups_restore``,
  ``tenants_transfer_ownership``, ``instances_perform_action``, ``auth_login``).

``operation_id`` is the app's ``generate_unique_id_function``: a route listed here gets its
name, any other one a name made by the same rule from its path (so a new route is never
given FastAPI's default); tests/core/test_operation_ids.py asserts the form and uniqueness.
"""

from __future__ import annotations

import re
from typing import Final

from fastapi.routing import APIRoute

_API = "/api/v1"

OPERATION_IDS: Final[dict[tuple[str, str], str]] = {
    ("GET", "/health"): "health_get",
    ("GET", "/health/detailed"): "health_detailed_get",
    # Authentication and the caller's own profile.
    ("POST", f"{_API}/auth/register"): "auth_register",
    ("POST", f"{_API}/auth/verify-email"): "auth_verify_email",
    ("POST", f"{_API}/auth/resend-verification"): "auth_resend_verification",
    ("POST", f"{_API}/auth/login"): "auth_login",
    ("POST", f"{_API}/auth/token"): "auth_token",
    ("POST", f"{_API}/auth/unlock"): "auth_unlock",
    ("POST", f"{_API}/auth/refresh"): "auth_refresh",
    ("POST", f"{_API}/auth/logout"): "auth_logout",
    ("POST", f"{_API}/auth/change-password"): "auth_change_password",
    ("POST", f"{_API}/auth/password-reset/request"): "auth_password_reset_request",
    ("POST", f"{_API}/auth/password-reset/confirm"): "auth_password_reset_confirm",
    ("GET", f"{_API}/auth/me"): "auth_me",
    ("GET", f"{_API}/auth/profile"): "auth_profile_get",
    ("PATCH", f"{_API}/auth/profile"): "auth_profile_update",
    # API keys.
    ("POST", f"{_API}/api-keys"): "api_keys_create",
    ("GET", f"{_API}/api-keys"): "api_keys_list",
    ("DELETE", f"{_API}/api-keys/{{key_id}}"): "api_keys_revoke",
    # The user directory.
    ("GET", f"{_API}/users"): "users_list",
    ("POST", f"{_API}/users"): "users_create",
    ("GET", f"{_API}/users/{{user_id}}"): "users_get",
    ("PATCH", f"{_API}/users/{{user_id}}"): "users_update",
    ("PUT", f"{_API}/users/{{user_id}}"): "users_replace",
    ("DELETE", f"{_API}/users/{{user_id}}"): "users_delete",
    ("GET", f"{_API}/users/{{user_id}}/tenants"): "users_tenants_list",
    ("GET", f"{_API}/users/{{user_id}}/owned-tenants"): "users_owned_tenants_list",
    ("GET", f"{_API}/users/{{user_id}}/subscriptions"): "users_subscriptions_list",
    # Tenants.
    ("POST", f"{_API}/tenants"): "tenants_create",
    ("GET", f"{_API}/tenants"): "tenants_list",
    ("GET", f"{_API}/tenants/{{tenant_id}}"): "tenants_get",
    ("PATCH", f"{_API}/tenants/{{tenant_id}}"): "tenants_update",
    ("PUT", f"{_API}/tenants/{{tenant_id}}"): "tenants_replace",
    ("DELETE", f"{_API}/tenants/{{tenant_id}}"): "tenants_delete",
    ("POST", f"{_API}/tenants/{{tenant_id}}/transfer-ownership"): "tenants_transfer_ownership",
    ("GET", f"{_API}/tenants/{{tenant_id}}/instances"): "tenants_instances_list",
    ("GET", f"{_API}/tenants/{{tenant_id}}/subscriptions"): "tenants_subscriptions_list",
    ("GET", f"{_API}/tenants/{{tenant_id}}/billing"): "tenants_billing_get",
    ("PATCH", f"{_API}/tenants/{{tenant_id}}/billing"): "tenants_billing_update",
    ("GET", f"{_API}/tenants/{{tenant_id}}/metrics"): "tenants_metrics_get",
    ("GET", f"{_API}/tenants/{{tenant_id}}/logs"): "tenants_logs_list",
    # A tenant's members and invitations.
    ("GET", f"{_API}/tenants/{{tenant_id}}/users"): "members_list",
    ("POST", f"{_API}/tenants/{{tenant_id}}/users"): "members_add",
    ("GET", f"{_API}/tenants/{{tenant_id}}/users/{{user_id}}"): "members_get",
    ("PATCH", f"{_API}/tenants/{{tenant_id}}/users/{{user_id}}"): "members_update",
    ("PUT", f"{_API}/tenants/{{tenant_id}}/users/{{user_id}}"): "members_replace",
    ("DELETE", f"{_API}/tenants/{{tenant_id}}/users/{{user_id}}"): "members_remove",
    ("GET", f"{_API}/tenants/{{tenant_id}}/invitations"): "invitations_list",
    ("DELETE", f"{_API}/tenants/{{tenant_id}}/invitations/{{invitation_id}}"): (
        "invitations_revoke"
    ),
    ("POST", f"{_API}/invitations/accept"): "invitations_accept",
    # Odoo instances.
    ("GET", f"{_API}/instances"): "instances_list",
    ("GET", f"{_API}/instances/{{instance_id}}"): "instances_get",
    ("GET", f"{_API}/instances/{{instance_id}}/transitions"): "instances_transitions_list",
    ("POST", f"{_API}/instances/{{instance_id}}/actions"): "instances_perform_action",
    # Backups and restores.
    ("GET", f"{_API}/tenants/{{tenant_id}}/backups"): "backups_list",
    ("POST", f"{_API}/tenants/{{tenant_id}}/backups"): "backups_create",
    ("GET", f"{_API}/tenants/{{tenant_id}}/backups/{{backup_id}}"): "backups_get",
    ("DELETE", f"{_API}/tenants/{{tenant_id}}/backups/{{backup_id}}"): "backups_delete",
    ("POST", f"{_API}/tenants/{{tenant_id}}/backups/{{backup_id}}/restore"): "backups_restore",
    ("GET", f"{_API}/tenants/{{tenant_id}}/restores"): "restores_list",
    ("GET", f"{_API}/tenants/{{tenant_id}}/restores/{{restore_id}}"): "restores_get",
    ("GET", f"{_API}/backups/download/{{token}}"): "backups_download",
    # The audit trail.
    ("GET", f"{_API}/audit/logs"): "audit_logs_list",
    # The real-time event stream.
    ("GET", f"{_API}/events/stream"): "events_stream",
    # Outbound webhooks.
    ("POST", f"{_API}/webhooks/endpoints"): "webhook_endpoints_create",
    ("GET", f"{_API}/webhooks/endpoints"): "webhook_endpoints_list",
    ("GET", f"{_API}/webhooks/endpoints/{{endpoint_id}}"): "webhook_endpoints_get",
    ("PATCH", f"{_API}/webhooks/endpoints/{{endpoint_id}}"): "webhook_endpoints_update",
    ("DELETE", f"{_API}/webhooks/endpoints/{{endpoint_id}}"): "webhook_endpoints_delete",
    ("POST", f"{_API}/webhooks/endpoints/{{endpoint_id}}/rotate-secret"): (
        "webhook_endpoints_rotate_secret"
    ),
    ("POST", f"{_API}/webhooks/endpoints/{{endpoint_id}}/test"): "webhook_endpoints_test",
    ("POST", f"{_API}/webhooks/endpoints/{{endpoint_id}}/replay"): "webhook_endpoints_replay",
    ("GET", f"{_API}/webhooks/endpoints/{{endpoint_id}}/deliveries"): "webhook_deliveries_list",
    ("POST", f"{_API}/webhooks/deliveries/{{delivery_id}}/retry"): "webhook_deliveries_retry",
    # Security.
    ("GET", f"{_API}/security/metrics"): "security_metrics_get",
    ("GET", f"{_API}/security/threats"): "security_threats_list",
    ("GET", f"{_API}/security/threats/{{threat_id}}"): "security_threats_get",
    ("POST", f"{_API}/security/threats/{{threat_id}}/actions"): ("security_threats_perform_action"),
    ("GET", f"{_API}/security/blocked-ips"): "security_blocked_ips_list",
    ("POST", f"{_API}/security/blocked-ips"): "security_blocked_ips_create",
    ("DELETE", f"{_API}/security/blocked-ips/{{blocked_id}}"): "security_blocked_ips_delete",
    ("GET", f"{_API}/security/scans"): "security_scans_list",
    ("POST", f"{_API}/security/scans"): "security_scans_create",
    ("GET", f"{_API}/security/scans/{{scan_id}}"): "security_scans_get",
    # Integrations (inbound).
    ("GET", f"{_API}/integrations/providers"): "integrations_providers_list",
    ("POST", f"{_API}/integrations/providers"): "integrations_providers_create",
    ("GET", f"{_API}/integrations/providers/{{provider_id}}"): "integrations_providers_get",
    ("PATCH", f"{_API}/integrations/providers/{{provider_id}}"): "integrations_providers_update",
    ("DELETE", f"{_API}/integrations/providers/{{provider_id}}"): ("integrations_providers_delete"),
    ("GET", f"{_API}/integrations/events"): "integrations_events_list",
    ("GET", f"{_API}/integrations/events/{{event_id}}"): "integrations_events_get",
    ("POST", f"{_API}/integrations/events/{{event_id}}/retry"): "integrations_events_retry",
    ("GET", f"{_API}/integrations/health"): "integrations_health_get",
    ("POST", f"{_API}/integrations/webhooks/{{provider}}"): "integrations_webhooks_receive",
    ("POST", f"{_API}/odoo/webhook"): "odoo_webhook_receive",
    # Billing.
    ("GET", f"{_API}/billing/plans"): "billing_plans_list",
    ("GET", f"{_API}/billing/subscriptions"): "billing_subscriptions_list",
    ("POST", f"{_API}/billing/subscriptions"): "billing_subscriptions_create",
    ("GET", f"{_API}/billing/subscriptions/{{subscription_id}}"): "billing_subscriptions_get",
    ("PATCH", f"{_API}/billing/subscriptions/{{subscription_id}}"): (
        "billing_subscriptions_update"
    ),
    ("POST", f"{_API}/billing/subscriptions/{{subscription_id}}/cancel"): (
        "billing_subscriptions_cancel"
    ),
    ("GET", f"{_API}/subscriptions"): "subscriptions_list",
    ("POST", f"{_API}/subscriptions"): "subscriptions_create",
    ("GET", f"{_API}/subscriptions/{{subscription_id}}"): "subscriptions_get",
    ("PUT", f"{_API}/subscriptions/{{subscription_id}}"): "subscriptions_replace",
    ("PATCH", f"{_API}/subscriptions/{{subscription_id}}"): "subscriptions_update",
    ("DELETE", f"{_API}/subscriptions/{{subscription_id}}"): "subscriptions_delete",
    ("POST", f"{_API}/subscriptions/{{subscription_id}}/cancel"): "subscriptions_cancel",
    ("GET", f"{_API}/subscriptions/{{subscription_id}}/users"): "subscriptions_users_list",
    ("POST", f"{_API}/subscriptions/{{subscription_id}}/users"): "subscriptions_users_add",
    ("DELETE", f"{_API}/subscriptions/{{subscription_id}}/users/{{user_id}}"): (
        "subscriptions_users_remove"
    ),
    ("GET", f"{_API}/billing/invoices"): "billing_invoices_list",
    ("GET", f"{_API}/billing/invoices/{{invoice_id}}"): "billing_invoices_get",
    ("GET", f"{_API}/billing/invoices/{{invoice_id}}/pdf"): "billing_invoices_pdf",
    ("GET", f"{_API}/billing/payment-methods"): "billing_payment_methods_list",
    ("POST", f"{_API}/billing/payment-methods"): "billing_payment_methods_create",
    ("DELETE", f"{_API}/billing/payment-methods/{{payment_method_id}}"): (
        "billing_payment_methods_delete"
    ),
    ("POST", f"{_API}/billing/webhooks/stripe"): "billing_stripe_webhook_receive",
    # Platform administration.
    ("GET", f"{_API}/admin/stats"): "admin_stats_get",
    ("GET", f"{_API}/admin/users"): "admin_users_list",
    ("GET", f"{_API}/admin/tenants"): "admin_tenants_list",
    ("POST", f"{_API}/admin/tenants/{{tenant_id}}/actions"): "admin_tenants_perform_action",
    ("GET", f"{_API}/admin/instances"): "admin_instances_list",
    ("GET", f"{_API}/admin/metrics/platform"): "admin_platform_metrics_get",
    ("GET", f"{_API}/admin/maintenance"): "admin_maintenance_get",
    ("POST", f"{_API}/admin/maintenance"): "admin_maintenance_set",
    ("POST", f"{_API}/admin/odoo-hosts"): "admin_odoo_hosts_create",
    ("GET", f"{_API}/admin/odoo-hosts"): "admin_odoo_hosts_list",
    ("GET", f"{_API}/admin/odoo-hosts/{{host_id}}"): "admin_odoo_hosts_get",
    ("PATCH", f"{_API}/admin/odoo-hosts/{{host_id}}"): "admin_odoo_hosts_update",
    ("DELETE", f"{_API}/admin/odoo-hosts/{{host_id}}"): "admin_odoo_hosts_delete",
    ("POST", f"{_API}/admin/odoo-hosts/{{host_id}}/actions"): "admin_odoo_hosts_perform_action",
    ("GET", f"{_API}/admin/moves"): "admin_moves_list",
    ("GET", f"{_API}/admin/moves/{{move_id}}"): "admin_moves_get",
    ("POST", f"{_API}/admin/moves/{{move_id}}/actions"): "admin_moves_perform_action",
    ("GET", f"{_API}/admin/plans"): "admin_plans_list",
    ("POST", f"{_API}/admin/plans"): "admin_plans_create",
    ("GET", f"{_API}/admin/plans/{{plan_id}}"): "admin_plans_get",
    ("PUT", f"{_API}/admin/plans/{{plan_id}}"): "admin_plans_replace",
    ("PATCH", f"{_API}/admin/plans/{{plan_id}}"): "admin_plans_update",
    ("DELETE", f"{_API}/admin/plans/{{plan_id}}"): "admin_plans_delete",
    ("GET", f"{_API}/admin/subscriptions"): "admin_subscriptions_list",
    ("GET", f"{_API}/admin/invoices"): "admin_invoices_list",
    ("POST", f"{_API}/admin/invoices/{{invoice_id}}/actions"): "admin_invoices_perform_action",
}

# The form every operationId has (tests assert it): lower-case words joined by underscores.
OPERATION_ID_FORM: Final = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")

_ITEM_VERBS: Final = {"GET": "get", "PATCH": "update", "PUT": "replace", "DELETE": "delete"}
_COLLECTION_VERBS: Final = {"GET": "list", "POST": "create", "PUT": "replace", "PATCH": "update"}


def derived_operation_id(method: str, path: str) -> str:
    """The name the rule gives a route missing from OPERATION_IDS: its literal path words,
    then ``list``/``create`` on a collection, ``get``/``update``/``replace``/``delete`` on an
    item, and for a POST on an item, ``perform_action`` (``POST /things/{id}/actions``) or the
    action word itself (``POST /things/{id}/archive`` -> ``things_archive``)."""
    segments = [s for s in path.removeprefix(_API).split("/") if s]
    words = [re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_") for s in segments if s[0] != "{"]
    words = [w for w in words if w] or ["root"]
    method = method.upper()
    on_item = bool(segments) and segments[-1].startswith("{")
    if on_item:
        verb = _ITEM_VERBS.get(method, "perform")
    elif method == "POST" and len(segments) >= 2 and segments[-2].startswith("{"):
        # An action on an item: its own name is the verb.
        verb = words.pop()
        verb = "perform_action" if verb == "actions" else verb
    else:
        verb = _COLLECTION_VERBS.get(method, method.lower())
    return "_".join([*words, verb])


def operation_id_for(method: str, path: str) -> str:
    return OPERATION_IDS.get((method.upper(), path)) or derived_operation_id(method, path)


def operation_id(route: APIRoute) -> str:
    """The app's ``generate_unique_id_function`` (also names request-body schemas)."""
    method = sorted(route.methods)[0] if route.methods else "GET"
    return operation_id_for(method, route.path_format)
