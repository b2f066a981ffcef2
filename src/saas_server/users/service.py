"""Users: creation, lookup, profile and password changes. Rules live here, not in routers."""

from __future__ import annotations

import uuid

from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.core import clock
from saas_server.core.client import CLI_CLIENT, ClientInfo
from saas_server.core.errors import AppError, NotFound, ValidationFailed
from saas_server.core.security import password_hasher
from saas_server.events import service as events
from saas_server.users.models import PlatformRole, User
from saas_server.users.passwords import password_problems

USER_CREATED = "user.created"
USER_ROLE_CHANGED = "user.role_changed"


class EmailTaken(AppError):
    status_code = 409
    code = "EMAIL_TAKEN"
    message = "An account with this email already exists"
    unique_constraints = ("ix_users_email",)


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"
    message = "User not found"


# The columns' lengths, which every name the API accepts must fit.
def _column_length(name: str) -> int:
    column_type = User.__table__.c[name].type
    assert isinstance(column_type, String) and column_type.length is not None
    return column_type.length


FULL_NAME_MAX = _column_length("full_name")
FIRST_NAME_MAX = _column_length("first_name")
LAST_NAME_MAX = _column_length("last_name")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def split_names(
    full_name: str | None, first_name: str | None, last_name: str | None
) -> tuple[str, str, str]:
    """Accept either a full name or first + last name, and keep all three consistent.

    Every result fits its column: first and last names split off a full name are cut to
    their columns (the full name keeps every character), and a first and last name too long
    together to make a full name are refused."""
    first, last = (first_name or "").strip(), (last_name or "").strip()
    full = (full_name or "").strip()
    if not full:
        full = f"{first} {last}".strip()
        if len(full) > FULL_NAME_MAX:
            message = (
                f"first_name and last_name together are at most {FULL_NAME_MAX - 1} characters."
            )
            raise ValidationFailed(
                "The name is too long", details={"first_name": [message], "last_name": [message]}
            )
    elif not first and not last:
        first, _, last = full.partition(" ")
        first, last = first[:FIRST_NAME_MAX], last.strip()[:LAST_NAME_MAX]
    return full, first, last.strip()


def check_password(password: str, email: str, field: str = "password") -> None:
    problems = password_problems(password, email)
    if problems:
        raise ValidationFailed("The password is not acceptable", details={field: problems})


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    return user


async def find_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == normalize_email(email)))
    return result.scalar_one_or_none()


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str | None,
    full_name: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    role: PlatformRole = PlatformRole.USER,
    email_verified: bool = False,
) -> User:
    """Create an account; with no password, none can log in until one is set by reset."""
    email = normalize_email(email)
    if password is not None:
        check_password(password, email)
    if await find_by_email(session, email) is not None:
        raise EmailTaken()
    full, first, last = split_names(full_name, first_name, last_name)
    user = User(
        email=email,
        password_hash=password_hasher.hash(password) if password is not None else None,
        full_name=full,
        first_name=first,
        last_name=last,
        role=role.value,
        is_active=True,
        email_verified_at=clock.now() if email_verified else None,
        password_changed_at=clock.now() if password is not None else None,
        metadata_={},
    )
    session.add(user)
    await session.flush()
    await emit_user_event(session, events.USER_CREATED, user)
    return user


async def emit_user_event(
    session: AsyncSession, type_: str, user: User, changed: list[str] | None = None
) -> None:
    """A ``user.*`` event, the user's own (webhooks/visibility.py: they and platform admins
    read it), in the caller's transaction. Never a secret: no password hash, no token."""
    data: dict[str, object] = {
        "user_id": str(user.id),
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role,
        "is_active": user.is_active,
    }
    if changed is not None:
        data["changed"] = sorted(changed)
    await events.emit(session, type_, data, user_id=user.id)


def set_password(user: User, new_password: str, field: str = "new_password") -> None:
    check_password(new_password, user.email, field)
    user.password_hash = password_hasher.hash(new_password)
    user.password_changed_at = clock.now()


def update_names(
    user: User, *, full_name: str | None, first_name: str | None, last_name: str | None
) -> None:
    if first_name is not None or last_name is not None:
        first = user.first_name if first_name is None else first_name
        last = user.last_name if last_name is None else last_name
        user.full_name, user.first_name, user.last_name = split_names(
            full_name if full_name is not None else None, first, last
        )
        if full_name is None:
            user.full_name = f"{user.first_name} {user.last_name}".strip()
    elif full_name is not None:
        user.full_name, user.first_name, user.last_name = split_names(full_name, None, None)


async def create_platform_admin(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    full_name: str,
    client: ClientInfo = CLI_CLIENT,
) -> User:
    """A new platform admin (``saas create-admin``), audited like every other change: no
    actor, since the command acts for whoever holds the server."""
    user = await create_user(
        session,
        email=email,
        password=password,
        full_name=full_name,
        role=PlatformRole.ADMIN,
        email_verified=True,
    )
    await audit.record(
        session,
        action=USER_CREATED,
        resource_type="user",
        resource_id=user.id,
        new_values={"email": user.email, "full_name": user.full_name, "role": user.role},
        client=client,
    )
    return user


async def make_platform_admin(
    session: AsyncSession, user: User, *, client: ClientInfo = CLI_CLIENT
) -> None:
    old_role = user.role
    user.role = PlatformRole.ADMIN.value
    if user.email_verified_at is None:
        user.email_verified_at = clock.now()
    await session.flush()
    if old_role != user.role:
        await emit_user_event(session, events.USER_UPDATED, user, ["role"])
        await audit.record(
            session,
            action=USER_ROLE_CHANGED,
            resource_type="user",
            resource_id=user.id,
            old_values={"role": old_role},
            new_values={"role": user.role},
            client=client,
        )


async def platform_admin_exists(session: AsyncSession) -> bool:
    """Whether anyone can sign in as a platform admin (an active account with the role)."""
    found = await session.execute(
        select(User.id)
        .where(User.role == PlatformRole.ADMIN.value, User.is_active.is_(True))
        .limit(1)
    )
    return found.first() is not None
