"""The composition root: what each package provides to those below it, connected once.

Lower packages declare hooks (``core/hooks.py``); the packages above them connect handlers
here. Every entry point (the API's ``create_app``, the CLI, workers, tests) calls
:func:`wire` before it does anything else; calling it again changes nothing.
"""

from __future__ import annotations

from saas_platform.backups import service as backups_service
from saas_platform.instances import tenant_reactions
from saas_platform.tenants import hooks as tenant_hooks

_wired = False


def _wire_tenants() -> None:
    """Tenants' hooks: a tenant's database follows the tenant (instances), and a tenant's
    answer shows its production instance (instances) and its backups (backups)."""
    tenant_hooks.tenant_created.connect(tenant_reactions.create_production_instance)
    tenant_hooks.tenant_tier_changed.connect(tenant_reactions.apply_tenant_tier)
    tenant_hooks.tenant_deletion_requested.connect(tenant_reactions.delete_production_instance)
    tenant_hooks.tenant_instances.provide(tenant_reactions.tenants_instances)
    tenant_hooks.tenant_backups.provide(backups_service.backup_summary)


def wire() -> None:
    global _wired
    if _wired:
        return
    _wired = True
    _wire_tenants()
