"""The ``db`` service (odoo-protocol.md sections 2, 3, 4, 5 and 11).

``db_exist``, ``list``, ``list_lang`` and ``server_version`` are public; every other method
takes the master password first, checked before the method runs (AccessDenied, fault 3), and
database management also answers AccessDenied when ``list_db`` is off.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from odoo_emulator import addons, dumps, filestore, passwords, schema
from odoo_emulator.errors import AccessDenied, DatabaseExists
from odoo_emulator.runtime import Emulator, RequestInfo

# Named as Odoo's module: its lines go to the Odoo-format server log (logs.configure_odoo_log).
logger = logging.getLogger("odoo.service.db")

PUBLIC_METHODS = ("db_exist", "list", "list_lang", "server_version")


async def check_super(emulator: Emulator, password: Any) -> None:
    if not password or not await emulator.master.verify(str(password)):
        raise AccessDenied()


def _check_management_enabled(emulator: Emulator) -> None:
    if not emulator.config.list_db:
        raise AccessDenied()


# -- public ---------------------------------------------------------------------------------------


async def exp_db_exist(emulator: Emulator, db_name: str) -> bool:
    """Not "exists" but "can I connect" (a closed database answers False)."""
    registry = emulator.regs.peek(db_name)
    try:
        if registry is not None:
            # Through the pool, as Odoo's db_connect: pooled connections count.

            async def ping(conn: psycopg.AsyncConnection[Any]) -> None:
                await conn.execute("SELECT 1")

            await registry.run(ping)
        else:
            conn = await psycopg.AsyncConnection.connect(emulator.pg.conninfo(db_name))
            await conn.close()
    except Exception:
        return False
    return True


async def list_dbs(emulator: Emulator, force: bool = False) -> list[str]:
    if not emulator.config.list_db and not force:
        raise AccessDenied()
    try:
        return await emulator.pg.list_databases()
    except psycopg.Error:
        logger.exception("Listing databases failed:")
        return []


async def exp_list(emulator: Emulator, document: bool = False) -> list[str]:
    return await list_dbs(emulator)


async def exp_list_lang(emulator: Emulator) -> list[list[str]]:
    return [[lang.code, lang.name] for lang in sorted(schema.LANGUAGES, key=lambda x: x.name)]


async def exp_server_version(emulator: Emulator) -> str:
    return emulator.version.server_version


# -- master password ------------------------------------------------------------------------------


async def exp_create_database(
    emulator: Emulator,
    db_name: str,
    demo: bool,
    lang: str,
    user_password: str = "admin",  # noqa: S107 - Odoo's signature
    login: str = "admin",
    country_code: str | None = None,
    phone: str | None = None,
) -> bool:
    _check_management_enabled(emulator)
    logger.info("Create database `%s`.", db_name)
    if await emulator.pg.exists(db_name):
        raise DatabaseExists(f"database {db_name!r} already exists!")
    await emulator.pg.create_database(db_name)
    try:
        await _initialize_db(emulator, db_name, lang, user_password, login, phone)
    except Exception:
        # Odoo logs the failure and still answers True (section 3, "silent failure").
        logger.exception("CREATE DATABASE failed:")
    return True


async def _initialize_db(
    emulator: Emulator,
    db_name: str,
    lang: str,
    user_password: str,
    login: str,
    phone: str | None,
) -> None:
    password_hash = await asyncio.to_thread(passwords.hash_password, str(user_password))
    spec = schema.BaseDataSpec(
        version=emulator.version,
        login=login or "admin",
        password_hash=password_hash,
        lang=lang or "en_US",
        http_port=emulator.config.port,
        filestore=emulator.config.filestore(db_name),
        phone=phone or None,
        email=login if login and "@" in login else None,
    )
    registry = emulator.regs.get(db_name)

    async def create(conn: psycopg.AsyncConnection[Any]) -> frozenset[str]:
        for statement in (
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            "GRANT CREATE ON SCHEMA public TO PUBLIC",
        ):
            try:
                async with conn.transaction():
                    await conn.execute(statement)
            except psycopg.Error as exc:  # Odoo only warns
                logger.warning("%s failed on %s: %s", statement, db_name, exc)
        await schema.initialize(conn, spec)
        await addons.list_modules(conn, spec.version.serie)
        return await addons.installed_modules(conn)

    registry.installed = await registry.run(create)
    registry.loaded = True


async def exp_duplicate_database(
    emulator: Emulator,
    db_original_name: str,
    db_name: str,
    neutralize_database: bool = False,
) -> bool:
    _check_management_enabled(emulator)
    logger.info("Duplicate database `%s` to `%s`.", db_original_name, db_name)
    # Close our pooled connections and every other session on the source: CREATE DATABASE
    # ... TEMPLATE fails while anyone is connected to it (section 11.2).
    await emulator.regs.close_db(db_original_name)
    await emulator.pg.terminate_backends(db_original_name)
    await emulator.pg.create_database(db_name, template=db_original_name)
    registry = await emulator.registry(db_name)

    async def reinit(conn: psycopg.AsyncConnection[Any]) -> None:
        await schema.regenerate_parameters(conn, emulator.config.port)
        if neutralize_database:
            await schema.neutralize(conn)

    await registry.run(reinit)
    await asyncio.to_thread(
        filestore.copy_filestore,
        emulator.config.filestore(db_original_name),
        emulator.config.filestore(db_name),
    )
    return True


async def exp_drop(emulator: Emulator, db_name: str) -> bool:
    _check_management_enabled(emulator)
    if db_name not in await list_dbs(emulator, force=True):
        return False
    await emulator.regs.delete(db_name)
    await emulator.pg.terminate_backends(db_name)
    try:
        await emulator.pg.drop_database(db_name)
    except psycopg.Error as exc:
        logger.info("DROP DB: %s failed:\n%s", db_name, exc)
        raise Exception(f"Couldn't drop database {db_name}: {exc}") from exc
    logger.info("DROP DB: %s", db_name)
    await asyncio.to_thread(filestore.remove_filestore, emulator.config.filestore(db_name))
    return True


async def exp_dump(emulator: Emulator, db_name: str, format: str) -> str:
    _check_management_enabled(emulator)
    with tempfile.TemporaryDirectory(prefix="odoo-emulator-") as tmp:
        target = Path(tmp) / "dump"
        await dumps.dump_to_file(emulator, db_name, target, format)
        return await asyncio.to_thread(lambda: base64.b64encode(target.read_bytes()).decode())


async def exp_restore(emulator: Emulator, db_name: str, data: str, copy: bool = False) -> bool:
    _check_management_enabled(emulator)
    fd, name = tempfile.mkstemp(prefix="odoo-emulator-restore-")
    os.close(fd)
    path = Path(name)
    try:
        await asyncio.to_thread(path.write_bytes, base64.b64decode(data))
        await restore_db(emulator, db_name, path, copy=copy)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    return True


async def restore_db(
    emulator: Emulator,
    db_name: str,
    dump_file: Path,
    *,
    copy: bool = False,
    neutralize_database: Any = False,
) -> None:
    _check_management_enabled(emulator)
    if await exp_db_exist(emulator, db_name):
        logger.warning("RESTORE DB: %s already exists", db_name)
        raise Exception("Database already exists")
    logger.info("RESTORING DB: %s", db_name)
    if await emulator.pg.exists(db_name):
        raise DatabaseExists(f"database {db_name!r} already exists!")
    await emulator.pg.create_database(db_name)
    extracted = await dumps.restore_file(emulator, db_name, dump_file)
    try:
        registry = await emulator.registry(db_name)

        async def reinit(conn: psycopg.AsyncConnection[Any]) -> None:
            if copy:
                # A copy gets a new identity: uuid, secret, create date, base URL (11.2).
                await schema.regenerate_parameters(conn, emulator.config.port)
            if neutralize_database:
                await schema.neutralize(conn)

        await registry.run(reinit)
        if extracted is not None:
            await asyncio.to_thread(
                dumps.install_filestore, extracted, emulator.config.filestore(db_name)
            )
    finally:
        if extracted is not None and extracted.parent.exists():
            shutil.rmtree(extracted.parent, ignore_errors=True)
    logger.info("RESTORE DB: %s", db_name)


async def exp_rename(emulator: Emulator, old_name: str, new_name: str) -> bool:
    _check_management_enabled(emulator)
    await emulator.regs.delete(old_name)
    await emulator.pg.terminate_backends(old_name)
    try:
        await emulator.pg.rename_database(old_name, new_name)
    except psycopg.Error as exc:
        raise Exception(f"Couldn't rename database {old_name} to {new_name}: {exc}") from exc
    old_fs, new_fs = emulator.config.filestore(old_name), emulator.config.filestore(new_name)
    if old_fs.exists() and not new_fs.exists():
        await asyncio.to_thread(shutil.move, str(old_fs), str(new_fs))
    return True


async def exp_change_admin_password(emulator: Emulator, new_password: str) -> bool:
    _check_management_enabled(emulator)
    await emulator.master.set(str(new_password))
    return True


async def exp_migrate_databases(emulator: Emulator, databases: list[str]) -> bool:
    _check_management_enabled(emulator)
    for db_name in databases:
        await emulator.registry(db_name)
    return True


async def exp_list_countries(emulator: Emulator) -> list[list[str]]:
    return [[code, name] for code, name in sorted(schema.COUNTRIES, key=lambda c: c[1])]


METHODS: dict[str, Callable[..., Awaitable[Any]]] = {
    "db_exist": exp_db_exist,
    "list": exp_list,
    "list_lang": exp_list_lang,
    "server_version": exp_server_version,
    "create_database": exp_create_database,
    "duplicate_database": exp_duplicate_database,
    "drop": exp_drop,
    "dump": exp_dump,
    "restore": exp_restore,
    "rename": exp_rename,
    "change_admin_password": exp_change_admin_password,
    "migrate_databases": exp_migrate_databases,
    "list_countries": exp_list_countries,
}


async def dispatch(emulator: Emulator, method: str, params: list[Any], request: RequestInfo) -> Any:
    function = METHODS.get(method)
    if function is None:
        raise KeyError(f"Method not found: {method}")
    if method in PUBLIC_METHODS:
        bound: Any = partial(function, emulator)
        return await bound(*params)
    password, rest = params[0], params[1:]
    await check_super(emulator, password)
    bound = partial(function, emulator)
    return await bound(*rest)
