"""Invoices (``/api/v1/billing/invoices``), their PDFs, a tenant's billing details, and the
admins' invoice list and actions (mark paid, void, refund with a credit note)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Query, Request, Response
from sqlalchemy import Select, select

from saas_server.auth.dependencies import CurrentPrincipal, PlatformAdmin
from saas_server.billing import invoices
from saas_server.billing.invoices import InvoiceNotFound, billing_account, tax_rate
from saas_server.billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    PaymentMethod,
)
from saas_server.billing.payment_methods import (
    PaymentMethodNotFound,
    add_payment_method,
    remove_payment_method,
)
from saas_server.billing.pdf import invoice_pdf
from saas_server.billing.router import BillingServiceDep
from saas_server.billing.schemas import (
    BillingAccountRead,
    BillingAccountUpdate,
    InvoiceAction,
    InvoiceLineRead,
    InvoiceRead,
    PaymentMethodCreate,
    PaymentMethodRead,
)
from saas_server.billing.service import BillingService
from saas_server.core import clock
from saas_server.core.errors import NotFound
from saas_server.core.ids import parse_id
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.tenants.dependencies import TenantAccessDep
from saas_server.tenants.models import Membership
from saas_server.users import service as users

router = PrefixedRouter(prefix="/api/v1", tags=["billing"])

INVOICE_LIST = ListSpec(
    ordering_fields={
        "created_at": Invoice.created_at,
        "due_at": Invoice.due_at,
        "total_cents": Invoice.total_cents,
        "number": Invoice.number,
        "status": Invoice.status,
    },
    search_fields=(Invoice.number, Invoice.reason),
    tiebreaker=Invoice.id,
)

PAYMENT_METHOD_LIST = ListSpec(
    ordering_fields={"created_at": PaymentMethod.created_at},
    tiebreaker=PaymentMethod.id,
)


def invoice_read(invoice: Invoice, lines: list[InvoiceLine] | None = None) -> InvoiceRead:
    due = invoice.total_cents - invoice.amount_paid_cents
    if invoice.status == InvoiceStatus.PAID.value:
        payment_status = "paid"
    elif invoice.status == InvoiceStatus.VOID.value:
        payment_status = "void"
    elif invoice.attempt_count and invoice.next_attempt_at is not None:
        payment_status = "retrying"
    else:
        payment_status = "unpaid" if invoice.status != InvoiceStatus.DRAFT.value else "draft"
    return InvoiceRead(
        id=invoice.id,
        tenant_id=invoice.tenant_id,
        subscription_id=invoice.subscription_id,
        kind=invoice.kind,
        credits_invoice_id=invoice.credits_invoice_id,
        number=invoice.number,
        status=invoice.status,
        reason=invoice.reason,
        currency=invoice.currency,
        subtotal_cents=invoice.subtotal_cents,
        tax_rate_basis_points=invoice.tax_rate_basis_points,
        tax_cents=invoice.tax_cents,
        total_cents=invoice.total_cents,
        amount_paid_cents=invoice.amount_paid_cents,
        amount_due_cents=due,
        payment_status=payment_status,
        seller=invoice.seller,
        buyer=invoice.buyer,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        due_at=invoice.due_at,
        finalized_at=invoice.finalized_at,
        paid_at=invoice.paid_at,
        voided_at=invoice.voided_at,
        pdf_url=f"/api/v1/billing/invoices/{invoice.id}/pdf",
        lines=[InvoiceLineRead.model_validate(line) for line in lines or []],
        created_at=invoice.created_at,
    )


def _filtered(
    stmt: Select[Any],
    *,
    status_: InvoiceStatus | None,
    tenant_id: uuid.UUID | None,
    kind: InvoiceKind | None,
    date_from: datetime | None,
    date_to: datetime | None,
) -> Select[Any]:
    stmt = apply_filters(
        stmt,
        {
            Invoice.status: status_.value if status_ else None,
            Invoice.tenant_id: tenant_id,
            Invoice.kind: kind.value if kind else None,
        },
    )
    if date_from is not None:
        stmt = stmt.where(Invoice.created_at >= clock.as_utc(date_from))
    if date_to is not None:
        end = clock.as_utc(date_to)
        if (end.hour, end.minute, end.second, end.microsecond) == (0, 0, 0, 0):
            end += timedelta(days=1) - timedelta(microseconds=1)  # a bare date: the whole day
        stmt = stmt.where(Invoice.created_at <= end)
    return stmt


async def _lines(service: BillingService, invoice: Invoice) -> list[InvoiceLine]:
    result = await service.session.execute(
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id == invoice.id)
        .order_by(InvoiceLine.position)
    )
    return list(result.scalars())


async def _visible_invoice(service: BillingService, principal: Any, invoice_id: str) -> Invoice:
    """An invoice of a tenant the caller belongs to (drafts stay internal); else 404."""
    actor = await users.get_user(service.session, principal.user.id)
    invoice = await service.session.get(Invoice, parse_id(invoice_id, InvoiceNotFound))
    if invoice is None or (
        not actor.is_platform_admin
        and (
            invoice.status == InvoiceStatus.DRAFT.value
            or (
                await service.session.execute(
                    select(Membership.id).where(
                        Membership.tenant_id == invoice.tenant_id, Membership.user_id == actor.id
                    )
                )
            ).first()
            is None
        )
    ):
        raise InvoiceNotFound()
    return invoice


@router.get("/billing/invoices", response_model=Page[InvoiceRead])
async def list_invoices(
    principal: CurrentPrincipal,
    service: BillingServiceDep,
    params: ListParamsDep,
    status_: Annotated[InvoiceStatus | None, Query(alias="status")] = None,
    tenant_id: uuid.UUID | None = None,
    kind: InvoiceKind | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> Page[InvoiceRead]:
    """The invoices and credit notes of the caller's tenants, newest first."""
    actor = await users.get_user(service.session, principal.user.id)
    stmt = select(Invoice).where(
        Invoice.tenant_id.in_(select(Membership.tenant_id).where(Membership.user_id == actor.id)),
        Invoice.status != InvoiceStatus.DRAFT.value,
    )
    stmt = _filtered(
        stmt,
        status_=status_,
        tenant_id=tenant_id,
        kind=kind,
        date_from=date_from,
        date_to=date_to,
    )
    return await paginate(service.session, stmt, params, INVOICE_LIST, invoice_read)


@router.get("/billing/invoices/{invoice_id}", response_model=InvoiceRead)
async def get_invoice(
    invoice_id: str, principal: CurrentPrincipal, service: BillingServiceDep
) -> InvoiceRead:
    invoice = await _visible_invoice(service, principal, invoice_id)
    return invoice_read(invoice, await _lines(service, invoice))


@router.get(
    "/billing/invoices/{invoice_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def get_invoice_pdf(
    invoice_id: str, principal: CurrentPrincipal, service: BillingServiceDep
) -> Response:
    invoice = await _visible_invoice(service, principal, invoice_id)
    document = invoice_pdf(invoice, await _lines(service, invoice))
    name = invoice.number or f"draft-{invoice.id}"
    return Response(
        document,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.pdf"',
            "Cache-Control": "private, no-cache",
        },
    )


# -- a tenant's billing details -------------------------------------------------------------


async def _account_read(service: BillingService, access: Any) -> BillingAccountRead:
    account = await billing_account(service.session, access.tenant.id)
    return BillingAccountRead(
        tenant_id=access.tenant.id,
        billing_address=access.tenant.billing_address,
        country=account.country,
        tax_id=account.tax_id,
        tax_rate_basis_points=tax_rate(service.runtime.settings, account.country),
    )


@router.get("/tenants/{tenant_id}/billing", response_model=BillingAccountRead)
async def get_billing_details(
    access: TenantAccessDep, service: BillingServiceDep
) -> BillingAccountRead:
    return await _account_read(service, access)


@router.patch("/tenants/{tenant_id}/billing", response_model=BillingAccountRead)
async def update_billing_details(
    body: BillingAccountUpdate, access: TenantAccessDep, service: BillingServiceDep
) -> BillingAccountRead:
    """The owner sets the billing address (seed 003's ``billing_address``), the country
    (which decides the tax rate of later invoices) and the tax id."""
    access.require_owner()
    changes = body.model_dump(exclude_unset=True)
    account = await billing_account(service.session, access.tenant.id)
    if "billing_address" in changes:
        await service.tenants.update_tenant(access, {"billing_address": changes["billing_address"]})
    if "country" in changes:
        account.country = changes["country"].upper() if changes["country"] else None
    if "tax_id" in changes:
        account.tax_id = changes["tax_id"]
    await service.session.flush()
    return await _account_read(service, access)


# -- admins -----------------------------------------------------------------------------------


@router.get("/admin/invoices", response_model=Page[InvoiceRead])
async def admin_list_invoices(
    admin: PlatformAdmin,
    service: BillingServiceDep,
    params: ListParamsDep,
    status_: Annotated[InvoiceStatus | None, Query(alias="status")] = None,
    tenant_id: uuid.UUID | None = None,
    kind: InvoiceKind | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> Page[InvoiceRead]:
    stmt = _filtered(
        select(Invoice),
        status_=status_,
        tenant_id=tenant_id,
        kind=kind,
        date_from=date_from,
        date_to=date_to,
    )
    return await paginate(service.session, stmt, params, INVOICE_LIST, invoice_read)


@router.post("/admin/invoices/{invoice_id}/actions", response_model=InvoiceRead)
async def admin_invoice_action(
    invoice_id: str,
    body: InvoiceAction,
    admin: PlatformAdmin,
    service: BillingServiceDep,
    request: Request,
) -> InvoiceRead:
    """``mark_paid`` (a bank transfer arrived), ``void``, or ``refund`` (answers the credit
    note). A paid renewal reactivates a suspended tenant."""
    invoice = await service.session.get(Invoice, parse_id(invoice_id, InvoiceNotFound))
    if invoice is None:
        raise InvoiceNotFound()
    if body.action == "mark_paid":
        await invoices.mark_paid(service.session, invoice, admin.user.id)
        await service.after_payment(invoice)
        result = invoice
    elif body.action == "void":
        result = await invoices.void(service.session, invoice, admin.user.id)
    else:
        result = await invoices.credit_note(
            service.session,
            service.runtime.settings,
            invoice,
            admin.user.id,
            amount_cents=body.amount_cents,
        )
    return invoice_read(result, await _lines(service, result))


# -- payment methods --------------------------------------------------------------------------


@router.get("/billing/payment-methods", response_model=Page[PaymentMethodRead])
async def list_payment_methods(
    principal: CurrentPrincipal,
    service: BillingServiceDep,
    params: ListParamsDep,
    tenant_id: uuid.UUID | None = None,
) -> Page[PaymentMethodRead]:
    actor = await users.get_user(service.session, principal.user.id)
    stmt = select(PaymentMethod).where(
        PaymentMethod.tenant_id.in_(
            select(Membership.tenant_id).where(Membership.user_id == actor.id)
        )
    )
    stmt = apply_filters(stmt, {PaymentMethod.tenant_id: tenant_id})
    return await paginate(
        service.session, stmt, params, PAYMENT_METHOD_LIST, PaymentMethodRead.model_validate
    )


@router.post("/billing/payment-methods", response_model=PaymentMethodRead, status_code=201)
async def create_payment_method(
    body: PaymentMethodCreate, principal: CurrentPrincipal, service: BillingServiceDep
) -> PaymentMethodRead:
    actor = await users.get_user(service.session, principal.user.id)
    access = await service.tenants.access(actor, body.tenant_id)
    source: dict[str, Any] = {"type": body.type}
    if body.payment_method:
        source["payment_method"] = body.payment_method
    method = await add_payment_method(
        service.session, service.runtime, access, source, make_default=body.is_default
    )
    return PaymentMethodRead.model_validate(method)


@router.delete("/billing/payment-methods/{payment_method_id}", status_code=204)
async def delete_payment_method(
    payment_method_id: str, principal: CurrentPrincipal, service: BillingServiceDep
) -> Response:
    actor = await users.get_user(service.session, principal.user.id)
    method = await service.session.get(
        PaymentMethod, parse_id(payment_method_id, PaymentMethodNotFound)
    )
    if method is None:
        raise PaymentMethodNotFound()
    try:
        access = await service.tenants.access(actor, method.tenant_id)
    except NotFound:
        raise PaymentMethodNotFound() from None
    await remove_payment_method(service.session, service.runtime, access, method)
    return Response(status_code=204)
