"""The security signals, read from where each is kept, and the metrics made of them.

| signal | kept in |
| --- | --- |
| failed_logins | audit_log, ``auth.login_failed`` (email, reason, IP) |
| lockouts | audit_log, ``auth.login_locked`` (an attempt refused during a lockout) |
| password_reset_requests | audit_log, ``auth.password_reset_requested`` |
| password_resets | audit_log, ``auth.password_reset`` |
| token_reuse | auth_sessions revoked with reason ``refresh_token_reuse`` |
| rate_limited, tenant_not_found, blocked_requests | security_events (security/middleware.py) |

Nothing is copied: the audit trail and the sessions already hold the first ones, so the hot
path of a login pays nothing more.
"""

# The SQL below is assembled only from this module's constants; values are bound parameters.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.core import clock
from saas_server.core.errors import ValidationFailed
from saas_server.security.models import SecurityEventType

SIGNALS = (
    "failed_logins",
    "lockouts",
    "password_reset_requests",
    "password_resets",
    "token_reuse",
    "rate_limited",
    "tenant_not_found",
    "blocked_requests",
)
AUDIT_SIGNALS = {
    audit.AUTH_LOGIN_FAILED: "failed_logins",
    audit.AUTH_LOGIN_LOCKED: "lockouts",
    audit.AUTH_PASSWORD_RESET_REQUESTED: "password_reset_requests",
    audit.AUTH_PASSWORD_RESET: "password_resets",
}
EVENT_SIGNALS = {
    SecurityEventType.RATE_LIMITED.value: "rate_limited",
    SecurityEventType.TENANT_NOT_FOUND.value: "tenant_not_found",
    SecurityEventType.BLOCKED_REQUEST.value: "blocked_requests",
}
TOKEN_REUSE_REASON = "refresh_token_reuse"
# A range longer than this is refused: a month of hours is already 744 rows.
MAX_RANGE = timedelta(days=31)
TOP_LIMIT = 10

# Every signal as one relation: (ts, signal, ip, account). ``account`` is the email where
# one is known, else the user id.
_ALL_SIGNALS = """
    SELECT a.timestamp AS ts,
           CASE a.action {audit_cases} END AS signal,
           a.ip_address AS ip,
           coalesce(lower(a.new_values->>'email'), u.email, a.resource_id) AS account,
           1 AS n
    FROM audit_log a
    LEFT JOIN users u ON a.resource_type = 'user' AND u.id::text = a.resource_id
    WHERE a.action IN ({audit_actions}) AND a.timestamp >= :date_from AND a.timestamp < :date_to
    UNION ALL
    SELECT s.revoked_at, 'token_reuse', s.ip_address, u.email, 1
    FROM auth_sessions s LEFT JOIN users u ON u.id = s.user_id
    WHERE s.revoked_reason = '{reuse}' AND s.revoked_at >= :date_from AND s.revoked_at < :date_to
    UNION ALL
    SELECT e.occurred_at, CASE e.type {event_cases} END, e.ip_address,
           coalesce(u.email, e.user_id::text), e.count
    FROM security_events e LEFT JOIN users u ON u.id = e.user_id
    WHERE e.occurred_at >= :date_from AND e.occurred_at < :date_to
""".format(
    audit_cases=" ".join(f"WHEN '{k}' THEN '{v}'" for k, v in AUDIT_SIGNALS.items()),
    audit_actions=", ".join(f"'{k}'" for k in AUDIT_SIGNALS),
    event_cases=" ".join(f"WHEN '{k}' THEN '{v}'" for k, v in EVENT_SIGNALS.items()),
    reuse=TOKEN_REUSE_REASON,
)


@dataclass(frozen=True)
class SecurityMetrics:
    date_from: datetime
    date_to: datetime
    totals: dict[str, int]
    # One entry per hour of the range, every signal present (zeros included).
    hourly: list[dict[str, Any]]
    top_ips: list[dict[str, Any]]
    top_accounts: list[dict[str, Any]]
    blocked_ips: int


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def security_metrics(
    session: AsyncSession, date_from: datetime | None, date_to: datetime | None
) -> SecurityMetrics:
    """Each signal per hour over ``[date_from, date_to)`` (default: the last 24 hours), with
    the IPs and accounts behind most of them."""
    now = clock.now()
    # By default the 24 whole hours ending with the current one.
    end = clock.as_utc(date_to) if date_to else _hour(now) + timedelta(hours=1)
    start = clock.as_utc(date_from) if date_from else end - timedelta(hours=24)
    if start >= end:
        raise ValidationFailed.for_field("date_from", "Must be before date_to.")
    if end - start > MAX_RANGE:
        raise ValidationFailed.for_field(
            "date_from", f"The range is at most {MAX_RANGE.days} days."
        )
    params = {"date_from": start, "date_to": end}
    by_hour = await session.execute(
        text(
            f"SELECT date_trunc('hour', ts) AS hour, signal, sum(n) AS n "
            f"FROM ({_ALL_SIGNALS}) s GROUP BY 1, 2"
        ),
        params,
    )
    hours: dict[datetime, dict[str, int]] = {}
    totals = dict.fromkeys(SIGNALS, 0)
    for hour, signal, count in by_hour:
        hours.setdefault(clock.as_utc(hour), {})[signal] = count
        totals[signal] += count
    hourly = []
    cursor = _hour(start)
    while cursor < end:
        counts = hours.get(cursor, {})
        hourly.append({"hour": cursor, **{name: counts.get(name, 0) for name in SIGNALS}})
        cursor += timedelta(hours=1)
    top_ips = await session.execute(
        text(
            f"SELECT ip, sum(n) AS n FROM ({_ALL_SIGNALS}) s "
            "WHERE ip IS NOT NULL GROUP BY ip ORDER BY n DESC, ip LIMIT :top"
        ),
        {**params, "top": TOP_LIMIT},
    )
    top_accounts = await session.execute(
        text(
            f"SELECT account, sum(n) AS n FROM ({_ALL_SIGNALS}) s "
            "WHERE account IS NOT NULL GROUP BY account ORDER BY n DESC, account LIMIT :top"
        ),
        {**params, "top": TOP_LIMIT},
    )
    blocked = (
        await session.execute(
            text("SELECT count(*) FROM blocked_ips WHERE expires_at IS NULL OR expires_at > :now"),
            {"now": now},
        )
    ).scalar_one()
    return SecurityMetrics(
        date_from=start,
        date_to=end,
        totals=totals,
        hourly=hourly,
        top_ips=[{"ip": ip, "count": n} for ip, n in top_ips],
        top_accounts=[{"account": account, "count": n} for account, n in top_accounts],
        blocked_ips=blocked,
    )
