"""Secrets never reach the audit log, whatever their depth or spelling."""

from __future__ import annotations

import json

from saas_server.audit import service as audit
from saas_server.core.runtime import Runtime
from tests.audit.support import entries

SECRET = "s3cr3t-value-that-must-not-leak"


def test_secret_keys_are_redacted_at_any_depth() -> None:
    scrubbed = audit.scrub(
        {
            "email": "a@example.com",
            "password": SECRET,
            "Password_Hash": SECRET,
            "settings": {"smtp": {"SMTP-Password": SECRET, "port": 25}},
            "hosts": [{"name": "h1", "master_password": SECRET}],
            "tokens": [SECRET],
            "refresh_token": SECRET,
            "access_token": SECRET,
            "api_key": SECRET,
            "client_secret": SECRET,
            "webhook": {"secret": SECRET, "url": "https://example.com/hook"},
            "cleared_password": None,
        }
    )
    assert SECRET not in json.dumps(scrubbed)
    assert scrubbed["email"] == "a@example.com"
    assert scrubbed["password"] == audit.REDACTED
    assert scrubbed["settings"]["smtp"] == {"SMTP-Password": audit.REDACTED, "port": 25}
    assert scrubbed["hosts"] == [{"name": "h1", "master_password": audit.REDACTED}]
    assert scrubbed["webhook"]["url"] == "https://example.com/hook"
    # An absent secret stays absent rather than pretending one was set.
    assert scrubbed["cleared_password"] is None


def test_passwords_inside_urls_are_redacted() -> None:
    scrubbed = audit.scrub({"postgres_url": f"postgresql://odoo:{SECRET}@db:5432/odoo"})
    assert scrubbed == {"postgres_url": f"postgresql://odoo:{audit.REDACTED}@db:5432/odoo"}


async def test_recorded_entries_hold_no_secret(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        await audit.record(
            session,
            action="host.updated",
            resource_type="odoo_host",
            old_values={"master_password": SECRET, "name": "old"},
            new_values={"credentials": {"token": SECRET}, "name": "new"},
        )
    (entry,) = await entries(runtime)
    assert SECRET not in json.dumps([entry.old_values, entry.new_values])
    assert entry.old_values == {"master_password": audit.REDACTED, "name": "old"}
