"""Archives from outside are bounded before anything in them is trusted (issue 22 item 3)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import tracemalloc
import zipfile
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from saas_server.backups.archive import ArchiveInvalid, ArchiveLimits, inspect_archive
from saas_server.backups.models import Backup
from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings
from tests.fixtures.auth import platform_admin, verified_user
from tests.fixtures.backups import ready_tenant
from tests.fixtures.cli import cli
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host
from tests.fixtures.smtp import Inbox

MANIFEST = {"odoo_dump": "1", "db_name": "probe", "version": "18.0", "major_version": "18.0"}
MiB = 1024 * 1024


def limits() -> ArchiveLimits:
    return ArchiveLimits.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


def write_archive(
    path: Path, *, dump_zeros: int = 0, manifest_padding: int = 0, files: int = 0
) -> Path:
    """An Odoo-shaped zip; ``dump_zeros`` bytes of zeros in dump.sql make it a bomb."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("dump.sql", "w", force_zip64=True) as dump:
            dump.write(b"-- PostgreSQL database dump\n")
            block = b"\0" * MiB
            for _ in range(dump_zeros // MiB):
                dump.write(block)
        for index in range(files):
            archive.writestr(f"filestore/{index:02x}/{index:040x}", b"x")
        if manifest_padding:
            with archive.open("manifest.json", "w", force_zip64=True) as manifest:
                manifest.write(b'{"version": "18.0", "pad": "')
                block = b" " * MiB
                for _ in range(manifest_padding // MiB):
                    manifest.write(block)
                manifest.write(b'"}')
        else:
            archive.writestr("manifest.json", json.dumps(MANIFEST))
    return path


def bomb(path: Path) -> Path:
    """256 MiB of zeros in about 250 KiB: the 2 MB -> 2 GiB import of the issue, smaller."""
    return write_archive(path, dump_zeros=256 * MiB)


def giant_manifest(path: Path) -> Path:
    """A manifest.json of 64 MiB in a zip of well under 1 MiB."""
    return write_archive(path, manifest_padding=64 * MiB)


def test_a_sound_archive_passes(tmp_path: Path) -> None:
    info = inspect_archive(write_archive(tmp_path / "ok.zip", files=3), limits())
    assert info.major_version == "18.0"
    assert info.filestore_files == 3


def test_a_small_zip_expanding_to_a_huge_size_is_refused_by_its_ratio(tmp_path: Path) -> None:
    path = bomb(tmp_path / "bomb.zip")
    assert path.stat().st_size < 2 * MiB
    with pytest.raises(ArchiveInvalid) as refused:
        inspect_archive(path, limits())
    assert refused.value.code == "BACKUP_INVALID"
    assert refused.value.details["reason"] == "compression_ratio"
    assert refused.value.details["member"] == "dump.sql"


def test_the_expanded_total_is_bounded_by_settings(tmp_path: Path) -> None:
    path = write_archive(tmp_path / "big.zip", dump_zeros=8 * MiB)
    small = replace(limits(), max_expanded_bytes=4 * MiB, max_ratio=10**6)
    with pytest.raises(ArchiveInvalid) as refused:
        inspect_archive(path, small)
    assert refused.value.details["reason"] == "expanded_size"
    assert "more than the 4,194,304 allowed" in refused.value.message


def test_entries_and_archive_size_are_bounded_by_settings(tmp_path: Path) -> None:
    path = write_archive(tmp_path / "many.zip", files=50)
    with pytest.raises(ArchiveInvalid) as refused:
        inspect_archive(path, replace(limits(), max_entries=20))
    assert refused.value.details["reason"] == "entries"
    with pytest.raises(ArchiveInvalid) as refused:
        inspect_archive(path, replace(limits(), max_bytes=100))
    assert refused.value.details["reason"] == "archive_size"


def test_a_giant_manifest_is_refused_without_reading_it_into_memory(tmp_path: Path) -> None:
    path = giant_manifest(tmp_path / "manifest.zip")
    assert path.stat().st_size < MiB
    with pytest.raises(ArchiveInvalid):  # with the defaults, its ratio alone refuses it
        inspect_archive(path, limits())
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveInvalid) as refused:
            inspect_archive(path, replace(limits(), max_ratio=10**6))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.details["reason"] == "manifest_size"
    assert "more than the 1,048,576 allowed" in refused.value.message
    assert peak < 8 * MiB, f"peak {peak:,} bytes while refusing a 64 MiB manifest"


def test_a_member_that_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    path = write_archive(tmp_path / "liar.zip", dump_zeros=2 * MiB)
    data = bytearray(path.read_bytes())
    # dump.sql declares 2 MiB + 28; claim a few bytes fewer in both headers.
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("dump.sql")
    real = info.file_size.to_bytes(8, "little")
    fewer = (info.file_size - 5).to_bytes(8, "little")
    assert data.count(real) >= 1
    path.write_bytes(bytes(data).replace(real, fewer))
    with pytest.raises(ArchiveInvalid):
        inspect_archive(path, limits())


def test_memory_stays_flat_while_a_large_sound_member_is_checked(tmp_path: Path) -> None:
    path = write_archive(tmp_path / "flat.zip", dump_zeros=64 * MiB)
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveInvalid):  # refused by its ratio, but only after...
            inspect_archive(path, limits())
        checked = inspect_archive(path, replace(limits(), max_ratio=10**6))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert checked.major_version == "18.0"
    assert peak < 8 * MiB, f"peak {peak:,} bytes checking a 64 MiB member"


# -- through the command line, on the emulator ----------------------------------------------


@pytest.mark.slow
async def test_cli_import_and_restore_refuse_bombs_with_a_clear_error(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    odoo: EmulatorProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    await add_host(client, admin, odoo)
    tenant = await ready_tenant(client, runtime, owner, odoo)
    monkeypatch.chdir(tmp_path)

    for archive, reason in (
        (bomb(tmp_path / "bomb.zip"), "ratio of 200"),
        (giant_manifest(tmp_path / "manifest.zip"), "ratio of 200"),
    ):
        code, out = await asyncio.to_thread(
            cli,
            runtime,
            ["backups", "import", str(archive), "--tenant", tenant.database,
             "--admin-login", tenant.login, "--admin-password-stdin"],
            tenant.password + "\n",
        )  # fmt: skip
        assert code == 1, out
        assert "Error:" in out and reason in " ".join(out.split()), out
    async with runtime.db.sessionmaker() as session:
        assert (await session.execute(select(Backup))).first() is None
    storage = runtime.settings.data_dir / "backups"
    assert not list(storage.rglob("*.zip"))

    # An archive already in storage (imported before the limits, say) is checked the same
    # way before a restore touches anything.
    tenant.call("res.partner", "create", {"name": "Probe Kept"})
    create = ["backups", "create", "--tenant", tenant.database]
    code, out = await asyncio.to_thread(cli, runtime, create)
    assert code == 0, out
    async with runtime.db.transaction() as session:
        backup = (await session.execute(select(Backup))).scalar_one()
        stored = storage / backup.storage_key
        hostile = bomb(tmp_path / "stored-bomb.zip").read_bytes()
        stored.write_bytes(hostile)
        backup.size_bytes = len(hostile)
        backup.sha256 = hashlib.sha256(hostile).hexdigest()
        backup_id = str(backup.id)
    code, out = await asyncio.to_thread(cli, runtime, ["backups", "restore", backup_id, "--yes"])
    assert code == 1, out
    assert "ratio of 200" in " ".join(out.split()), out
    assert tenant.partner_names() == {"Probe Kept"}
