"""Billing periods: calendar months and years, anchored on the subscription's start day."""

from __future__ import annotations

import calendar
from datetime import datetime

from saas_server.billing.models import BillingCycle


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by whole calendar months; a day the target month lacks becomes its
    last day (Jan 31 + 1 month = Feb 28 or 29), as Stripe anchors billing periods."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_end(start: datetime, cycle: str) -> datetime:
    return add_months(start, 12 if cycle == BillingCycle.ANNUALLY.value else 1)
