from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey


class AuthSession(UUIDPrimaryKey, Timestamps, Base):
    """One login: the family of refresh tokens that rotate from it.

    Access tokens carry the session id (``sid``), so revoking a session (logout, reuse of a
    rotated refresh token, password reset) ends its access tokens at once as well.
    """

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(50))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))


class RefreshToken(UUIDPrimaryKey, Base):
    __tablename__ = "auth_refresh_tokens"
    __table_args__ = (
        # The few rows still holding a sealed successor: the sweep that drops them reads this.
        Index(
            "ix_auth_refresh_tokens_sealed_rotated_at",
            "rotated_at",
            postgresql_where=text("successor_sealed IS NOT NULL"),
        ),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # Set when the token is exchanged for a new pair; presenting it again is reuse, unless
    # within the reuse grace window (docs/decisions/0034-refresh-reuse-grace.md).
    rotated_at: Mapped[datetime | None]
    # The successor token it was exchanged for, encrypted, kept only during that window so a
    # concurrent refresh with this token gets the same successor; cleared after it.
    successor_sealed: Mapped[str | None] = mapped_column(Text)


class ActionToken(UUIDPrimaryKey, Base):
    """A single-use, expiring token mailed to a user (email verification, password reset)."""

    __tablename__ = "auth_action_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(30))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed logins for one email address (known or not, so both answer alike), counted per
    source address and for the account as a whole (``source`` = ``ACCOUNT_WIDE``).

    The rule is docs/decisions/0005-login-lockout.md: a source that fails too often is locked
    out alone; the account-wide ceiling is higher and spares the sources the owner has proven
    (``trusted_until``: a successful login, or the mailed unlock link opened from there).
    """

    __tablename__ = "auth_login_throttles"

    ACCOUNT_WIDE = "*"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    # An IPv4 address, an IPv6 /64 network, "unknown", or ACCOUNT_WIDE.
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    trusted_until: Mapped[datetime | None]


class ApiKey(UUIDPrimaryKey, Base):
    """A personal API key: acts as its user, within ``scopes`` and, when ``tenant_id`` is
    set, within that one tenant (docs/decisions/0015-api-keys.md).

    Only the keyed hash of the key is stored; ``prefix`` (the recognisable start of the key
    plus a few random characters) is what lists show so the owner can tell keys apart.
    """

    __tablename__ = "api_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONB)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(64))
    # The last few addresses the key was used from, newest last: a use from any other is
    # audited ("first use from a new IP").
    recent_ips: Mapped[list[str]] = mapped_column(JSONB)
