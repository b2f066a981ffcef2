"""Reading an Odoo server log file: Odoo's line format, one database's records, the tail."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from saas_server.monitoring.odoo_log import read_records

LOG = (
    "2026-03-01 10:00:00,001 11 INFO ? odoo.service.server: HTTP service running\n"
    "2026-03-01 10:00:01,002 11 INFO acme odoo.addons.base.models.res_users: Login successful\n"
    "2026-03-01 10:00:02,003 11 ERROR acme odoo.http: Exception during request handling.\n"
    "Traceback (most recent call last):\n"
    "  ValueError: boom\n"
    "2026-03-01 10:00:03,004 12 WARNING acme2 odoo.http: not acme's\n"
    "continuation of acme2's record\n"
    "2026-03-01 10:00:04,005 11 WARNING acme odoo.models: a warning\n"
)


async def test_only_the_databases_records_with_their_continuation_lines(tmp_path: Path) -> None:
    path = tmp_path / "odoo.log"
    path.write_text(LOG)
    records = await read_records(str(path), "acme")
    assert [(r.level, r.logger) for r in records] == [
        ("INFO", "odoo.addons.base.models.res_users"),
        ("ERROR", "odoo.http"),
        ("WARNING", "odoo.models"),
    ]
    assert records[0].at == datetime(2026, 3, 1, 10, 0, 1, 2000, tzinfo=UTC)
    assert records[1].message.endswith("ValueError: boom")
    assert "acme2" not in "".join(r.message for r in records)


async def test_a_tail_starts_at_a_whole_line(tmp_path: Path) -> None:
    path = tmp_path / "odoo.log"
    path.write_text(LOG)
    # The last record and a cut piece of the one before it.
    records = await read_records(str(path), "acme", tail_bytes=80)
    assert [r.message for r in records] == ["a warning"]
