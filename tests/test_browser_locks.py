"""Browser test of a submitted period's lock, in Debian's chromium (locale da-DK): an ambassador
types an activity dated in a submitted half-year and is told, beside the date field, which
submission locks it and who can unlock it; the input is kept."""
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import ReportSubmission, User
from tests.browser_support import browser_page, demo_app, live_server, require_chromium, sign_in

pytestmark = pytest.mark.browser


def test_a_locked_date_is_refused_beside_the_date_field(tmp_path):
    require_chromium()
    app = demo_app(tmp_path)
    with app.app_context():  # 1. halvår 2019, before the demo history, submitted by the admin
        admin = db.session.scalar(select(User).where(User.email == "admin@demo.ips.dk"))
        db.session.add(ReportSubmission(period_start=date(2019, 1, 1), period_end=date(2019, 6, 30), figures={},
                                        csv_data=b"", xlsx_data=b"", submitted_by_id=admin.id))
        db.session.commit()
    with live_server(app) as base_url, browser_page() as page:
        sign_in(page, base_url, "hovedstaden@demo.ips.dk")
        page.goto(f"{base_url}/aktiviteter/ny")
        page.get_by_label("Type").select_option(label="Supervision")
        page.get_by_label("Titel").click()
        page.keyboard.type("Supervision i marts")
        page.get_by_label("Dato (start)").click()
        page.keyboard.type("12-03-2019")
        page.get_by_label("Varighed i timer").click()
        page.keyboard.type("2")
        page.get_by_role("button", name="Gem", exact=True).click()
        page.wait_for_load_state("networkidle")

        date_field = page.get_by_label("Dato (start)")
        expect(date_field).to_have_class(__import__("re").compile(r"\bis-invalid\b"))
        feedback = page.locator("#start_date ~ .invalid-feedback, #start_date + .invalid-feedback").first
        expect(feedback).to_contain_text("Posten er låst af indsendelsen af 1. halvår 2019")
        expect(feedback).to_contain_text("Demo Administrator")
        expect(feedback).to_contain_text("Kun en administrator kan genåbne perioden")
        assert date_field.input_value() == "12-03-2019"
        assert page.get_by_label("Titel").input_value() == "Supervision i marts"
