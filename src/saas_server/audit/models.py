"""The audit log: one append-only, hash-chained row per recorded event.

The table is written only by ``audit.service.record``; the database itself refuses UPDATE,
DELETE and TRUNCATE on it (trigger of migration 0004).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        # Each index ends with (timestamp, seq): a filter plus a date range plus the default
        # "-timestamp" order (seq breaks ties) is one backward range scan, LIMIT included.
        Index("ix_audit_log_tenant_id_timestamp", "tenant_id", "timestamp", "seq"),
        Index("ix_audit_log_user_id_timestamp", "user_id", "timestamp", "seq"),
        Index("ix_audit_log_timestamp", "timestamp", "seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Order of the chain, assigned by the database while appends are serialised; never exposed.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    timestamp: Mapped[datetime]
    # The actor. No foreign keys, here or on tenant_id: entries outlive users and tenants, and
    # an ON DELETE action would have to rewrite rows the trigger keeps immutable.
    user_id: Mapped[uuid.UUID | None]
    tenant_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(255))
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    # sha256 (hex) of the previous entry's hash and this entry's canonical form.
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # HMAC-SHA256 (hex) of the canonical form and the hash, keyed by a key derived from the
    # secret key, which the database never holds: whoever rewrites the table cannot recompute
    # it. Null only on entries written before migration 0010.
    mac: Mapped[str | None] = mapped_column(String(64))
