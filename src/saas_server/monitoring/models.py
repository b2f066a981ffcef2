"""Tenant metrics as time series: raw samples and their hourly and daily rollups."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base, UUIDPrimaryKey


class Granularity(enum.StrEnum):
    RAW = "raw"
    HOUR = "hour"
    DAY = "day"


class MetricPoint(UUIDPrimaryKey, Base):
    """One value of one metric of one tenant: a raw sample (``bucket_at`` = when it was
    taken) or the mean of the raw samples of an hour or a day (``bucket_at`` = its start,
    ``samples`` = how many points it averages, ``min_value``/``max_value`` their range)."""

    __tablename__ = "tenant_metric_points"
    __table_args__ = (
        UniqueConstraint("tenant_id", "metric", "granularity", "bucket_at"),
        Index("ix_tenant_metric_points_granularity_bucket_at", "granularity", "bucket_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    instance_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("instances.id", ondelete="SET NULL")
    )
    metric: Mapped[str] = mapped_column(String(60))
    granularity: Mapped[str] = mapped_column(String(10))
    bucket_at: Mapped[datetime]
    # Sizes, counts and counters; not money, so a float is the right type (means of ints).
    value: Mapped[float] = mapped_column(Float)
    min_value: Mapped[float] = mapped_column(Float)
    max_value: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer, default=1)
