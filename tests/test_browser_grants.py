"""Browser test of the grant side in Debian's chromium (locale da-DK), typing as a person types: an
ambassador books an expense of 1.234,50 kr. and a credit note of -250, sees them in the list and its
total to the øre, and a typo in the amount comes back beside the field with the text kept."""
import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import Expense
from tests.browser_support import browser_page, demo_app, live_server, require_chromium, sign_in

pytestmark = pytest.mark.browser


def _book(page, base_url: str, amount: str, voucher: str, description: str) -> None:
    page.goto(f"{base_url}/oekonomi/udgifter/ny")
    page.get_by_label("Dato").fill("")
    page.get_by_label("Dato").click()
    page.keyboard.type("03-02-2019")
    page.get_by_label("Udgiftspost").select_option(label="Afholdelse af kurser og lignende opkvalificeringsaktiviteter")
    page.get_by_label("Beløb (kr.)").click()
    page.keyboard.type(amount)
    page.get_by_label("Beskrivelse").click()
    page.keyboard.type(description)
    page.get_by_label("Bilag").click()
    page.keyboard.type(voucher)
    page.get_by_role("button", name="Gem udgift").click()
    page.wait_for_load_state("networkidle")


def test_an_ambassador_books_danish_amounts_exactly(tmp_path):
    require_chromium()
    app = demo_app(tmp_path)
    with live_server(app) as base_url, browser_page() as page:
        sign_in(page, base_url, "hovedstaden@demo.ips.dk")
        _book(page, base_url, "1.234,5O", "T-1", "Forplejning, kursus")  # a letter O for a zero
        assert "/oekonomi/udgifter/ny" in page.url
        assert page.get_by_label("Beløb (kr.)").input_value() == "1.234,5O"
        assert page.get_by_text("Skriv et beløb i kroner", exact=False).first.is_visible()
        assert page.get_by_label("Beskrivelse").input_value() == "Forplejning, kursus"
        page.get_by_label("Beløb (kr.)").fill("")
        page.get_by_label("Beløb (kr.)").click()
        page.keyboard.type("1.234,50")
        page.get_by_role("button", name="Gem udgift").click()
        page.wait_for_load_state("networkidle")
        assert page.get_by_text("er gemt", exact=False).first.is_visible()
        _book(page, base_url, "-250", "T-2", "Kreditnota, forplejning")
        page.goto(f"{base_url}/oekonomi/udgifter/?region=1084&start=03-02-2019&end=03-02-2019")
        assert page.locator("[data-total]").inner_text() == "984,50"
        assert page.get_by_role("cell", name="1.234,50").is_visible()
        assert page.get_by_role("cell", name="-250,00").is_visible()
    with app.app_context():
        amounts = dict(db.session.execute(select(Expense.voucher, Expense.amount_ore)
                                          .where(Expense.voucher.in_(("T-1", "T-2")))).all())
    assert amounts == {"T-1": 123450, "T-2": -25000}
