"""Receipts of the events payment providers send us (Stripe's webhooks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core import clock
from saas_server.core.db import Base


class ProviderEventReceipt(Base):
    """One provider event applied. Written in the transaction that applies it: an event
    whose receipt exists was applied, and a delivery of it again is only acknowledged."""

    __tablename__ = "billing_provider_event_receipts"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(255), nullable=False)
    received_at: Mapped[datetime] = mapped_column(default=clock.now, nullable=False)
