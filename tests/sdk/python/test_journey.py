"""The README's journey through the SDK against a running platform, sync and async: register,
verify (the link from the mail), log in, create a tenant, wait for it to be ready from the event
stream, back up, download, list with paging, and the same events from the stream afterwards."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from saas_platform import AsyncClient, Backup, Client, Invitation, Tenant, Webhook

from tests.fixtures.auth import DEFAULT_PASSWORD
from tests.fixtures.sdk import unique_email
from tests.fixtures.serve import ServeProcess
from tests.fixtures.smtp import Inbox
from tests.fixtures.webhook_receiver import running_receiver

pytestmark = [pytest.mark.slow, pytest.mark.once]

READY_TIMEOUT = 300.0


def subdomain(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_readme_journey_sync(platform: ServeProcess, inbox: Inbox, tmp_path: Path) -> None:
    email = unique_email("sync")
    with Client(base_url=platform.base_url) as anonymous:
        registered = anonymous.auth.register(
            email=email, password=DEFAULT_PASSWORD, full_name="Sync User"
        )
        assert registered.email == email and registered.email_verified is False
        mail = await inbox.wait_for(email, timeout=30)
        anonymous.auth.verify_email(mail.token())

    with (
        running_receiver() as receiver,
        Client(email=email, password=DEFAULT_PASSWORD, base_url=platform.base_url) as client,
    ):
        me = client.users.me()
        assert me.email == email and me.email_verified is True
        # Seed 002's line: the directory as this user sees it (themselves).
        assert [user.email for user in client.users.list()] == [email]
        endpoint = client.webhook_endpoints.create(url=receiver.url, events=["*"])
        assert endpoint.secret.startswith("whsec_")

        created = client.tenants.create(name="Sync Co", subdomain=subdomain("sync"))
        assert isinstance(created, Tenant) and created.status in ("provisioning", "ready")
        # A polling fallback would first look again after poll_interval, past the timeout:
        # the tenant is seen ready only because the stream said so (or it was at once).
        started = time.monotonic()
        ready = client.tenants.wait_until_ready(
            created.id, timeout=READY_TIMEOUT, poll_interval=READY_TIMEOUT * 2
        )
        assert time.monotonic() - started < READY_TIMEOUT
        assert ready.status == "ready" and ready.instance is not None
        assert ready.instance.status == "ready" and ready.instance.url
        # Seen at once: neither a poll (10 min away) nor the safety re-read (a minute).
        assert ready.instance.ready_at is not None
        woke_after = (datetime.now(UTC) - ready.instance.ready_at).total_seconds()
        print(f"wait_until_ready returned {woke_after:.3f} s after the instance was ready")
        assert woke_after < 10

        first = client.backups.create(ready.id, reason="sdk journey")
        assert isinstance(first, Backup) and first.type == "manual"
        first = client.backups.wait_until_completed(ready.id, first.id, timeout=READY_TIMEOUT)
        assert first.status == "completed" and first.size_bytes and first.checksum
        second = client.backups.create(ready.id, reason="sdk journey, again")
        client.backups.wait_until_completed(ready.id, second.id, timeout=READY_TIMEOUT)

        archive = tmp_path / "backup.zip"
        written = client.backups.download(ready.id, first.id, archive)
        assert written == first.size_bytes == archive.stat().st_size
        assert hashlib.sha256(archive.read_bytes()).hexdigest() == first.checksum

        # Paging: one backup a page, the iterator follows `next` across both pages.
        pager = client.backups.list(ready.id, type="manual", page_size=1)
        page = pager.page()
        assert page.count == 2 and len(page.results) == 1 and page.has_next
        assert {b.id for b in pager} == {first.id, second.id}
        assert [t.id for t in client.tenants.list()] == [ready.id]

        # The stream replays the caller's events from the start (Last-Event-ID 0).
        seen: dict[str, str] = {}
        for event in client.events.stream(last_event_id="0"):
            assert event.id is not None
            if event.data.get("tenant_id") == ready.id:
                seen.setdefault(event.type, event.id)
            if {"tenant.created", "tenant.ready", "backup.completed"} <= set(seen):
                break
        assert int(seen["tenant.created"]) < int(seen["tenant.ready"])

        # The webhooks of the same events verify with the endpoint's secret.
        verifier = Webhook(endpoint.secret)
        deliveries = receiver.wait_for(2, timeout=60)
        types = {verifier.verify(d.body, d.headers).type for d in deliveries}
        assert "tenant.created" in types

        # Back to the first backup, over the tenant.
        restore = client.backups.restore(ready.id, first.id)
        assert restore.backup_id == first.id
        restored = client.backups.wait_until_restored(ready.id, restore.id, timeout=READY_TIMEOUT)
        assert restored.status == "completed" and restored.pre_restore_backup_id
        assert [r.id for r in client.backups.list_restores(ready.id)] == [restore.id]
        assert client.tenants.wait_until_ready(ready.id, timeout=60).status == "ready"

        # A test delivery, signed like the others.
        ping = client.webhook_endpoints.test(endpoint.id)
        assert ping.endpoint_id == endpoint.id
        assert [e.id for e in client.webhook_endpoints.list()] == [endpoint.id]
        deadline = time.monotonic() + 30
        while not any(d.headers["webhook-id"] == ping.message_id for d in receiver.received):
            assert time.monotonic() < deadline, "the test delivery never came"
            time.sleep(0.1)
        [sent] = [d for d in receiver.received if d.headers["webhook-id"] == ping.message_id]
        assert verifier.verify(sent.body, sent.headers).type == ping.event_type
        assert ping.id in {d.id for d in client.webhook_endpoints.deliveries(endpoint.id)}


async def test_readme_journey_async(platform: ServeProcess, inbox: Inbox, tmp_path: Path) -> None:
    email = unique_email("async")
    async with AsyncClient(base_url=platform.base_url) as anonymous:
        await anonymous.auth.register(email=email, password=DEFAULT_PASSWORD, full_name="Async")
        mail = await inbox.wait_for(email, timeout=30)
        await anonymous.auth.verify_email(mail.token())

    async with AsyncClient(
        email=email, password=DEFAULT_PASSWORD, base_url=platform.base_url
    ) as client:
        assert (await client.users.me()).email == email
        created = await client.tenants.create(name="Async Co", subdomain=subdomain("async"))
        ready = await client.tenants.wait_until_ready(
            created.id, timeout=READY_TIMEOUT, poll_interval=READY_TIMEOUT * 2
        )
        assert ready.status == "ready" and ready.instance is not None

        backups = [await client.backups.create(ready.id, reason=f"async {n}") for n in range(2)]
        for backup in backups:
            done = await client.backups.wait_until_completed(
                ready.id, backup.id, timeout=READY_TIMEOUT
            )
            assert done.status == "completed"
        written = await client.backups.download(ready.id, backups[0].id, tmp_path / "a.zip")
        assert written > 0

        pager = client.backups.list(ready.id, page_size=1)
        page = await pager.page()
        assert page.count == 2 and page.has_next
        assert {b.id async for b in pager} == {b.id for b in backups}
        assert [t.id async for t in client.tenants.list()] == [ready.id]

        invited = await client.members.add(ready.id, email=unique_email("invited"), role="admin")
        assert isinstance(invited, Invitation) and invited.role == "admin"
        assert [i.id async for i in client.invitations.list(ready.id)] == [invited.id]
        assert [m.email async for m in client.members.list(ready.id)] == [email]
        await client.invitations.revoke(ready.id, invited.id)
        assert [i async for i in client.invitations.list(ready.id)] == []

        plans = {plan.code async for plan in client.plans.list()}
        assert {"starter", "professional", "enterprise"} <= plans
        subscription = await client.subscriptions.create(tenant_id=ready.id, plan="starter")
        assert subscription.tenant_id == ready.id and subscription.plan == "starter"
        listed = [s.id async for s in client.subscriptions.list(tenant_id=ready.id)]
        assert listed == [subscription.id]
        canceled = await client.subscriptions.cancel(subscription.id, at_period_end=True)
        assert canceled.cancel_at_period_end is True
        async for invoice in client.invoices.list(tenant_id=ready.id):
            assert (await client.invoices.get(invoice.id)).total_cents == invoice.total_cents

        instance = await client.instances.get(ready.instance.id)
        assert instance.status == "ready" and instance.tenant_id == ready.id
        restarted = await client.instances.restart(instance.id, reason="sdk journey")
        assert restarted.id == instance.id

        seen: set[str] = set()
        async for event in client.events.stream(last_event_id="0"):
            if event.data.get("tenant_id") == ready.id:
                seen.add(event.type)
            if {"tenant.created", "tenant.ready", "backup.completed"} <= seen:
                break
