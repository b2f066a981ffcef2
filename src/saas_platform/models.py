"""Imports every domain's models so the metadata (Alembic, tests) sees all tables."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "saas_platform.users.models",
    "saas_platform.auth.models",
    "saas_platform.tenants.models",
    "saas_platform.audit.models",
    "saas_platform.events.models",
    "saas_platform.instances.hosts.models",
    "saas_platform.instances.models",
    "saas_platform.backups.models",
    "saas_platform.billing.provider_event_models",
    "saas_platform.moves.models",
    "saas_platform.webhooks.models",
    "saas_platform.security.models",
    "saas_platform.integrations.models",
    "saas_platform.admin.models",
    "saas_platform.monitoring.models",
    "saas_platform.billing.models",
)


def import_all_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
