"""The retry schedule (Svix's): when attempt n+1 follows a failed attempt n."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parsedate_to_datetime

# Attempt 1 goes at once; after the n-th failure the next waits RETRY_DELAYS[n].
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS)
# A Retry-After beyond this is read as this (a receiver cannot park a delivery for weeks).
MAX_RETRY_AFTER = timedelta(hours=10)
# Answers whose Retry-After is honoured.
THROTTLED = frozenset({429, 503})


def delay_after(failed_attempts: int, retry_after: timedelta | None = None) -> timedelta | None:
    """The wait before the next attempt once ``failed_attempts`` have failed; None: give up.
    A ``Retry-After`` (429, 503) is honoured when it asks for longer than the schedule."""
    if failed_attempts >= MAX_ATTEMPTS:
        return None
    delay = RETRY_DELAYS[failed_attempts]
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now_epoch: float) -> timedelta | None:
    """Seconds, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return timedelta(seconds=max(0.0, moment.timestamp() - now_epoch))
