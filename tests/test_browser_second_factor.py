"""The second factor in Debian's chromium (da-DK, typed as a person types): enrol by reading the key
from the page, sign out, sign in with password and a code computed here; an admin resets it. axe-core
checks every page of the flow (the code step and the admin's reset form need state the page walk
in test_browser_pages cannot make)."""
import time

import pyotp
import pytest
from sqlalchemy import select

from crm.demo import DEMO_PASSWORD
from crm.extensions import db
from crm.models import User
from tests.browser_support import browser_context, demo_app, live_server
from tests.test_browser_pages import Page, _axe_problems

pytestmark = pytest.mark.browser

AMBASSADOR = "hovedstaden@demo.ips.dk"
ADMIN = "admin@demo.ips.dk"


def _type_sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").press_sequentially(email)
    page.get_by_label("Adgangskode").press_sequentially(DEMO_PASSWORD)
    page.get_by_role("button", name="Log ind").click()
    page.wait_for_load_state("networkidle")


def _sign_out(page) -> None:
    page.get_by_role("button", name="Log ud").click()
    page.wait_for_load_state("networkidle")


def test_enrol_sign_in_with_a_code_and_admin_reset(tmp_path):
    from axe_playwright_python.sync_playwright import Axe

    app = demo_app(tmp_path)
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == AMBASSADOR))
    axe, problems = Axe(), []
    with live_server(app) as base_url, browser_context() as page:
        _type_sign_in(page, base_url, AMBASSADOR)
        page.goto(f"{base_url}/account")
        page.get_by_role("link", name="Slå totrinsbekræftelse til").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("svg").first.is_visible()  # the QR code
        problems += _axe_problems(axe, page, Page("auth.two_factor", "/account/two-factor"))
        secret = page.locator("[data-totp-secret]").inner_text().replace(" ", "")
        # The previous step's code (inside the window): the sign-in below may then use the current one.
        page.get_by_label("Kode fra appen").press_sequentially(pyotp.TOTP(secret).at(time.time() - 30))
        page.get_by_role("button", name="Slå totrinsbekræftelse til").click()
        page.wait_for_load_state("networkidle")
        assert page.get_by_role("heading", name="Gem dem nu: de vises kun denne ene gang").is_visible()
        assert page.locator("[data-recovery-codes] li").count() == 10
        problems += _axe_problems(axe, page, Page("auth.two_factor", "/account/two-factor (codes)"))
        page.get_by_role("link", name="Jeg har gemt koderne").click()
        _sign_out(page)

        _type_sign_in(page, base_url, AMBASSADOR)
        assert page.url.endswith("/login/code")
        problems += _axe_problems(axe, page, Page("auth.second_step", "/login/code"))
        page.get_by_label("Kode").press_sequentially("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        page.get_by_role("button", name="Bekræft").click()
        page.wait_for_load_state("networkidle")
        assert page.get_by_text("Koden er forkert eller allerede brugt.").is_visible()
        page.get_by_label("Kode").press_sequentially(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Bekræft").click()
        page.wait_for_load_state("networkidle")
        assert page.url == f"{base_url}/"
        assert page.get_by_role("button", name="Log ud").is_visible()
        page.goto(f"{base_url}/account/two-factor")
        assert page.get_by_text("Du har 10 ubrugte gendannelseskoder.").is_visible()
        problems += _axe_problems(axe, page, Page("auth.two_factor", "/account/two-factor (on)"))
        _sign_out(page)

        _type_sign_in(page, base_url, ADMIN)
        page.goto(f"{base_url}/admin/users/{user_id}")
        problems += _axe_problems(axe, page, Page("admin.user_edit", f"/admin/users/{user_id}"))
        page.get_by_label("Begrundelse").press_sequentially("Mistet telefon")
        page.get_by_role("button", name="Nulstil totrinsbekræftelse").click()
        page.wait_for_load_state("networkidle")
        assert page.get_by_text("er nulstillet").is_visible()
        assert page.get_by_text("Ikke slået til.").is_visible()
    assert not problems, "\n".join(problems)
