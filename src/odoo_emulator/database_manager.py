"""The database manager's form routes ``/web/database/*`` (odoo-protocol.md sections 1.3,
11.1, 11.2): 303 redirects on success, an HTML page with the error otherwise; backups are
streamed from a file, restores spooled to one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from odoo_emulator import dumps
from odoo_emulator.errors import AccessDenied
from odoo_emulator.jsonrpc import werkzeug_error_page, without_nosniff
from odoo_emulator.pages import database_manager_page, html_response, redirect, str2bool
from odoo_emulator.runtime import RequestInfo
from odoo_emulator.services import db as db_service
from odoo_emulator.services import dispatch_rpc
from odoo_emulator.websession import BaseRoutes

logger = logging.getLogger(__name__)

DBNAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
NAMING_ERROR = (
    "Houston, we have a database naming issue! Make sure you only use letters, numbers, "
    "underscores, hyphens, or dots in the database name, and you'll be golden."
)
STREAM_CHUNK = 1024 * 1024


class DatabaseManagerRoutes(BaseRoutes):
    """``/web/database/manager``, ``selector``, ``create``, ``duplicate``, ``drop``,
    ``backup``, ``restore`` and ``change_password``."""

    async def _manager_page(self, error: str | None = None, *, manage: bool = True) -> Response:
        try:
            databases = await db_service.list_dbs(self.emulator)
        except AccessDenied:
            databases = []
        return html_response(database_manager_page(databases, error, manage=manage))

    async def database_manager(self, request: Request) -> Response:
        return await self._manager_page()

    async def database_selector(self, request: Request) -> Response:
        return await self._manager_page(manage=False)

    async def _replace_default_master(self, master_pwd: str | None) -> None:
        """While the master password is still ``admin``, the form routes first make the
        submitted one the master password (section 1.3)."""
        if master_pwd and await self.emulator.master.verify("admin"):
            await dispatch_rpc(
                self.emulator, "db", "change_admin_password", ["admin", master_pwd], RequestInfo()
            )

    async def _form(self, request: Request, *required: str) -> dict[str, Any] | Response:
        form = dict(await request.form())
        if any(name not in form for name in required):
            # A missing form field is a TypeError in Odoo's route wrapper: a 500 page.
            return without_nosniff(
                html_response(
                    werkzeug_error_page(
                        500,
                        "Internal Server Error",
                        "The server encountered an internal error and was unable to complete "
                        "your request. Either the server is overloaded or there is an error in "
                        "the application.",
                    ),
                    500,
                )
            )
        return form

    async def database_create(self, request: Request) -> Response:
        form = await self._form(request, "master_pwd", "name", "lang", "password")
        if isinstance(form, Response):
            return form
        web = self.page_request(request)
        await self._replace_default_master(form["master_pwd"])
        try:
            name = form["name"]
            if not DBNAME_PATTERN.match(name):
                raise Exception(NAMING_ERROR)
            country_code = form.get("country_code") or False
            await dispatch_rpc(
                self.emulator,
                "db",
                "create_database",
                [
                    form["master_pwd"],
                    name,
                    bool(form.get("demo")),
                    form["lang"],
                    form["password"],
                    form["login"],
                    country_code,
                    form["phone"],
                ],
                RequestInfo(),
            )
            await web.authenticate(name, form["login"], form["password"])
            return web.finish(redirect(self.version.web_client_path))
        except Exception as exc:
            logger.info("Database creation error: %s", exc)
            return await self._manager_page(f"Database creation error: {str(exc) or repr(exc)}")

    async def database_duplicate(self, request: Request) -> Response:
        form = await self._form(request, "master_pwd", "name", "new_name")
        if isinstance(form, Response):
            return form
        await self._replace_default_master(form["master_pwd"])
        try:
            if not DBNAME_PATTERN.match(form["new_name"]):
                raise Exception(NAMING_ERROR)
            neutralize = form.get("neutralize_database") or False
            await dispatch_rpc(
                self.emulator,
                "db",
                "duplicate_database",
                [form["master_pwd"], form["name"], form["new_name"], bool(neutralize)],
                RequestInfo(),
            )
            return redirect("/web/database/manager")
        except Exception as exc:
            return await self._manager_page(f"Database duplication error: {str(exc) or repr(exc)}")

    async def database_drop(self, request: Request) -> Response:
        form = await self._form(request, "master_pwd", "name")
        if isinstance(form, Response):
            return form
        web = self.page_request(request)
        await self._replace_default_master(form["master_pwd"])
        try:
            await dispatch_rpc(
                self.emulator, "db", "drop", [form["master_pwd"], form["name"]], RequestInfo()
            )
            if web.session.db == form["name"]:
                web.session.logout()
            return web.finish(redirect("/web/database/manager"))
        except Exception as exc:
            return await self._manager_page(f"Database deletion error: {str(exc) or repr(exc)}")

    async def database_backup(self, request: Request) -> Response:
        form = await self._form(request, "master_pwd", "name")
        if isinstance(form, Response):
            return form
        await self._replace_default_master(form["master_pwd"])
        name, backup_format = form["name"], form.get("backup_format") or "zip"
        tmp_dir = Path(tempfile.mkdtemp(prefix="odoo-emulator-backup-"))
        try:
            await db_service.check_super(self.emulator, form["master_pwd"])
            if self.version.web_backup_checks_name and name not in await db_service.list_dbs(
                self.emulator
            ):
                raise Exception(f"Database {name!r} is not known")
            stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d_%H-%M-%S")
            filename = f"{name}_{stamp}.{backup_format}"
            target = tmp_dir / "backup"
            await dumps.dump_to_file(self.emulator, name, target, backup_format)
        except Exception as exc:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            logger.info("Database.backup: %s", exc)
            return await self._manager_page(f"Database backup error: {str(exc) or repr(exc)}")

        async def stream() -> AsyncIterator[bytes]:
            try:
                with open(target, "rb") as fh:  # noqa: ASYNC230 - chunks read in a thread
                    while chunk := await asyncio.to_thread(fh.read, STREAM_CHUNK):
                        yield chunk
            finally:
                shutil.rmtree(tmp_dir, ignore_errors=True)

        headers = {
            "Content-Disposition": "attachment; filename*=UTF-8''" + quote(filename, safe=""),
            "Content-Length": str(target.stat().st_size),
        }
        return StreamingResponse(
            stream(), media_type="application/octet-stream; charset=binary", headers=headers
        )

    async def database_restore(self, request: Request) -> Response:
        form = await self._form(request, "master_pwd", "backup_file", "name")
        if isinstance(form, Response):
            return form
        await self._replace_default_master(form["master_pwd"])
        fd, tmp_name = tempfile.mkstemp(prefix="odoo-emulator-upload-")
        os.close(fd)
        data_file = Path(tmp_name)
        try:
            await db_service.check_super(self.emulator, form["master_pwd"])
            upload = form["backup_file"]
            if not isinstance(upload, UploadFile):
                raise Exception("backup_file must be a file")
            await asyncio.to_thread(_save_upload, upload, data_file)
            copy = str2bool(form.get("copy", False))
            await db_service.restore_db(
                self.emulator,
                form["name"],
                data_file,
                copy=copy,
                neutralize_database=form.get("neutralize_database") or False,
            )
            return redirect("/web/database/manager")
        except Exception as exc:
            return await self._manager_page(f"Database restore error: {str(exc) or repr(exc)}")
        finally:
            await asyncio.to_thread(data_file.unlink, missing_ok=True)

    async def database_change_password(self, request: Request) -> Response:
        form = await self._form(request, "master_pwd", "master_pwd_new")
        if isinstance(form, Response):
            return form
        try:
            await dispatch_rpc(
                self.emulator,
                "db",
                "change_admin_password",
                [form["master_pwd"], form["master_pwd_new"]],
                RequestInfo(),
            )
            return redirect("/web/database/manager")
        except Exception as exc:
            return await self._manager_page(
                f"Master password update error: {str(exc) or repr(exc)}"
            )


def _save_upload(upload: UploadFile, target: Path) -> None:
    upload.file.seek(0)
    with open(target, "wb") as out:
        shutil.copyfileobj(upload.file, out, STREAM_CHUNK)
