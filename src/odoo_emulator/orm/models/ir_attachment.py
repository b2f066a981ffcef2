"""ir.attachment: files, kept in the filestore as Odoo keeps them."""

from __future__ import annotations

import asyncio
import base64
import binascii
import mimetypes
from typing import Any, ClassVar

from odoo_emulator import filestore
from odoo_emulator.errors import ValidationError
from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import INTERNAL, SYSTEM
from odoo_emulator.orm.domain import mentions_field
from odoo_emulator.orm.model import BaseModel


class IrAttachment(BaseModel):
    _name = "ir.attachment"
    _description = "Attachment"
    _table = "ir_attachment"
    _order = "id desc"
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": (INTERNAL, SYSTEM),
        "write": (INTERNAL, SYSTEM),
        "create": (INTERNAL, SYSTEM),
        "unlink": (INTERNAL, SYSTEM),
    }
    _defaults: ClassVar[dict[str, Any]] = {"type": "binary", "public": False}
    _private_methods = BaseModel._private_methods | {
        "_file_read",
        "_file_write",
        "_file_delete",
        "_mark_for_gc",
        "_gc_file_store",
        "_filestore",
    }
    _field_list = [
        F.char("name", "Name", required=True),
        F.text("description", "Description"),
        F.char("res_model", "Resource Model", readonly=True),
        F.char("res_field", "Resource Field", readonly=True),
        F.integer("res_id", "Resource ID", readonly=True),
        F.many2one("company_id", "Company", "res.company"),
        F.selection("type", "Type", (("url", "URL"), ("binary", "File")), required=True),
        F.char("url", "Url"),
        F.boolean("public", "Is public document"),
        F.char("access_token", "Access Token"),
        F.binary("datas", "File Content (base64)", store=False),
        F.binary("db_datas", "Database Data", internal=True),
        F.char("store_fname", "Stored Filename"),
        F.integer("file_size", "File Size", readonly=True),
        F.char("checksum", "Checksum/SHA1", readonly=True),
        F.char("mimetype", "Mime Type", readonly=True),
    ]

    def extra_domain(self, domain: list[Any]) -> list[Any]:
        # Attachments of binary fields are hidden unless asked for (ir.attachment._search).
        if mentions_field(domain, "id") or mentions_field(domain, "res_field"):
            return []
        return [("res_field", "=", False)]

    async def compute_datas(self, ids: list[int]) -> dict[int, Any]:
        cur = await self.conn.execute(
            "SELECT id, store_fname, db_datas FROM ir_attachment WHERE id = ANY(%s)", (ids,)
        )
        result: dict[int, Any] = {}
        for record_id, fname, db_datas in await cur.fetchall():
            raw = filestore.read_file(self.env.filestore, fname) if fname else db_datas
            result[record_id] = base64.b64encode(bytes(raw)).decode("ascii") if raw else False
        return result

    async def inverse_datas(self, value: Any) -> None:
        if value in (False, None):
            raw = b""
        else:
            try:
                raw = base64.b64decode(value, validate=False)
            except (binascii.Error, ValueError, TypeError) as exc:
                raise ValidationError(f"Invalid base64 content: {exc}") from None
        for record_id in self.ids:
            fname, checksum = (None, None)
            if raw:
                fname, checksum = await asyncio.to_thread(
                    filestore.write_file, self.env.filestore, raw
                )
            row = await (
                await self.conn.execute(
                    "SELECT name, mimetype, store_fname FROM ir_attachment WHERE id = %s",
                    (record_id,),
                )
            ).fetchone()
            assert row is not None
            name, mimetype, old_fname = row
            if old_fname and old_fname != fname:
                filestore.mark_for_gc(self.env.filestore, old_fname)
            await self.conn.execute(
                "UPDATE ir_attachment SET store_fname = %s, checksum = %s, file_size = %s,"
                " db_datas = NULL, mimetype = %s WHERE id = %s",
                (fname, checksum, len(raw), mimetype or guess_mimetype(name, raw), record_id),
            )

    async def before_unlink(self) -> None:
        cur = await self.conn.execute(
            "SELECT store_fname FROM ir_attachment WHERE id = ANY(%s) AND store_fname IS NOT NULL",
            (self.ids,),
        )
        for (fname,) in await cur.fetchall():
            # The file stays until the garbage collector runs, as in Odoo.
            filestore.mark_for_gc(self.env.filestore, fname)


def guess_mimetype(name: str | None, raw: bytes) -> str:
    guessed, _ = mimetypes.guess_type(name or "")
    if guessed:
        return guessed
    signatures = (
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF8", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
    )
    for signature, mimetype in signatures:
        if raw.startswith(signature):
            return mimetype
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"
