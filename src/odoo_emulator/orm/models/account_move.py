"""account (Invoicing): journal entries and invoices, with their lines.

Amounts are computed from the lines as Odoo computes them (no taxes are emulated, so the
untaxed amount is the total); posting numbers the invoice (``INV/2026/00001``) and leaves
the whole amount due. A payment is registered as on a real server, with the "Register
Payment" wizard (``account.payment.register`` created with the invoices as ``active_ids``,
then ``action_create_payments``); no payment or reconciliation entries are emulated, only
their effect on the invoice (``amount_residual``, ``payment_state``). Writing
``payment_state`` directly changes nothing else, as on a real server.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from odoo_emulator.errors import UserError
from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import INTERNAL, SYSTEM
from odoo_emulator.orm.api import api_records
from odoo_emulator.orm.model import BaseModel

_ACCESS: dict[str, tuple[str, ...]] = {
    "read": (INTERNAL, SYSTEM),
    "write": (INTERNAL, SYSTEM),
    "create": (INTERNAL, SYSTEM),
    "unlink": (INTERNAL, SYSTEM),
}
MOVE_TYPES = (
    ("entry", "Journal Entry"),
    ("out_invoice", "Customer Invoice"),
    ("out_refund", "Customer Credit Note"),
    ("in_invoice", "Vendor Bill"),
    ("in_refund", "Vendor Credit Note"),
    ("out_receipt", "Sales Receipt"),
    ("in_receipt", "Purchase Receipt"),
)
STATES = (("draft", "Draft"), ("posted", "Posted"), ("cancel", "Cancelled"))
PAYMENT_STATES = (
    ("not_paid", "Not Paid"),
    ("in_payment", "In Payment"),
    ("paid", "Paid"),
    ("partial", "Partially Paid"),
    ("reversed", "Reversed"),
    ("invoicing_legacy", "Invoicing App Legacy"),
)
PREFIXES = {"out_invoice": "INV", "out_refund": "RINV", "in_invoice": "BILL", "in_refund": "RBILL"}


class AccountMoveLine(BaseModel):
    _name = "account.move.line"
    _description = "Journal Item"
    _table = "account_move_line"
    _order = "sequence, id"
    _module = "account"
    _access: ClassVar[dict[str, tuple[str, ...]]] = _ACCESS
    _defaults: ClassVar[dict[str, Any]] = {"quantity": 1.0, "price_unit": 0.0, "sequence": 10}
    _field_list = [
        F.many2one("move_id", "Journal Entry", "account.move", required=True),
        F.many2one("currency_id", "Currency", "res.currency"),
        F.char("name", "Label"),
        F.selection(
            "display_type",
            "Display Type",
            (("product", "Product"), ("line_section", "Section"), ("line_note", "Note")),
        ),
        F.float_("quantity", "Quantity"),
        F.float_("price_unit", "Unit Price"),
        F.monetary("price_subtotal", "Subtotal", readonly=True),
        F.monetary("price_total", "Total", readonly=True),
        F.integer("sequence", "Sequence"),
    ]

    async def prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        vals.setdefault("display_type", "product")
        if vals.get("move_id") and not vals.get("currency_id"):
            row = await (
                await self.conn.execute(
                    "SELECT currency_id FROM account_move WHERE id = %s", (vals["move_id"],)
                )
            ).fetchone()
            vals["currency_id"] = row[0] if row else None
        subtotal = float(vals.get("quantity") or 0) * float(vals.get("price_unit") or 0)
        vals["price_subtotal"] = vals["price_total"] = round(subtotal, 2)
        return vals


class AccountMove(BaseModel):
    _name = "account.move"
    _description = "Journal Entry"
    _table = "account_move"
    _order = "date desc, name desc, id desc"
    _module = "account"
    _access: ClassVar[dict[str, tuple[str, ...]]] = _ACCESS
    _defaults: ClassVar[dict[str, Any]] = {
        "move_type": "entry",
        "state": "draft",
        "company_id": 1,
        "payment_state": "not_paid",
        # A draft's number: "/" on 17.0 (but see prepare_create), False from 18.0 (observed).
        "name": lambda env: "/" if env.version.major < 18 else False,
    }
    _field_list = [
        F.char("name", "Number", readonly=True),
        F.char("ref", "Reference"),
        F.selection("move_type", "Type", MOVE_TYPES, required=True),
        F.selection("state", "Status", STATES, required=True, readonly=True),
        F.many2one("partner_id", "Partner", "res.partner"),
        F.many2one("commercial_partner_id", "Commercial Entity", "res.partner", readonly=True),
        F.many2one("company_id", "Company", "res.company"),
        F.many2one("currency_id", "Currency", "res.currency"),
        F.date("date", "Date"),
        F.date("invoice_date", "Invoice/Bill Date"),
        F.date("invoice_date_due", "Due Date"),
        F.char("invoice_origin", "Origin"),
        F.monetary("amount_untaxed", "Untaxed Amount", readonly=True),
        F.monetary("amount_tax", "Tax", readonly=True),
        F.monetary("amount_total", "Total", readonly=True),
        F.monetary("amount_residual", "Amount Due", readonly=True),
        F.selection("payment_state", "Payment Status", PAYMENT_STATES),
        F.one2many("invoice_line_ids", "Invoice lines", "account.move.line", "move_id"),
        F.one2many("line_ids", "Journal Items", "account.move.line", "move_id"),
    ]

    async def prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        today = dt.datetime.now(dt.UTC).date()
        vals.setdefault("date", vals.get("invoice_date") or today)
        prefix = PREFIXES.get(vals.get("move_type") or "")
        if prefix and vals.get("name") == "/":
            # 17.0 numbers a journal's first draft at once (it has no number to follow);
            # later drafts stay "/" until posted (observed on 17.0; 18.0 numbers on posting).
            named = await (
                await self.conn.execute(
                    "SELECT 1 FROM account_move WHERE move_type = %s AND name IS NOT NULL"
                    " AND name <> '/' LIMIT 1",
                    (vals["move_type"],),
                )
            ).fetchone()
            if not named:
                vals["name"] = f"{prefix}/{str(vals['date'])[:4]}/00001"
        if not vals.get("currency_id"):
            row = await (
                await self.conn.execute("SELECT currency_id FROM res_company WHERE id = 1")
            ).fetchone()
            vals["currency_id"] = row[0] if row else None
        if vals.get("partner_id"):
            row = await (
                await self.conn.execute(
                    "SELECT commercial_partner_id FROM res_partner WHERE id = %s",
                    (vals["partner_id"],),
                )
            ).fetchone()
            vals["commercial_partner_id"] = (row[0] if row else None) or vals["partner_id"]
        return vals

    async def after_create(self, record_id: int, vals: dict[str, Any]) -> None:
        await self._compute_amounts([record_id])

    async def before_write(self, vals: dict[str, Any]) -> None:
        cur = await self.conn.execute(
            "SELECT 1 FROM account_move WHERE id = ANY(%s) AND state = 'posted'", (self.ids,)
        )
        touched = set(vals) - {"payment_state", "ref", "invoice_date_due"}
        if touched & {"invoice_line_ids", "line_ids", "partner_id"} and await cur.fetchone():
            raise UserError("You cannot modify a posted entry of this journal.")

    async def after_write(self, vals: dict[str, Any]) -> None:
        if {"invoice_line_ids", "line_ids"} & vals.keys():
            await self._compute_amounts(self.ids)

    async def _compute_amounts(self, ids: list[int]) -> None:
        await self.conn.execute(
            "UPDATE account_move m SET amount_untaxed = s.total, amount_tax = 0,"
            " amount_total = s.total,"
            " amount_residual = CASE WHEN m.state = 'posted' THEN s.total ELSE 0 END"
            " FROM (SELECT m2.id, coalesce(sum(l.price_subtotal), 0) AS total"
            " FROM account_move m2 LEFT JOIN account_move_line l ON l.move_id = m2.id"
            " AND coalesce(l.display_type, 'product') = 'product'"
            " WHERE m2.id = ANY(%s) GROUP BY m2.id) s WHERE s.id = m.id",
            (ids,),
        )

    @api_records
    async def action_post(self) -> bool:
        await self.require_access("write")
        await self.ensure_exist()
        for record_id in self.ids:
            row = await (
                await self.conn.execute(
                    "SELECT state, move_type, name, invoice_date, partner_id FROM account_move"
                    " WHERE id = %s",
                    (record_id,),
                )
            ).fetchone()
            assert row is not None
            state, move_type, name, invoice_date, partner_id = row
            if state == "posted":
                raise UserError("The entry is already posted.")
            if move_type != "entry" and not partner_id:
                raise UserError("The field 'Customer' is required, please complete it.")
            day = invoice_date or dt.datetime.now(dt.UTC).date()
            if not name or name == "/":
                prefix = PREFIXES.get(move_type, "MISC")
                count = await (
                    await self.conn.execute(
                        "SELECT count(*) FROM account_move WHERE move_type = %s AND name LIKE %s",
                        (move_type, f"{prefix}/{day.year}/%"),
                    )
                ).fetchone()
                name = f"{prefix}/{day.year}/{int(count[0] if count else 0) + 1:05d}"
            await self.conn.execute(
                "UPDATE account_move SET state = 'posted', name = %s, invoice_date = %s,"
                " invoice_date_due = coalesce(invoice_date_due, %s),"
                " amount_residual = amount_total, write_date = %s, write_uid = %s"
                " WHERE id = %s",
                (name, day, day, F.now_utc(), self.env.uid, record_id),
            )
        return True

    @api_records
    async def button_draft(self) -> bool:
        await self.require_access("write")
        await self.ensure_exist()
        await self.conn.execute(
            "UPDATE account_move SET state = 'draft', write_date = %s WHERE id = ANY(%s)",
            (F.now_utc(), self.ids),
        )
        return True

    @api_records
    async def button_cancel(self) -> bool:
        await self.require_access("write")
        await self.ensure_exist()
        await self.conn.execute(
            "UPDATE account_move SET state = 'cancel', write_date = %s WHERE id = ANY(%s)",
            (F.now_utc(), self.ids),
        )
        return True


class AccountPaymentRegister(BaseModel):
    """The "Register Payment" wizard. Odoo's button opens it with the invoices in the
    context (``active_model``/``active_ids``); ``action_create_payments`` pays them. Here the
    whole amount due (or ``amount``, for one invoice) is paid at once: community Odoo shows
    such an invoice ``paid`` (``in_payment`` needs the accountant app)."""

    _name = "account.payment.register"
    _description = "Pay"
    _table = "account_payment_register"
    _module = "account"
    _access: ClassVar[dict[str, tuple[str, ...]]] = _ACCESS
    _field_list = [
        F.date("payment_date", "Payment Date"),
        F.monetary("amount", "Amount"),
        F.char("communication", "Memo"),
        # The invoices from the context (real Odoo keeps their receivable lines, line_ids).
        F.char("emulated_move_ids", "Invoices", internal=True),
    ]

    async def prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        context = self.env.context
        if context.get("active_model") != "account.move" or not context.get("active_ids"):
            raise UserError(
                "The register payment wizard should only be called on account.move or"
                " account.move.line records."
            )
        ids = [int(i) for i in context["active_ids"]]
        cur = await self.conn.execute(
            "SELECT id FROM account_move WHERE id = ANY(%s) AND state = 'posted'"
            " AND amount_residual > 0",
            (ids,),
        )
        payable = [row[0] for row in await cur.fetchall()]
        if len(payable) != len(set(ids)):
            raise UserError("You can only register payment for posted journal entries.")
        vals["emulated_move_ids"] = ",".join(str(i) for i in payable)
        vals.setdefault("payment_date", dt.datetime.now(dt.UTC).date())
        return vals

    @api_records
    async def action_create_payments(self) -> bool:
        await self.require_access("write")
        await self.ensure_exist()
        cur = await self.conn.execute(
            "SELECT emulated_move_ids, amount FROM account_payment_register WHERE id = ANY(%s)",
            (self.ids,),
        )
        for move_ids, amount in await cur.fetchall():
            ids = [int(i) for i in move_ids.split(",") if i]
            if amount is not None and len(ids) == 1:
                # A part of one invoice: what is left is still due.
                await self.conn.execute(
                    "UPDATE account_move SET amount_residual = greatest(amount_residual - %s, 0)"
                    " WHERE id = %s",
                    (amount, ids[0]),
                )
            else:
                await self.conn.execute(
                    "UPDATE account_move SET amount_residual = 0 WHERE id = ANY(%s)", (ids,)
                )
            await self.conn.execute(
                "UPDATE account_move SET payment_state = CASE WHEN amount_residual = 0"
                " THEN 'paid' ELSE 'partial' END, write_date = %s, write_uid = %s"
                " WHERE id = ANY(%s)",
                (F.now_utc(), self.env.uid, ids),
            )
        return True
