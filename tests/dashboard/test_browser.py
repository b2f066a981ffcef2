"""The dashboard in Debian's Chromium, driven by Playwright, against a real ``saas serve``
(embedded PostgreSQL, in-process worker, the built-in Odoo emulator, mail over SMTP).

Every page visited is checked with axe-core (no serious or critical violation), and the
main pages are saved to docs/screenshots/ for the user guide.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.fixtures.auth import DEFAULT_PASSWORD
from tests.fixtures.embedded import embedded_dir
from tests.fixtures.serve import ServeProcess
from tests.fixtures.smtp import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.once]
__all__ = ["embedded_dir"]  # the fixture, imported for this module's tests

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Provisioning, backups and restores on the emulator take seconds; a loaded machine more.
SLOW_MS = 120_000
AXE = Axe()


@pytest.fixture
def serve(embedded_dir: Path, smtp_server: SmtpServer) -> Iterator[ServeProcess]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed at /usr/bin/chromium: make test installs it")
    process = ServeProcess(embedded_dir, smtp_server.port)
    process.start()
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


def accessible(page: Page) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    results = AXE.run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, f"{page.url}: " + results.generate_report()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def mailed_link(smtp: SmtpServer, address: str, path: str, count: int = 1) -> str:
    # Playwright's sync API runs its own event loop in this thread: poll the inbox plainly.
    deadline = time.monotonic() + 60
    while len(smtp.inbox.to(address)) < count:
        assert time.monotonic() < deadline, f"no mail #{count} for {address}"
        time.sleep(0.1)
    mail = smtp.inbox.to(address)[count - 1]
    found = re.search(r"https?://[^\s]+" + re.escape(path) + r"\?token=[^\s]+", mail.text)
    assert found, mail.text
    return found.group(0)


def test_a_new_customer_journey(
    serve: ServeProcess, browser: Browser, smtp_server: SmtpServer
) -> None:
    base = serve.base_url
    email = "ada@example.com"
    page = browser.new_page(base_url=base)
    page.set_default_timeout(30_000)

    # Sign up; a wrong confirmation is shown next to its field first.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    accessible(page)
    shot(page, "login")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("not-an-address")
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_label("Password again").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#e-email")).to_be_visible()
    accessible(page)
    shot(page, "signup-error")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_label("Password again").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your mailbox")).to_be_visible()

    # The mailed link lands on a page of the dashboard.
    page.goto(mailed_link(smtp_server, email, "/verify-email"))
    expect(page.get_by_role("heading", name="Email address verified")).to_be_visible()
    accessible(page)

    # Log in: the session cookie is httpOnly, so no script reads a token.
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your tenants")).to_be_visible()
    assert page.evaluate("document.cookie") == ""
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["saas_session"]["httpOnly"] and cookies["saas_session"]["sameSite"] == "Lax"

    # Create a tenant and watch it become active without reloading the page.
    page.get_by_role("link", name="New tenant").click()
    accessible(page)
    page.get_by_label("Company name").fill("Analytical Engines")
    page.get_by_label("Subdomain").fill("engines")
    page.get_by_role("button", name="Create the tenant").click()
    expect(page.get_by_role("heading", name="Analytical Engines")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    page.evaluate("window.__notReloaded = true")
    status = page.get_by_test_id("tenant-status")
    expect(status).to_have_text("ready", timeout=SLOW_MS)
    assert page.evaluate("window.__notReloaded") is True, "updated live, not by a reload"
    # Each provisioning step was shown as it ran (instance.progress), the last one done.
    setup = page.locator("[data-progress-key^='instance.progress']")
    expect(setup).to_have_attribute("data-percent", "100", timeout=SLOW_MS)
    expect(setup).to_contain_text("step 6 of 6, verify (done)")
    accessible(page)
    shot(page, "tenant")

    # Its usage charts, by minute, hour or day.
    page.get_by_role("link", name="All metrics and periods").click()
    expect(page.get_by_role("heading", name="Usage of Analytical Engines")).to_be_visible()
    page.get_by_role("link", name=re.compile("^By day")).click()
    expect(page.get_by_role("link", name=re.compile("^By day"))).to_have_attribute(
        "aria-current", "page"
    )
    accessible(page)
    shot(page, "tenant-metrics")
    page.get_by_role("link", name="Back to Analytical Engines").click()

    # The Odoo URL and the one-time password view: log in to Odoo with them.
    page.get_by_text("Show the Odoo administrator password").click()
    password = page.get_by_test_id("admin-password").inner_text()
    odoo_url = page.get_by_test_id("odoo-url").get_attribute("href")
    assert odoo_url
    odoo = browser.new_page()
    odoo.goto(odoo_url)
    if odoo.locator("input[name=login]").count():
        odoo.fill("input[name=login]", email)
        odoo.fill("input[name=password]", password)
        odoo.click("button[type=submit]")
    expect(odoo.locator("input[name=password]")).to_have_count(0)
    odoo.close()

    # Invite a member.
    page.get_by_label("Invite by email").fill("babbage@example.com")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("status")).to_contain_text("Invited babbage@example.com")
    mailed_link(smtp_server, "babbage@example.com", "/accept-invitation")

    # Back up; the row turns completed live.
    page.get_by_role("button", name="Back up now").click()
    expect(page.get_by_role("status")).to_contain_text("The backup has started")
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    expect(page.get_by_role("link", name=re.compile("^Download"))).to_have_count(1, timeout=SLOW_MS)
    backing_up = page.locator("[data-progress-key^='backup.progress']")
    expect(backing_up).to_have_attribute("data-percent", "100", timeout=SLOW_MS)
    expect(backing_up).to_contain_text("Backup: step 3 of 3")
    accessible(page)
    shot(page, "backups")

    # Restore with a typed confirmation: a wrong word is refused next to the field.
    page.get_by_label(re.compile("to confirm")).first.fill("nope")
    page.get_by_role("button", name="Restore").click()
    expect(page.locator("#e-restore-confirm")).to_contain_text("Type engines")
    page.get_by_label(re.compile("to confirm")).first.fill("engines")
    page.get_by_role("button", name="Restore").click()
    expect(page.get_by_role("status")).to_contain_text("The restore has started")
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    expect(page.get_by_text(re.compile(r"Restore\s+completed"))).to_be_visible(timeout=SLOW_MS)
    restoring = page.locator("[data-progress-key^='restore.progress']")
    expect(restoring).to_have_attribute("data-percent", "100", timeout=SLOW_MS)
    expect(restoring).to_contain_text("Restore: step 7 of 7, start (done)")
    expect(status).to_have_text("ready", timeout=SLOW_MS)

    # API keys page, then delete the tenant with its typed confirmation.
    page.goto("/app/api-keys")
    accessible(page)
    page.goto("/app/profile")
    accessible(page)
    page.goto("/app/tenants")
    accessible(page)
    shot(page, "tenants")
    # A phone's width: nothing needs a horizontal scroll but the tables' own.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Analytical Engines").click()
    # The click only starts the navigation: measure the tenant's page once it has loaded.
    expect(page.get_by_role("heading", name="Analytical Engines")).to_be_visible()
    page.wait_for_load_state("load")
    too_wide = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > 391 && !e.closest('.table-wrap'))
            .map(e => e.tagName + '.' + e.className).slice(0, 5)"""
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, too_wide
    accessible(page)
    shot(page, "tenant-phone")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto("/app/tenants")
    page.get_by_role("link", name="Analytical Engines").click()
    page.locator("#f-delete-confirm").fill("engines")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("is being deleted")


def test_an_admin_journey(serve: ServeProcess, browser: Browser) -> None:
    created = serve.run_cli(
        "create-admin", "--email", "root@example.com", "--password-stdin", stdin=DEFAULT_PASSWORD
    )
    assert created.returncode == 0, created.stderr.decode()
    page = browser.new_page(base_url=serve.base_url)
    page.set_default_timeout(30_000)
    page.goto("/login")
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # A tenant to act on.
    page.get_by_role("link", name="New tenant").click()
    page.get_by_label("Company name").fill("Ops Test")
    page.get_by_label("Subdomain").fill("opstest")
    page.get_by_role("button", name="Create the tenant").click()
    expect(page.get_by_test_id("tenant-status")).to_have_text("ready", timeout=SLOW_MS)

    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_test_id("stat-users")).to_have_text("1")
    accessible(page)
    shot(page, "admin-stats")

    page.get_by_role("link", name="Odoo hosts").click()
    accessible(page)
    page.get_by_role("button", name=re.compile("^Drain")).first.click()
    expect(page.get_by_role("status")).to_contain_text("drain done")
    expect(page.locator(".badge").first).to_have_text("draining")
    shot(page, "admin-hosts")
    page.get_by_role("button", name=re.compile("^Activate")).first.click()
    expect(page.get_by_role("status")).to_contain_text("activate done")

    page.get_by_role("link", name="Tenants", exact=True).last.click()
    accessible(page)
    page.get_by_label(re.compile("^Action")).first.select_option("backup")
    page.get_by_label(re.compile("^Reason")).first.fill("customer asked before an import")
    page.get_by_role("button", name=re.compile("^Do it")).first.click()
    expect(page.get_by_role("status")).to_contain_text("with your reason")

    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("admin.tenant.backup")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("customer asked before an import")).to_be_visible()
    accessible(page)
    shot(page, "admin-audit")

    # The audit chain check.
    page.get_by_role("button", name="Check the chain").click()
    expect(page.get_by_test_id("chain-result")).to_contain_text("The chain is intact")
    accessible(page)
    shot(page, "admin-audit-check")

    # Adding a host: one that does not answer is refused next to its address.
    page.get_by_role("link", name="Odoo hosts").click()
    page.locator("#f-name").fill("odoo-2")
    page.locator("#f-url").fill("http://127.0.0.1:9")
    page.locator("#f-odoo_version").fill("17.0")
    page.locator("#f-capacity").fill("20")
    page.locator("#f-master_password").fill("not-used")
    page.get_by_role("button", name="Add the host").click()
    expect(page.locator("#e-url")).to_contain_text("No Odoo answers")
    accessible(page)

    # Plans: two made in the console, money typed as a person writes it.
    for code, name, monthly in (("crew", "Crew", "31.00"), ("crewplus", "Crew Plus", "62.00")):
        page.get_by_role("link", name="Plans", exact=True).click()
        page.locator("#f-code").fill(code)
        page.locator("#f-name").fill(name)
        page.locator("#f-currency").fill("EUR")
        page.locator("#f-monthly_amount_cents").fill(monthly)
        page.locator("#f-annual_amount_cents").fill("310.00")
        page.locator("#f-seats_included").fill("2")
        page.locator("#f-max_users").fill("10")
        page.locator("#f-storage_gb").fill("5")
        page.locator("#f-expiration_days").fill("365")
        for field, value in (("daily", "7"), ("weekly", "4"), ("monthly", "3")):
            page.locator(f"#f-backup_{field}").fill(value)
        page.locator("#f-backup_manual_quota").fill("5")
        page.locator("#f-backup_manual_retention_days").fill("30")
        page.get_by_role("button", name="Create the plan").click()
        expect(page.get_by_role("status")).to_contain_text(f"Plan {code} created")
    expect(page.locator("#f-monthly_amount_cents")).to_have_value("62.00")
    accessible(page)
    shot(page, "admin-plan")

    # Subscribe the tenant, then see an upgrade's prorated price before confirming it.
    page.goto("/app/billing")
    page.locator("#s-plan").select_option("crew")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("status")).to_contain_text("Subscribed")
    page.locator("select[id^='p-']").first.select_option("crewplus")
    page.get_by_role("button", name="See the price of the change").click()
    expect(page.get_by_test_id("preview-total")).to_have_text(re.compile(r"^\d+\.\d\d EUR$"))
    accessible(page)
    shot(page, "billing-preview")
    page.get_by_role("button", name="Confirm the change").click()
    expect(page.get_by_role("status")).to_contain_text("The plan is changed")

    # The inbound integrations: health, providers, events.
    page.goto("/app/admin/integrations")
    expect(page.get_by_role("heading", name="Inbound providers")).to_be_visible()
    accessible(page)
    shot(page, "admin-integrations")

    # A threat in detail: someone probing tenant ids, found by the detection run now.
    with httpx.Client(base_url=serve.base_url, timeout=30) as api:
        login = api.post(
            "/api/v1/auth/login", json={"email": "root@example.com", "password": DEFAULT_PASSWORD}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for _ in range(25):
            assert api.get(f"/api/v1/tenants/{uuid.uuid4()}", headers=headers).status_code == 404
    detected = serve.run_cli("security", "detect")
    assert detected.returncode == 0, detected.stderr.decode()
    page.get_by_role("link", name="Security").click()
    page.locator("a[href^='/app/admin/security/threats/']").first.click()
    expect(
        page.get_by_role("heading", name=re.compile("^Threat: tenant enumeration"))
    ).to_be_visible()
    accessible(page)
    shot(page, "admin-threat")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("acknowledge: done")
