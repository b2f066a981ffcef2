"""Seats: a seat is a tenant member's active internal user in the tenant's Odoo.

The API changes the seat rows and defers :data:`SYNC_SEATS_TASK` in the same transaction;
the job makes the Odoo side match the rows (decision 0008): first it archives every active
internal user that holds no seat (the tenant's Odoo administrator excepted), then it creates
or reactivates the seat holders' users. Seat rows never exceed ``max_users``, so neither do
Odoo's active internal users, at any moment. A new user's password is made in the job and
goes only into the mail to its member: never into a row, a job argument or a log.
"""

from __future__ import annotations

import logging
import secrets
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.billing.models import LIVE_STATUSES, Seat, Subscription
from saas_server.core.client import ClientInfo
from saas_server.core.errors import BillingError, Conflict, NotFound, ValidationFailed
from saas_server.core.jobs import defer
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.models import InstanceStatus
from saas_server.instances.service import instance_url, production_instance
from saas_server.mail.service import Mail, queue_mail
from saas_server.odoo.driver import Credentials, OdooUser
from saas_server.tenants.base import TenantAccess
from saas_server.tenants.models import Membership, Tenant
from saas_server.users.models import User

logger = logging.getLogger(__name__)

SYNC_SEATS_TASK = "billing.sync_seats"


class SeatNotFound(NotFound):
    message = "This user holds no seat of the subscription"


async def defer_seat_sync(session: AsyncSession, subscription_id: uuid.UUID) -> None:
    # One waiting sync per subscription is enough: it reads the rows when it runs.
    await defer(
        session,
        SYNC_SEATS_TASK,
        queue="provisioning",
        queueing_lock=f"seats-{subscription_id}",
        subscription_id=str(subscription_id),
    )


async def seat_count(session: AsyncSession, subscription_id: uuid.UUID) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(Seat)
                .where(Seat.subscription_id == subscription_id)
            )
        ).scalar_one()
    )


async def add_seat(
    session: AsyncSession,
    access: TenantAccess,
    subscription: Subscription,
    user_id: uuid.UUID,
    client: ClientInfo | None = None,
) -> tuple[Seat, bool]:
    """The member's seat (created: True). Past ``max_users``: 402 ``BILLING_ERROR``."""
    access.require_owner()
    # Serialises seat changes of one subscription: the count below stays true until commit.
    await session.refresh(subscription, with_for_update=True)
    if subscription.status not in LIVE_STATUSES:
        raise Conflict("The subscription is canceled")
    member = (
        await session.execute(
            select(Membership.id).where(
                Membership.tenant_id == subscription.tenant_id, Membership.user_id == user_id
            )
        )
    ).first()
    if member is None:
        raise ValidationFailed.for_field("user_id", "Not a member of the subscription's tenant.")
    existing = (
        await session.execute(
            select(Seat).where(Seat.subscription_id == subscription.id, Seat.user_id == user_id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    taken = await seat_count(session, subscription.id)
    if taken >= subscription.max_users:
        raise BillingError(
            f"All {subscription.max_users} seats are taken; raise max_users to add a user",
            details={"max_users": subscription.max_users, "user_count": taken},
        )
    seat = Seat(subscription_id=subscription.id, user_id=user_id)
    session.add(seat)
    await session.flush()
    await _record(session, access, subscription, "subscription.seat_added", user_id, client)
    await defer_seat_sync(session, subscription.id)
    return seat, True


async def remove_seat(
    session: AsyncSession,
    access: TenantAccess,
    subscription: Subscription,
    user_id: uuid.UUID,
    client: ClientInfo | None = None,
) -> None:
    access.require_owner()
    await session.refresh(subscription, with_for_update=True)
    seat = (
        await session.execute(
            select(Seat).where(Seat.subscription_id == subscription.id, Seat.user_id == user_id)
        )
    ).scalar_one_or_none()
    if seat is None:
        raise SeatNotFound()
    await session.delete(seat)
    await session.flush()
    await _record(session, access, subscription, "subscription.seat_removed", user_id, client)
    await defer_seat_sync(session, subscription.id)


async def _record(
    session: AsyncSession,
    access: TenantAccess,
    subscription: Subscription,
    action: str,
    user_id: uuid.UUID,
    client: ClientInfo | None,
) -> None:
    count = await seat_count(session, subscription.id)
    await audit.record(
        session,
        action=action,
        resource_type="subscription",
        resource_id=subscription.id,
        actor_id=access.actor.id,
        tenant_id=subscription.tenant_id,
        new_values={"user_id": str(user_id), "user_count": count},
        client=client,
    )
    await events.emit(
        session,
        "subscription.updated",
        {
            "subscription_id": str(subscription.id),
            "tenant_id": str(subscription.tenant_id),
            "change": action.removeprefix("subscription."),
            "user_id": str(user_id),
            "user_count": count,
            "max_users": subscription.max_users,
        },
        tenant_id=subscription.tenant_id,
    )


async def sync_seats(runtime: Runtime, subscription_id: uuid.UUID) -> None:
    """Make the tenant's Odoo users match the seats (see the module's docstring). Nothing to
    do until the tenant's database is ready; a later seat change or renewal syncs again."""
    async with runtime.db.sessionmaker() as session:
        subscription = await session.get(Subscription, subscription_id)
        if subscription is None:
            return
        tenant = await session.get(Tenant, subscription.tenant_id)
        instance = await production_instance(session, subscription.tenant_id)
        if (
            tenant is None
            or instance is None
            or instance.status != InstanceStatus.READY.value
            or instance.host_id is None
        ):
            return
        host = await session.get(OdooHost, instance.host_id)
        assert host is not None
        holders: list[User] = []
        if subscription.status in LIVE_STATUSES:
            holders = list(
                (
                    await session.execute(
                        select(User)
                        .join(Seat, Seat.user_id == User.id)
                        .where(Seat.subscription_id == subscription.id)
                        .order_by(Seat.created_at)
                    )
                ).scalars()
            )
        admin = Credentials(
            instance.admin_login, runtime.secrets.decrypt(instance.admin_password_encrypted)
        )
        database = instance.database_name
        url = instance_url(runtime, instance, host, tenant.subdomain) or host.url
        tenant_name = tenant.name
    wanted = {user.email.lower() for user in holders}
    welcomed: list[tuple[User, str | None]] = []
    driver = driver_for(runtime, host)
    try:
        for login in await driver.active_internal_logins(database, admin):
            if login != admin.login and login.lower() not in wanted:
                await driver.deactivate_user(database, admin, login)
        active = {login.lower() for login in await driver.active_internal_logins(database, admin)}
        for user in holders:
            if user.email.lower() in active:
                continue
            password = secrets.token_urlsafe(12)
            odoo_user = OdooUser(
                login=user.email, name=user.full_name or user.email, email=user.email
            )
            created = await driver.ensure_internal_user(database, admin, odoo_user, password)
            welcomed.append((user, password if created else None))
    finally:
        await driver.close()
    if welcomed:
        async with runtime.db.transaction() as session:
            for user, sent_password in welcomed:
                await queue_mail(
                    session, runtime.secrets, _seat_mail(user, tenant_name, url, sent_password)
                )


def _seat_mail(user: User, tenant_name: str, url: str, password: str | None) -> Mail:
    if password is None:
        how = "Log in with your email address and the password you used before."
    else:
        how = (
            f"Log in with your email address and this password, then change it:\n\n    {password}\n"
        )
    return Mail(
        to=user.email,
        subject=f"Your access to {tenant_name}'s Odoo",
        text=(
            f"Hello {user.full_name or user.email},\n\n"
            f"You have a seat in {tenant_name}'s Odoo at {url}\n\n{how}\n"
        ),
    )
