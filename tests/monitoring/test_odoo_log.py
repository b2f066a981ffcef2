"""Reading an Odoo server log file: Odoo's line format, one database's records, the tail."""

from __future__ import annotations

import gzip
import os
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


def _line(second: int, db: str, message: str) -> str:
    return f"2026-03-01 10:00:{second:02d},000 11 INFO {db} odoo.http: {message}\n"


def _age(path: Path, seconds_ago: int) -> None:
    moment = datetime.now(UTC).timestamp() - seconds_ago
    os.utime(path, (moment, moment))


async def test_rotated_files_are_read_newest_first_plain_and_gzipped(tmp_path: Path) -> None:
    # logrotate with delaycompress: odoo.log.1 plain, older ones gzip'd.
    path = tmp_path / "odoo.log"
    path.write_text(_line(5, "acme", "current") + _line(6, "other", "not acme's"))
    (tmp_path / "odoo.log.1").write_text(
        _line(3, "acme", "rotated once") + _line(4, "acme", "with a traceback")
        # A record cut by the rotation: its traceback goes on in the newer file.
    )
    with gzip.open(tmp_path / "odoo.log.2.gz", "wt") as fh:
        fh.write(_line(1, "acme", "rotated twice") + _line(2, "acme", "compressed"))
    (tmp_path / "odoo.log.unrelated").mkdir()  # a directory of that name is no log
    (tmp_path / "other.log.1").write_text(_line(0, "acme", "another log's rotation"))
    _age(tmp_path / "odoo.log.1", 60)
    _age(tmp_path / "odoo.log.2.gz", 120)
    records = await read_records(str(path), "acme")
    assert [r.message for r in records] == [
        "rotated twice",
        "compressed",
        "rotated once",
        "with a traceback",
        "current",
    ]
    assert [r.at.second for r in records] == [1, 2, 3, 4, 5]


async def test_odoos_own_dated_rotation_and_the_budget_across_files(tmp_path: Path) -> None:
    # Odoo's --logrotate names the old file after its day; the newest rotation comes first
    # by modification time, whatever the names sort to.
    path = tmp_path / "odoo.log"
    path.write_text(_line(9, "acme", "today"))
    (tmp_path / "odoo.log.2026-02-28").write_text(_line(8, "acme", "yesterday"))
    (tmp_path / "odoo.log.2026-02-27").write_text(
        "".join(_line(s, "acme", f"older {s}") for s in range(0, 8))
    )
    _age(tmp_path / "odoo.log.2026-02-28", 86400)
    _age(tmp_path / "odoo.log.2026-02-27", 2 * 86400)
    everything = await read_records(str(path), "acme")
    assert [r.message for r in everything][-3:] == ["older 7", "yesterday", "today"]
    assert len(everything) == 10
    # A budget of the two newest files plus part of the third: that one's first (cut)
    # line is left out, and nothing older is read.
    newest = len(_line(9, "acme", "today")) + len(_line(8, "acme", "yesterday"))
    budget = newest + 2 * len(_line(7, "acme", "older 7")) - 5
    bounded = await read_records(str(path), "acme", tail_bytes=budget)
    assert [r.message for r in bounded] == ["older 7", "yesterday", "today"]


async def test_a_rotated_file_that_cannot_be_read_ends_the_reading(tmp_path: Path) -> None:
    path = tmp_path / "odoo.log"
    path.write_text(_line(5, "acme", "current"))
    (tmp_path / "odoo.log.1.gz").write_bytes(b"not gzip at all")
    (tmp_path / "odoo.log.2").write_text(_line(1, "acme", "behind the broken one"))
    _age(tmp_path / "odoo.log.1.gz", 60)
    _age(tmp_path / "odoo.log.2", 120)
    records = await read_records(str(path), "acme")
    assert [r.message for r in records] == ["current"]
