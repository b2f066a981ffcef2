"""Imports every domain's models so the metadata (Alembic, tests) sees all tables."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "saas_server.core.idempotency",
    "saas_server.users.models",
    "saas_server.auth.models",
    "saas_server.tenants.models",
    "saas_server.audit.models",
    "saas_server.events.models",
    "saas_server.instances.hosts.models",
    "saas_server.instances.models",
    "saas_server.backups.models",
    "saas_server.billing.provider_event_models",
    "saas_server.moves.models",
    "saas_server.webhooks.models",
    "saas_server.security.models",
    "saas_server.integrations.models",
    "saas_server.admin.models",
    "saas_server.monitoring.models",
    "saas_server.billing.models",
    "saas_server.marketing.models",
    "saas_server.portal.models",
)


def import_all_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
