"""The asynchronous client's resource namespaces (``client.tenants``, ``client.backups``...).
``_sync/resources.py`` is generated from this file by ``scripts/unasync.py``."""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from saas_platform._shared import api_path, drop_none, new_idempotency_key
from saas_platform.errors import (
    BackupFailed,
    ProvisioningFailed,
    RestoreFailed,
    SaasPlatformError,
    error_from_response,
)
from saas_platform.models import (
    ApiKey,
    ApiKeyCreated,
    Backup,
    Event,
    Instance,
    Invitation,
    Invoice,
    Member,
    Model,
    Plan,
    Restore,
    Subscription,
    Tenant,
    User,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreated,
)

if TYPE_CHECKING:
    from saas_platform._async.client import AsyncClient, AsyncPaginator

BACKUP_DOWNLOAD_PATH = "/api/v1/backups/download/"


class AsyncResource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client


class AsyncAuth(AsyncResource):
    """Accounts: register, verify, log in and out, passwords."""

    async def register(self, *, email: str, password: str, full_name: str, **fields: Any) -> User:
        """Create an account (201). The platform mails a verification link; pass its token to
        ``verify_email``. ``tenant_name`` and ``subdomain`` create a tenant in the same call."""
        body = {"email": email, "password": password, "full_name": full_name, **fields}
        response = await self._client.request(
            "POST", "/auth/register", json=body, authenticated=False
        )
        payload = response.json()
        return User.model_validate(payload.get("user", payload))

    async def verify_email(self, token: str) -> None:
        await self._client.request(
            "POST", "/auth/verify-email", json={"token": token}, authenticated=False
        )

    async def resend_verification(self, email: str) -> None:
        await self._client.request(
            "POST", "/auth/resend-verification", json={"email": email}, authenticated=False
        )

    async def login(self, email: str, password: str) -> User:
        return await self._client.login(email, password)

    async def logout(self) -> None:
        await self._client.logout()

    async def me(self) -> User:
        return await self._client._call("GET", "/auth/me", User)

    async def update_profile(self, **fields: Any) -> User:
        return await self._client._call("PATCH", "/auth/profile", User, json=fields)

    async def request_password_reset(self, email: str) -> None:
        await self._client.request(
            "POST", "/auth/password-reset/request", json={"email": email}, authenticated=False
        )

    async def confirm_password_reset(self, token: str, new_password: str) -> None:
        await self._client.request(
            "POST",
            "/auth/password-reset/confirm",
            json={"token": token, "new_password": new_password},
            authenticated=False,
        )


class AsyncUsers(AsyncResource):
    """The user directory (what the caller may see of it) and the caller's own account."""

    def list(self, **filters: Any) -> AsyncPaginator[User]:
        return self._client._paginate("/users", User, filters)

    async def me(self) -> User:
        return await self._client._call("GET", "/auth/me", User)

    async def get(self, user_id: str) -> User:
        return await self._client._call("GET", f"/users/{user_id}", User)

    async def create(self, **fields: Any) -> User:
        return await self._client._call("POST", "/users", User, json=fields)

    async def update(self, user_id: str, **fields: Any) -> User:
        return await self._client._call("PATCH", f"/users/{user_id}", User, json=fields)

    async def delete(self, user_id: str) -> None:
        await self._client._call_no_content("DELETE", f"/users/{user_id}")


class AsyncTenants(AsyncResource):
    def list(self, **filters: Any) -> AsyncPaginator[Tenant]:
        """Every tenant the caller belongs to; filters: ``status``, ``tier``, ``search``,
        ``ordering``, ``page_size``..."""
        return self._client._paginate("/tenants", Tenant, filters)

    async def create(
        self,
        *,
        name: str,
        subdomain: str,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Tenant:
        """Create a tenant (202): its Odoo database is provisioned in the background; see
        ``wait_until_ready``. Other fields: ``tier``, ``odoo_version``, ``settings``..."""
        return await self._client._call(
            "POST",
            "/tenants",
            Tenant,
            json={"name": name, "subdomain": subdomain, **fields},
            # The platform honours the key here: a 502 or 503 is safely asked again.
            idempotency_key=idempotency_key or new_idempotency_key(),
        )

    async def get(self, tenant_id: str) -> Tenant:
        return await self._client._call("GET", f"/tenants/{tenant_id}", Tenant)

    async def update(self, tenant_id: str, **fields: Any) -> Tenant:
        return await self._client._call("PATCH", f"/tenants/{tenant_id}", Tenant, json=fields)

    async def delete(self, tenant_id: str) -> Tenant:
        """Delete (202): the database is closed at once; the tenant goes ``deleting`` ->
        ``deleted`` and its owners keep its backups until ``grace_ends_at``."""
        return await self._client._call("DELETE", f"/tenants/{tenant_id}", Tenant)

    async def transfer_ownership(self, tenant_id: str, user_id: str) -> Tenant:
        return await self._client._call(
            "POST",
            f"/tenants/{tenant_id}/transfer-ownership",
            Tenant,
            json={"user_id": user_id},
        )

    async def wait_until_ready(
        self, tenant_id: str, *, timeout: float = 600.0, poll_interval: float = 2.0
    ) -> Tenant:
        """Wait until the tenant is ``ready`` and return it, woken by the event stream
        (``tenant.ready``), polling instead when the stream is not open to the caller.
        Raises ProvisioningFailed when provisioning fails, WaitTimeout after ``timeout``."""

        async def fetch() -> Tenant:
            return await self.get(tenant_id)

        def done(tenant: Tenant) -> bool:
            if tenant.status == "failed":
                error = (tenant.instance.error if tenant.instance else None) or {}
                raise ProvisioningFailed(
                    str(error.get("message") or "Provisioning failed"),
                    details={"tenant_id": tenant_id, **error},
                )
            if tenant.status in ("deleting", "deleted"):
                raise SaasPlatformError(f"tenant {tenant_id} is {tenant.status}")
            return tenant.status == "ready"

        return await self._client._wait(
            fetch,
            done,
            event_types=frozenset({"tenant.ready", "tenant.provisioning_failed"}),
            matches=lambda event: event.data.get("tenant_id") == tenant_id,
            tenant_id=tenant_id,
            timeout=timeout,
            poll_interval=poll_interval,
            what=f"tenant {tenant_id} was not ready",
        )


class AsyncMembers(AsyncResource):
    """A tenant's members (``/tenants/{id}/users``)."""

    def list(self, tenant_id: str, **filters: Any) -> AsyncPaginator[Member]:
        return self._client._paginate(f"/tenants/{tenant_id}/users", Member, filters)

    async def get(self, tenant_id: str, user_id: str) -> Member:
        return await self._client._call("GET", f"/tenants/{tenant_id}/users/{user_id}", Member)

    async def add(
        self,
        tenant_id: str,
        *,
        email: str | None = None,
        user_id: str | None = None,
        role: str = "member",
    ) -> Member | Invitation:
        """Add an account (a Member), or invite an address that has none (an Invitation)."""
        response = await self._client.request(
            "POST",
            f"/tenants/{tenant_id}/users",
            json=drop_none({"email": email, "user_id": user_id, "role": role}),
        )
        if response.status_code == 202:
            return Invitation.model_validate(response.json())
        return Member.model_validate(response.json())

    async def update(self, tenant_id: str, user_id: str, *, role: str) -> Member:
        return await self._client._call(
            "PATCH", f"/tenants/{tenant_id}/users/{user_id}", Member, json={"role": role}
        )

    async def remove(self, tenant_id: str, user_id: str) -> None:
        await self._client._call_no_content("DELETE", f"/tenants/{tenant_id}/users/{user_id}")


class AsyncInvitations(AsyncResource):
    def list(self, tenant_id: str, **filters: Any) -> AsyncPaginator[Invitation]:
        return self._client._paginate(f"/tenants/{tenant_id}/invitations", Invitation, filters)

    async def revoke(self, tenant_id: str, invitation_id: str) -> None:
        await self._client._call_no_content(
            "DELETE", f"/tenants/{tenant_id}/invitations/{invitation_id}"
        )

    async def accept(self, token: str) -> dict[str, Any]:
        """Accept an invitation mailed to the caller: ``{"tenant": ..., "role": ...}``."""
        response = await self._client.request("POST", "/invitations/accept", json={"token": token})
        body: dict[str, Any] = response.json()
        return body


class AsyncInstances(AsyncResource):
    """Odoo instances: read them, start, stop, restart, retry a failed provisioning."""

    def list(self, **filters: Any) -> AsyncPaginator[Instance]:
        return self._client._paginate("/instances", Instance, filters)

    def list_for_tenant(self, tenant_id: str, **filters: Any) -> AsyncPaginator[Instance]:
        return self._client._paginate(f"/tenants/{tenant_id}/instances", Instance, filters)

    async def get(self, instance_id: str) -> Instance:
        return await self._client._call("GET", f"/instances/{instance_id}", Instance)

    async def transitions(self, instance_id: str) -> builtins.list[dict[str, Any]]:
        response = await self._client.request("GET", f"/instances/{instance_id}/transitions")
        body: builtins.list[dict[str, Any]] = response.json()
        return body

    async def act(self, instance_id: str, action: str, *, reason: str | None = None) -> Instance:
        return await self._client._call(
            "POST",
            f"/instances/{instance_id}/actions",
            Instance,
            json=drop_none({"action": action, "reason": reason}),
        )

    async def start(self, instance_id: str, *, reason: str | None = None) -> Instance:
        return await self.act(instance_id, "start", reason=reason)

    async def stop(self, instance_id: str, *, reason: str | None = None) -> Instance:
        return await self.act(instance_id, "stop", reason=reason)

    async def restart(self, instance_id: str, *, reason: str | None = None) -> Instance:
        return await self.act(instance_id, "restart", reason=reason)

    async def retry(self, instance_id: str, *, reason: str | None = None) -> Instance:
        return await self.act(instance_id, "retry", reason=reason)


class AsyncBackups(AsyncResource):
    """A tenant's backups and restores."""

    async def create(
        self, tenant_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> Backup:
        """Start a manual backup (202); see ``wait_until_completed``."""
        return await self._client._call(
            "POST",
            f"/tenants/{tenant_id}/backups",
            Backup,
            json=drop_none({"reason": reason}),
            # The platform honours the key here: a 502 or 503 is safely asked again.
            idempotency_key=idempotency_key or new_idempotency_key(),
        )

    def list(self, tenant_id: str, **filters: Any) -> AsyncPaginator[Backup]:
        """Filters: ``type`` (manual, scheduled, pre_restore, pre_delete), ``status``,
        ``date_from``, ``date_to``, ``ordering``, ``page_size``..."""
        return self._client._paginate(f"/tenants/{tenant_id}/backups", Backup, filters)

    async def get(self, tenant_id: str, backup_id: str) -> Backup:
        return await self._client._call("GET", f"/tenants/{tenant_id}/backups/{backup_id}", Backup)

    async def delete(self, tenant_id: str, backup_id: str) -> None:
        await self._client._call_no_content("DELETE", f"/tenants/{tenant_id}/backups/{backup_id}")

    async def restore(
        self,
        tenant_id: str,
        backup_id: str,
        *,
        new_tenant: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Restore:
        """Restore over the tenant (202), or into a new tenant with
        ``new_tenant={"name": ..., "subdomain": ...}``."""
        return await self._client._call(
            "POST",
            f"/tenants/{tenant_id}/backups/{backup_id}/restore",
            Restore,
            json=drop_none({"new_tenant": new_tenant}),
            # The platform honours the key here: a 502 or 503 is safely asked again.
            idempotency_key=idempotency_key or new_idempotency_key(),
        )

    def list_restores(self, tenant_id: str, **filters: Any) -> AsyncPaginator[Restore]:
        return self._client._paginate(f"/tenants/{tenant_id}/restores", Restore, filters)

    async def get_restore(self, tenant_id: str, restore_id: str) -> Restore:
        return await self._client._call(
            "GET", f"/tenants/{tenant_id}/restores/{restore_id}", Restore
        )

    async def wait_until_completed(
        self,
        tenant_id: str,
        backup_id: str,
        *,
        timeout: float = 600.0,
        poll_interval: float = 2.0,
    ) -> Backup:
        """Wait until the backup is ``completed`` (woken by ``backup.completed``); raises
        BackupFailed when it fails, WaitTimeout after ``timeout``."""

        async def fetch() -> Backup:
            return await self.get(tenant_id, backup_id)

        def done(backup: Backup) -> bool:
            if backup.status == "failed":
                error = backup.error or {}
                raise BackupFailed(
                    str(error.get("message") or "The backup failed"),
                    details={"backup_id": backup_id, **error},
                )
            return backup.status == "completed"

        return await self._client._wait(
            fetch,
            done,
            event_types=frozenset({"backup.completed", "backup.failed"}),
            matches=lambda event: event.data.get("backup_id") == backup_id,
            tenant_id=tenant_id,
            timeout=timeout,
            poll_interval=poll_interval,
            what=f"backup {backup_id} was not completed",
        )

    async def wait_until_restored(
        self,
        tenant_id: str,
        restore_id: str,
        *,
        timeout: float = 600.0,
        poll_interval: float = 2.0,
    ) -> Restore:
        """Wait until the restore is ``completed`` (woken by ``restore.completed``); raises
        RestoreFailed when it fails or is rolled back, WaitTimeout after ``timeout``."""

        async def fetch() -> Restore:
            return await self.get_restore(tenant_id, restore_id)

        def done(restore: Restore) -> bool:
            if restore.status in ("failed", "rolled_back"):
                error = restore.error or {}
                raise RestoreFailed(
                    str(error.get("message") or f"The restore {restore.status.replace('_', ' ')}"),
                    details={"restore_id": restore_id, "status": restore.status, **error},
                )
            return restore.status == "completed"

        return await self._client._wait(
            fetch,
            done,
            event_types=frozenset({"restore.completed", "restore.failed"}),
            matches=lambda event: event.data.get("restore_id") == restore_id,
            tenant_id=tenant_id,
            timeout=timeout,
            poll_interval=poll_interval,
            what=f"restore {restore_id} was not completed",
        )

    async def download(
        self, tenant_id: str, backup_id: str, destination: str | Path | IO[bytes]
    ) -> int:
        """Download a completed backup's archive to a path or a binary file; checks its
        SHA-256 against the backup's ``checksum``. Returns the number of bytes written."""
        backup = await self.get(tenant_id, backup_id)
        if not backup.download_url:
            raise SaasPlatformError(
                f"backup {backup_id} has no download link (status {backup.status}; links are "
                "for the tenant's owners and admins)"
            )
        url = backup.download_url
        # The platform's own signed link is fetched on this client's base URL (the link names
        # the public URL, which this client may reach differently); an S3 link as it is.
        # Either carries its own authorisation: no credentials are sent with it.
        parts = urlsplit(url)
        if parts.path.startswith(BACKUP_DOWNLOAD_PATH):
            url = api_path(parts.path)
        digest = hashlib.sha256()
        written = 0
        target: IO[bytes]
        if isinstance(destination, (str, Path)):
            # Blocking writes of the chunks as they come: a backup is read once, by one task.
            target = open(destination, "wb")  # noqa: ASYNC230
        else:
            target = destination
        try:
            async with self._client._http.stream("GET", url) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_from_response(response)
                async for chunk in response.aiter_bytes():
                    target.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
        finally:
            if target is not destination:
                target.close()
        if backup.checksum and digest.hexdigest() != backup.checksum:
            raise SaasPlatformError(
                f"backup {backup_id}: the downloaded archive's SHA-256 does not match"
            )
        return written


class AsyncApiKeys(AsyncResource):
    """Personal API keys (managed from a login session only: a key cannot mint keys)."""

    async def create(
        self,
        *,
        name: str,
        scopes: builtins.list[str],
        tenant_id: str | None = None,
        expires_at: str | None = None,
    ) -> ApiKeyCreated:
        """A new key; ``.key`` is shown this once."""
        return await self._client._call(
            "POST",
            "/api-keys",
            ApiKeyCreated,
            json=drop_none(
                {"name": name, "scopes": scopes, "tenant_id": tenant_id, "expires_at": expires_at}
            ),
        )

    def list(self, **filters: Any) -> AsyncPaginator[ApiKey]:
        return self._client._paginate("/api-keys", ApiKey, filters)

    async def revoke(self, key_id: str) -> None:
        await self._client._call_no_content("DELETE", f"/api-keys/{key_id}")


class AsyncWebhookEndpoints(AsyncResource):
    """Outbound webhook endpoints; verify what they receive with ``saas_platform.Webhook``."""

    async def create(
        self,
        *,
        url: str,
        events: builtins.list[str],
        description: str | None = None,
        tenant_id: str | None = None,
    ) -> WebhookEndpointCreated:
        """A new endpoint; ``.secret`` (``whsec_...``) is shown this once."""
        return await self._client._call(
            "POST",
            "/webhooks/endpoints",
            WebhookEndpointCreated,
            json=drop_none(
                {"url": url, "events": events, "description": description, "tenant_id": tenant_id}
            ),
        )

    def list(self, **filters: Any) -> AsyncPaginator[WebhookEndpoint]:
        return self._client._paginate("/webhooks/endpoints", WebhookEndpoint, filters)

    async def get(self, endpoint_id: str) -> WebhookEndpoint:
        return await self._client._call(
            "GET", f"/webhooks/endpoints/{endpoint_id}", WebhookEndpoint
        )

    async def update(self, endpoint_id: str, **fields: Any) -> WebhookEndpoint:
        return await self._client._call(
            "PATCH", f"/webhooks/endpoints/{endpoint_id}", WebhookEndpoint, json=fields
        )

    async def delete(self, endpoint_id: str) -> None:
        await self._client._call_no_content("DELETE", f"/webhooks/endpoints/{endpoint_id}")

    async def rotate_secret(self, endpoint_id: str) -> dict[str, Any]:
        """``{"secret", "previous_secret_expires_at"}``: the old secret signs alongside."""
        response = await self._client.request(
            "POST", f"/webhooks/endpoints/{endpoint_id}/rotate-secret"
        )
        body: dict[str, Any] = response.json()
        return body

    async def test(self, endpoint_id: str) -> WebhookDelivery:
        """Send a ``ping`` to the endpoint; the delivery it starts."""
        return await self._client._call(
            "POST", f"/webhooks/endpoints/{endpoint_id}/test", WebhookDelivery
        )

    def deliveries(self, endpoint_id: str, **filters: Any) -> AsyncPaginator[WebhookDelivery]:
        return self._client._paginate(
            f"/webhooks/endpoints/{endpoint_id}/deliveries", WebhookDelivery, filters
        )


class AsyncPlans(AsyncResource):
    def list(self, **filters: Any) -> AsyncPaginator[Plan]:
        return self._client._paginate("/billing/plans", Plan, filters)


class AsyncSubscriptions(AsyncResource):
    def list(self, **filters: Any) -> AsyncPaginator[Subscription]:
        """Filters: ``tenant_id``, ``status``, ``is_active``."""
        return self._client._paginate("/subscriptions", Subscription, filters)

    async def create(
        self, *, tenant_id: str, plan: str, idempotency_key: str | None = None, **fields: Any
    ) -> Subscription:
        return await self._client._call(
            "POST",
            "/subscriptions",
            Subscription,
            json={"tenant_id": tenant_id, "plan": plan, **fields},
            # The platform honours the key here: a 502 or 503 is safely asked again.
            idempotency_key=idempotency_key or new_idempotency_key(),
        )

    async def get(self, subscription_id: str) -> Subscription:
        return await self._client._call("GET", f"/subscriptions/{subscription_id}", Subscription)

    async def update(self, subscription_id: str, **fields: Any) -> Subscription:
        return await self._client._call(
            "PATCH", f"/subscriptions/{subscription_id}", Subscription, json=fields
        )

    async def cancel(self, subscription_id: str, *, at_period_end: bool = True) -> Subscription:
        return await self._client._call(
            "POST",
            f"/subscriptions/{subscription_id}/cancel",
            Subscription,
            json={"at_period_end": at_period_end},
        )


class AsyncInvoices(AsyncResource):
    def list(self, **filters: Any) -> AsyncPaginator[Invoice]:
        """Filters: ``status``, ``kind``, ``tenant_id``, ``date_from``, ``date_to``."""
        return self._client._paginate("/billing/invoices", Invoice, filters)

    async def get(self, invoice_id: str) -> Invoice:
        return await self._client._call("GET", f"/billing/invoices/{invoice_id}", Invoice)

    async def pdf(self, invoice_id: str) -> bytes:
        response = await self._client.request("GET", f"/billing/invoices/{invoice_id}/pdf")
        return response.content


class AsyncEvents(AsyncResource):
    """The real-time event stream (``GET /events/stream``)."""

    def stream(
        self,
        *,
        tenant_id: str | None = None,
        last_event_id: str | None = None,
        reconnect: bool = True,
    ) -> AsyncIterator[Event]:
        """The caller's events as they happen, the bodies outbound webhooks receive; each
        ``event.id`` can be given back as ``last_event_id`` to resume after it. A dropped
        connection is resumed by itself with ``Last-Event-ID``, nothing missed."""
        return self._client._events(
            tenant_id=tenant_id, last_event_id=last_event_id, reconnect=reconnect
        )


__all__ = ["AsyncResource", "Model"]
