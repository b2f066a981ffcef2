"""An invoice as a PDF (fpdf2): number, seller and buyer, lines, tax, totals, due date."""

from __future__ import annotations

from fpdf import FPDF

from saas_server.billing.models import Invoice, InvoiceKind, InvoiceLine


def money(cents: int, currency: str) -> str:
    """``-1234, "EUR"`` -> ``-12.34 EUR``: integer arithmetic, never a float."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d} {currency}"


def _latin1(text: str) -> str:
    # The core fonts are Latin-1; anything else is shown as "?" rather than failing.
    return text.encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(invoice: Invoice, lines: list[InvoiceLine]) -> bytes:
    title = "Credit note" if invoice.kind == InvoiceKind.CREDIT_NOTE.value else "Invoice"
    pdf = FPDF(format="A4")
    pdf.set_title(f"{title} {invoice.number or 'draft'}")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(
        0, 10, _latin1(f"{title} {invoice.number or '(draft)'}"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font("Helvetica", size=10)
    issued = invoice.finalized_at or invoice.created_at
    pdf.cell(0, 6, f"Issued: {issued:%Y-%m-%d}", new_x="LMARGIN", new_y="NEXT")
    if invoice.due_at:
        pdf.cell(0, 6, f"Due: {invoice.due_at:%Y-%m-%d}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"Status: {invoice.status}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for heading, party in (("Seller", invoice.seller), ("Bill to", invoice.buyer)):
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 6, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        for key in ("name", "address", "email", "country"):
            if party.get(key):
                pdf.multi_cell(0, 5, _latin1(str(party[key])), new_x="LMARGIN", new_y="NEXT")
        if party.get("tax_id"):
            pdf.cell(0, 5, _latin1(f"Tax ID: {party['tax_id']}"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(110, 7, "Description", border="B")
    pdf.cell(15, 7, "Qty", border="B", align="R")
    pdf.cell(0, 7, "Amount", border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for line in lines:
        pdf.cell(110, 6, _latin1(line.description[:70]))
        pdf.cell(15, 6, str(line.quantity), align="R")
        pdf.cell(
            0,
            6,
            money(line.amount_cents, invoice.currency),
            align="R",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(3)
    rate = invoice.tax_rate_basis_points
    rows = [
        ("Subtotal", invoice.subtotal_cents),
        (f"Tax ({rate // 100}.{rate % 100:02d}%)", invoice.tax_cents),
        ("Total", invoice.total_cents),
        ("Amount paid", invoice.amount_paid_cents),
        ("Amount due", invoice.total_cents - invoice.amount_paid_cents),
    ]
    for label, cents in rows:
        pdf.set_font("Helvetica", "B" if label == "Total" else "", 10)
        pdf.cell(125, 6, label, align="R")
        pdf.cell(0, 6, money(cents, invoice.currency), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
