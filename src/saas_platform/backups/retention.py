"""Which scheduled backups to keep: grandfather-father-son, counted in buckets.

Walking the backups newest first, each rule keeps the newest backup of each of its last N
buckets that hold a backup (days, ISO weeks, months), like restic's ``--keep-daily``,
``--keep-weekly`` and ``--keep-monthly``. Counting buckets that hold backups, rather than
calendar time, means an instance that stopped being backed up (stopped, say) keeps its last
archives instead of watching them all expire.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from saas_platform.tenants.tiers import BackupPolicy


@dataclass(frozen=True)
class Kept:
    # When it would go if backups keep coming daily: the latest end of the roles it plays.
    projected_expiry: datetime


def _day(moment: datetime) -> Hashable:
    return moment.astimezone(UTC).date()


def _week(moment: datetime) -> Hashable:
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return (year, week)


def _month(moment: datetime) -> Hashable:
    moment = moment.astimezone(UTC)
    return (moment.year, moment.month)


def _day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _week_start(moment: datetime) -> datetime:
    start = _day_start(moment)
    return start - timedelta(days=start.weekday())


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=1)


def _daily_end(moment: datetime, n: int) -> datetime:
    return moment + timedelta(days=n)


def _weekly_end(moment: datetime, n: int) -> datetime:
    return _week_start(moment) + timedelta(weeks=n)


def _monthly_end(moment: datetime, n: int) -> datetime:
    return _add_months(_day_start(moment).replace(day=1), n)


def keep(created_ats: Sequence[datetime], policy: BackupPolicy) -> dict[int, Kept]:
    """The indexes (into ``created_ats``) of the backups to keep, with their projection."""
    rules: list[tuple[int, Callable[[datetime], Hashable], Callable[[datetime, int], datetime]]]
    rules = [
        (policy.daily, _day, _daily_end),
        (policy.weekly, _week, _weekly_end),
        (policy.monthly, _month, _monthly_end),
    ]
    remaining = [count for count, _, _ in rules]
    last_bucket: list[Hashable | None] = [None] * len(rules)
    kept: dict[int, datetime] = {}
    for index in sorted(range(len(created_ats)), key=lambda i: created_ats[i], reverse=True):
        moment = created_ats[index]
        for r, (count, bucket_of, end_of) in enumerate(rules):
            bucket = bucket_of(moment)
            if remaining[r] > 0 and bucket != last_bucket[r]:
                last_bucket[r] = bucket
                remaining[r] -= 1
                end = end_of(moment, count)
                kept[index] = max(kept.get(index, end), end)
    return {index: Kept(projected_expiry=end) for index, end in kept.items()}
