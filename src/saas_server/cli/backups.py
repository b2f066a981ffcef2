"""``saas backups ...``: list, take, verify and restore backups from the command line.

The long work runs right here (not through the job queue), with a progress bar.

The platform's modules are imported inside each command, not here: `saas --help` and
`saas version` start without loading the API, its routers and every domain behind them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from saas_server.cli.common import (
    console,
    err_console,
    fail,
    load_settings,
    read_secret_from_stdin,
    run,
)
from saas_server.cli.output import (
    JsonOption,
    YesOption,
    confirm_or_refuse,
    print_json,
    print_rows,
)

backups_app = typer.Typer(help="Back up and restore tenants.", no_args_is_help=True)


def _progress(as_json: bool = False) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        # With --json, standard output carries the JSON alone.
        console=err_console if as_json else console,
        transient=as_json,
    )


async def _tenant(session: Any, ref: str) -> Any:
    from sqlalchemy import func, select

    from saas_server.tenants.models import Tenant

    try:
        found = await session.get(Tenant, uuid.UUID(ref))
    except ValueError:
        found = (
            await session.execute(select(Tenant).where(func.lower(Tenant.subdomain) == ref.lower()))
        ).scalar_one_or_none()
    if found is None:
        fail(f"No tenant {ref!r} (give its id or subdomain).")
    return found


def _with_runtime(work: Callable[[Any], Awaitable[None]]) -> None:
    from saas_server.wiring import open_runtime

    settings = load_settings()

    async def _run() -> None:
        async with open_runtime(settings, migrate=True) as runtime:
            await work(runtime)

    run(_run())


@backups_app.command("list")
def list_backups(
    tenant: Annotated[str, typer.Option(help="Tenant id or subdomain.")],
    as_json: JsonOption = False,
) -> None:
    """The tenant's backups, newest first."""
    from sqlalchemy import select

    from saas_server.backups.models import Backup
    from saas_server.backups.router import backup_read

    async def work(runtime: Any) -> None:
        async with runtime.db.sessionmaker() as session:
            found = await _tenant(session, tenant)
            rows = (
                await session.execute(
                    select(Backup)
                    .where(Backup.tenant_id == found.id)
                    .order_by(Backup.created_at.desc())
                )
            ).scalars()
            backups = [backup_read(b) for b in rows]
        if as_json:
            print_json(backups)
            return
        print_rows(
            ("id", "type", "status", "size", "created", "expires"),
            (
                (
                    str(b.id),
                    b.type,
                    b.status,
                    f"{b.size_bytes:,}" if b.size_bytes is not None else "-",
                    b.created_at.strftime("%Y-%m-%d %H:%M"),
                    b.expires_at.strftime("%Y-%m-%d") if b.expires_at else "-",
                )
                for b in backups
            ),
        )

    _with_runtime(work)


@backups_app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="Tenant id or subdomain.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the backup).")] = "CLI backup",
    as_json: JsonOption = False,
) -> None:
    """Take a manual backup of the tenant now.

    Through the backups service, as an operator's backup in the API: the same state check,
    and the same audit entry (no account as its actor, the client ``saas-cli``)."""
    from saas_server.backups import flows
    from saas_server.backups.models import BackupStatus
    from saas_server.backups.router import backup_read
    from saas_server.backups.service import BackupService
    from saas_server.core.client import CLI_CLIENT

    async def work(runtime: Any) -> None:
        async with runtime.db.transaction() as session:
            found = await _tenant(session, tenant)
            backup = await BackupService(session, runtime, CLI_CLIENT).create_for_operator(
                found, reason=reason
            )
        with _progress(as_json) as progress:
            task = progress.add_task(f"Backing up {found.subdomain}", total=100)

            async def on_progress(percent: int) -> None:
                progress.update(task, completed=percent)

            done = await flows.run_backup(runtime, backup.id, on_progress=on_progress)
        if done.status != BackupStatus.COMPLETED.value:
            fail(f"Backup failed: {(done.error or {}).get('message')}")
        if as_json:
            print_json(backup_read(done))
            return
        console.print(
            f"Backup {done.id}: {done.size_bytes:,} bytes, sha256 {done.sha256}",
            highlight=False,
            soft_wrap=True,
        )

    _with_runtime(work)


@backups_app.command("verify")
def verify(
    backup_id: Annotated[str, typer.Argument(help="The backup's id.")],
    as_json: JsonOption = False,
) -> None:
    """Download the archive and check its checksum, zip structure and manifest."""
    from saas_server.backups import restore as restore_flow
    from saas_server.backups.models import Backup
    from saas_server.backups.router import backup_read

    async def work(runtime: Any) -> None:
        async with runtime.db.sessionmaker() as session:
            backup = await session.get(Backup, _uuid(backup_id))
        if backup is None or backup.status != "completed":
            fail("No completed backup with this id.")
        with _progress(as_json) as progress:
            task = progress.add_task("Verifying", total=None)
            try:
                facts = await restore_flow.verify_backup(
                    runtime, backup, runtime.settings.data_dir / "tmp"
                )
            except Exception as exc:
                fail(f"The backup is not sound: {getattr(exc, 'message', exc)}")
            progress.update(task, total=1, completed=1)
        if as_json:
            print_json({"sound": True, "facts": facts, "backup": backup_read(backup)})
            return
        console.print(
            f"Backup {backup.id} is sound: Odoo {facts['odoo_version']}, "
            f"{facts['filestore_files']} filestore files, sha256 {backup.sha256}.",
            highlight=False,
            soft_wrap=True,
        )

    _with_runtime(work)


@backups_app.command("restore")
def restore(
    backup_id: Annotated[str, typer.Argument(help="The backup's id.")],
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Restore a backup over its tenant (a pre_restore backup is taken first).

    The tenant's live database is replaced: asks first, unless --yes. Through the backups
    service, as a restore in the API: the same version check, transition and audit entry
    (no account as its actor, the client ``saas-cli``)."""
    from saas_server.backups import restore as restore_flow
    from saas_server.backups.models import Backup, RestoreStatus
    from saas_server.backups.router import restore_read
    from saas_server.backups.service import BackupService
    from saas_server.core.client import CLI_CLIENT
    from saas_server.tenants.models import Tenant

    async def completed_backup(session: Any) -> Any:
        backup = await session.get(Backup, _uuid(backup_id))
        if backup is None or backup.status != "completed" or backup.instance_id is None:
            fail("No completed backup with this id.")
        return backup

    async def work(runtime: Any) -> None:
        async with runtime.db.sessionmaker() as session:
            backup = await completed_backup(session)
            target = await session.get(Tenant, backup.tenant_id)
            subdomain = target.subdomain if target is not None else str(backup.tenant_id)
        confirm_or_refuse(
            f"Replace the live data of tenant {subdomain} with backup {backup.id} "
            f"of {backup.created_at:%Y-%m-%d %H:%M} UTC? (a pre_restore backup is taken first)",
            yes=yes,
        )
        async with runtime.db.transaction() as session:
            backup = await completed_backup(session)
            row = await BackupService(session, runtime, CLI_CLIENT).restore_for_operator(backup)
        with _progress(as_json) as progress:
            task = progress.add_task("Restoring", total=100)

            async def on_progress(percent: int) -> None:
                progress.update(task, completed=percent)

            done = await restore_flow.run_restore(runtime, row.id, on_progress=on_progress)
        if done.status != RestoreStatus.COMPLETED.value:
            fail(f"Restore {done.status}: {(done.error or {}).get('message')}")
        if as_json:
            print_json(restore_read(done))
            return
        console.print(f"Restored backup {backup_id}.", highlight=False)

    _with_runtime(work)


@backups_app.command("import")
def import_archive(
    archive: Annotated[Path, typer.Argument(help="An Odoo backup zip.", exists=True)],
    tenant: Annotated[str, typer.Option(help="Tenant id or subdomain.")],
    admin_login: Annotated[str, typer.Option(help="The archived database's admin login.")],
    admin_password_stdin: Annotated[
        bool, typer.Option("--admin-password-stdin", help="Read the admin password from stdin.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add an archive made by Odoo's own backup as a manual backup of the tenant."""
    from saas_server.backups.imports import import_archive as do_import
    from saas_server.backups.router import backup_read

    password = (
        read_secret_from_stdin("admin password")
        if admin_password_stdin
        else typer.prompt("Admin password of the archived database", hide_input=True)
    )

    async def work(runtime: Any) -> None:
        async with runtime.db.sessionmaker() as session:
            found = await _tenant(session, tenant)
        backup = await do_import(runtime, found.id, archive, admin_login, password)
        if as_json:
            print_json(backup_read(backup))
            return
        console.print(
            f"Imported as backup {backup.id} ({backup.size_bytes:,} bytes).", highlight=False
        )

    _with_runtime(work)


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"{value!r} is not a backup id.")
        raise
