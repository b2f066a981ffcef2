"""The composition root: what each package provides to those below it, connected once.

Lower packages declare hooks (``core/hooks.py``); the packages above them connect handlers
here. Core's runtime gets from here what the domains put into it (:data:`RUNTIME_PARTS`:
the principal cache, the backup storage, the schedule, the rate-limit plan lookup), and
importing this module imports every domain's ``tasks`` module, so every task is registered
on ``core.jobs.jobs_app`` before a worker starts or a job is deferred.

Every entry point (the API's ``create_app``, the CLI, workers, tests) calls :func:`wire`
before it does anything else, or opens its runtime with :func:`open_runtime`, which wires;
calling it again changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

# The task modules: imported for the tasks they register on core's job app.
import saas_server.audit.tasks
import saas_server.backups.tasks
import saas_server.billing.tasks
import saas_server.instances.hosts.tasks
import saas_server.instances.tasks
import saas_server.integrations.tasks
import saas_server.mail.tasks
import saas_server.marketing.tasks
import saas_server.monitoring.tasks
import saas_server.moves.tasks
import saas_server.portal.tasks
import saas_server.security.tasks
import saas_server.tenants.tasks
import saas_server.webhooks.tasks  # noqa: F401
from saas_server.audit.tasks import CHECKPOINT_AUDIT_TASK
from saas_server.auth import api_keys, tenant_login
from saas_server.auth.principal_cache import build_principal_cache
from saas_server.backups import service as backups_service
from saas_server.backups.lifecycle import BACKUP, RESTORE
from saas_server.backups.pre_delete import back_up_before_deletion
from saas_server.backups.service import EXPIRE_TASK, SCHEDULE_TASK
from saas_server.backups.storage import build_storage
from saas_server.billing import service as billing_service
from saas_server.billing.lifecycle import INVOICE, SUBSCRIPTION
from saas_server.billing.provider_events import provider_event_received
from saas_server.billing.renewals import (
    RUN_RENEWALS_TASK,
    refuse_while_suspended,
    stop_if_suspended,
)
from saas_server.billing.settlement import on_provider_event
from saas_server.core import runtime as core_runtime
from saas_server.core.lifecycle import Lifecycle
from saas_server.core.runtime import Runtime, RuntimeParts
from saas_server.core.settings import Settings
from saas_server.events import service as events_service
from saas_server.instances import deletion as instance_deletion
from saas_server.instances import flows as instance_flows
from saas_server.instances import service as instances_service
from saas_server.instances import tenant_reactions
from saas_server.instances.hosts.jobs import CHECK_HOSTS_TASK, TEND_STANDBY_POOLS_TASK
from saas_server.instances.hosts.lifecycle import HOST, STANDBY
from saas_server.instances.lifecycle import INSTANCE
from saas_server.integrations import odoo as integrations_odoo
from saas_server.integrations.lifecycle import INBOUND_EVENT
from saas_server.integrations.service import (
    CHECK_HEALTH_TASK,
    RETRY_DUE_TASK,
    TEND_ODOO_SECRETS_TASK,
)
from saas_server.marketing import portal_figures as marketing_portal
from saas_server.marketing.lifecycle import SEO_AUDIT
from saas_server.marketing.social import PUBLISH_DUE_TASK
from saas_server.monitoring import service as monitoring_service
from saas_server.monitoring.tasks import SAMPLE_TASK
from saas_server.moves import service as moves_service
from saas_server.moves.lifecycle import MOVE
from saas_server.portal import access as portal_access
from saas_server.portal import hooks as portal_hooks
from saas_server.portal import identity as portal_identity
from saas_server.portal import reports as portal_reports
from saas_server.portal.lifecycle import PORTAL
from saas_server.portal.sync import SYNC_DUE_TASK as PORTAL_SYNC_DUE_TASK
from saas_server.realtime import hub as realtime_hub
from saas_server.security.lifecycle import SCAN, THREAT
from saas_server.security.tasks import DETECT_THREATS_TASK, SCHEDULE_SCANS_TASK
from saas_server.tenants import hooks as tenant_hooks
from saas_server.tenants import registration as tenant_registration
from saas_server.tenants.lifecycle import TENANT_LIFECYCLE
from saas_server.tenants.plans import rate_limit_plan
from saas_server.tenants.service import tenant_visible_to
from saas_server.tenants.tasks import FORGET_IDEMPOTENCY_KEYS_TASK, PURGE_TENANTS_TASK
from saas_server.tenants.tiers import tier_grant
from saas_server.webhooks import delivery as webhooks_delivery

_wired = False


def schedule(settings: Settings) -> Mapping[str, float]:
    """The domains' recurring jobs: task name -> interval in seconds."""
    return {
        CHECK_HOSTS_TASK: settings.host_check_interval_seconds,
        PURGE_TENANTS_TASK: 3600.0,
        FORGET_IDEMPOTENCY_KEYS_TASK: 3600.0,
        SCHEDULE_TASK: settings.backup_schedule_interval_seconds,
        EXPIRE_TASK: 3600.0,
        TEND_STANDBY_POOLS_TASK: settings.standby_check_interval_seconds,
        CHECKPOINT_AUDIT_TASK: settings.audit_checkpoint_interval_seconds,
        webhooks_delivery.SWEEP_TASK: settings.webhooks_retry_sweep_seconds,
        DETECT_THREATS_TASK: settings.security_detect_interval_seconds,
        SCHEDULE_SCANS_TASK: 3600.0,
        RETRY_DUE_TASK: settings.integrations_retry_sweep_seconds,
        CHECK_HEALTH_TASK: settings.integrations_health_interval_seconds,
        TEND_ODOO_SECRETS_TASK: settings.integrations_odoo_secret_sweep_seconds,
        SAMPLE_TASK: settings.metrics_sample_interval_seconds,
        RUN_RENEWALS_TASK: settings.billing_renewal_interval_seconds,
        PUBLISH_DUE_TASK: settings.social_publish_sweep_seconds,
        PORTAL_SYNC_DUE_TASK: settings.portal_sync_interval_seconds,
    }


RUNTIME_PARTS = RuntimeParts(
    principal_cache=build_principal_cache,
    backup_storage=build_storage,
    schedule=schedule,
    plan_of=rate_limit_plan,
    api_key_user=api_keys.api_key_user,
    bearer_budget=portal_identity.rate_budget,
    route_budget=portal_access.route_budget,
)


def _wire_tenants() -> None:
    """Tenants' hooks: a tenant's database follows the tenant (instances), and a tenant's
    answer shows its production instance (instances) and its backups (backups)."""
    tenant_hooks.tenant_created.connect(tenant_reactions.create_production_instance)
    tenant_hooks.tenant_tier_changed.connect(tenant_reactions.apply_tenant_tier)
    tenant_hooks.tenant_tiers_changed.connect(tenant_reactions.apply_tenants_tiers)
    tenant_hooks.tenant_deletion_requested.connect(tenant_reactions.delete_production_instance)
    tenant_hooks.tenant_instances.provide(tenant_reactions.tenants_instances)
    tenant_hooks.tenant_backups.provide(backups_service.backup_summary)
    # An API key confined to a tenant: only one its creator can see (auth asks tenants).
    api_keys.tenant_visible_to.provide(tenant_visible_to)
    api_keys.resource_tenant.provide(instances_service.resource_tenant)
    tenant_hooks.tenant_metrics.provide(monitoring_service.latest_for_tenant)


def _wire_webhooks() -> None:
    """Every event recorded (events) is relayed to webhook endpoints (webhooks): the
    fan-out job is deferred in the event's own transaction."""
    events_service.events_recorded.connect(webhooks_delivery.on_events_recorded)
    # ... and NOTIFYs the event streams of every API process, at commit (realtime).
    events_service.events_recorded.connect(realtime_hub.notify_all_recorded)


def _wire_billing() -> None:
    """Billing answers what a tier grants (its plan's limits, backup policy and expiry) and
    how many subscriptions a tenant has, for the packages below it (decision 0008)."""
    tier_grant.provide(billing_service.tier_grant)
    tenant_hooks.tenant_subscription_counts.provide(billing_service.subscription_counts)
    # A payment provider's event (Stripe's webhook) settles the invoice it names.
    provider_event_received.connect(on_provider_event)
    # A tenant suspended for an unpaid invoice keeps its instance stopped until it is paid.
    instances_service.instance_changing.connect(refuse_while_suspended)
    # ... also when a provisioning or restore running at the suspension ends afterwards.
    instances_service.instance_settled.connect(stop_if_suspended)


def wire() -> None:
    global _wired
    if _wired:
        return
    core_runtime.provide_parts(RUNTIME_PARTS)
    tenant_registration.connect()  # a registration asking for a tenant creates it
    _wire_tenants()
    _wire_billing()
    _wire_flows()
    _wire_webhooks()
    _wire_portal()
    _wired = True


def build_runtime(settings: Settings, **kwargs: Any) -> Runtime:
    """A wired runtime on a database already resolved (``Runtime(...)``'s arguments)."""
    wire()
    return Runtime(settings, **kwargs)


async def start_runtime(settings: Settings, **kwargs: Any) -> Runtime:
    """A wired runtime, opened (``Runtime.open``'s arguments); the caller closes it."""
    wire()
    return await Runtime.open(settings, **kwargs)


@asynccontextmanager
async def open_runtime(settings: Settings, **kwargs: Any) -> AsyncIterator[Runtime]:
    """A wired runtime for the length of the block (``Runtime.open``'s arguments)."""
    runtime = await start_runtime(settings, **kwargs)
    try:
        yield runtime
    finally:
        await runtime.close()


def _wire_portal() -> None:
    """The client portal (seed 004): auth's login with ``tenant`` is checked by the tenant's
    Odoo (portal), the tenant's Odoo webhook queues the portal's sync, and marketing's events
    (a post published, an audit completed) notify the client."""
    tenant_login.tenant_login.provide(portal_identity.login)
    tenant_login.tenant_refresh.provide(portal_identity.refresh)
    tenant_login.tenant_logout.provide(portal_identity.logout)
    events_service.events_recorded.connect(portal_hooks.on_events_recorded)
    # The dashboard's SEO and social figures and those reports are marketing's (above).
    portal_reports.marketing_dashboard.provide(marketing_portal.dashboard)
    portal_reports.marketing_report.provide(marketing_portal.report)


# -- flows: instances' long operations, answered by backups -------------------------------------


def _wire_flows() -> None:
    # A deletion archives the database before it drops it.
    instance_deletion.PRE_DELETE_BACKUP.connect(back_up_before_deletion)
    # No instance action or deletion while the instance moves to another host.
    instances_service.instance_changing.connect(moves_service.refuse_while_moving)
    # A new instance gets its Odoo webhook secret (integrations).
    instance_flows.INSTANCE_READY.connect(integrations_odoo.on_instance_ready)


def lifecycles() -> list[Lifecycle[Any, Any]]:
    """Every transition table, each with its generated page in docs/ (``saas docs
    lifecycles``; a test fails when one is stale). A new table joins with one line here."""
    return [
        TENANT_LIFECYCLE,
        INSTANCE,
        HOST,
        STANDBY,
        BACKUP,
        RESTORE,
        MOVE,
        THREAT,
        SCAN,
        INBOUND_EVENT,
        INVOICE,
        SUBSCRIPTION,
        SEO_AUDIT,
        PORTAL,
    ]
