"""An ambassador's week in the browser, as a person does it: Debian's chromium with locale da-DK on
a 1366×768 laptop, typing with the keyboard and finding the way through the menu. Log an activity,
move a card on the board, finish a task, import a file saved by Danish Excel, and export the
status report, then check that every step reached the report's figures."""
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Activity, Task
from tests.browser_support import browser_context, demo_app, live_server, require_chromium, sign_in

pytestmark = pytest.mark.browser

DAY = date(2019, 3, 11)  # before the demo history: the report's period holds only this week's work
DANISH_EXCEL_FILE = (
    "\ufeffDato;Type;Titel;Region;Kommuner;Deltagere;Timer;Bemærkning\r\n"
    "12-03-2019;Undervisningsforløb;IPS-grundkursus, modul 1;1084;101;18;6,5;\r\n"
    "13-03-2019;kursus;IPS-grundkursus, modul 2;1084;101;17;6;\r\n"
).encode("utf-8")


def menu(page, group: str, item: str) -> None:
    """Open a menu group and choose an item, as a mouse user does."""
    page.locator("#mainnav").get_by_role("button", name=group, exact=True).click()
    page.locator("#mainnav").get_by_role("link", name=item, exact=True).click()
    page.wait_for_load_state("load")


def type_into(page, label: str, text: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.click()
    field.press("Control+A")
    page.keyboard.type(text)


def test_the_ambassadors_week(tmp_path):
    require_chromium()
    app = demo_app(tmp_path)
    with live_server(app) as base_url, browser_context(viewport={"width": 1366, "height": 768}) as page:
        sign_in(page, base_url, "hovedstaden@demo.ips.dk")

        # 1. Log a supervision: Danish date and decimal comma typed on the keyboard.
        menu(page, "Aktiviteter", "Aktivitetslog")
        page.get_by_role("link", name="Registrér aktivitet").click()
        page.get_by_label("Type").select_option(label="Supervision")
        type_into(page, "Titel", "Supervision af IPS-teamet i København")
        type_into(page, "Dato (start)", DAY.strftime("%d-%m-%Y"))
        type_into(page, "Varighed i timer", "2,5")
        page.get_by_role("combobox", name="Kommuner", exact=True).click()
        page.keyboard.type("Købe")
        page.locator(".ts-dropdown .option:visible", has_text="København").first.click()
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Gem", exact=True).click()
        page.wait_for_load_state("load")
        assert page.get_by_text("2,5 timer").is_visible()

        # 2. Move a card on the board with its own form, from the keyboard.
        menu(page, "Kommuner", "Tavle")
        card = page.locator('.board-column[data-stage="not_contacted"] .board-card').first
        name = card.get_attribute("data-name")
        card.locator("select[name=stage]").select_option("dialogue")
        card.locator("select[name=stage]").focus()
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.locator('.board-column[data-stage="dialogue"]').locator(f'[data-name="{name}"]').wait_for()
        assert f"{name} er flyttet til »I dialog«." in page.locator("#board-status").inner_text()

        # 3. Finish one of my tasks from "Mine opgaver".
        menu(page, "Kommuner", "Mine opgaver")
        with app.app_context():
            open_before = db.session.scalar(select(func.count()).select_from(Task).where(Task.status == "open"))
        page.get_by_role("button", name="Udført").first.click()
        page.wait_for_load_state("load")
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Task).where(Task.status == "open")) \
                == open_before - 1
            done = db.session.scalar(select(Task).where(Task.status == "done").order_by(Task.done_at.desc()))
            assert done.done_at is not None and done.done_by.email == "hovedstaden@demo.ips.dk"

        # 4. Import two courses from a file saved by Danish Excel (";", BOM, Danish headers and words).
        menu(page, "Aktiviteter", "Import")
        page.locator("input[type=file]").first.set_input_files(
            files=[{"name": "kurser.csv", "mimeType": "text/csv", "buffer": DANISH_EXCEL_FILE}])
        page.get_by_role("button", name="Kontrollér filen").first.click()
        page.wait_for_load_state("load")
        assert page.locator('[data-count="good"]').inner_text().strip() == "2"
        page.get_by_role("button", name="Importér 2 rækker").click()
        page.wait_for_load_state("load")
        with app.app_context():
            courses = db.session.scalars(select(Activity).where(Activity.title.like("IPS-grundkursus, modul%"))).all()
            assert sorted((a.type, str(a.hours)) for a in courses) == [("course", "6.00"), ("course", "6.50")]

        # 5. The status report for the week shows all of it, and its XLSX says the same.
        menu(page, "Rapporter", "Statusrapport")
        type_into(page, "Fra og med", "11-03-2019")
        type_into(page, "Til og med", "17-03-2019")
        page.get_by_role("button", name="Vis periode").click()
        page.wait_for_load_state("load")
        figure = lambda metric: page.locator(  # noqa: E731
            f'td[data-metric="{metric}"][data-column="1084"]').inner_text().strip()
        assert figure("supervision_hours") == "2,5"
        assert figure("courses") == "2"
        with page.expect_download() as download_info:
            page.get_by_role("link", name="XLSX").click()
        sheet = load_workbook(io.BytesIO(open(download_info.value.path(), "rb").read()))["Statusrapport"]
        rows = list(sheet.iter_rows(values_only=True))
        header = next(i for i, row in enumerate(rows) if row[0] == "Nøgle")
        column = list(rows[header]).index("Hovedstaden")
        figures = {row[0]: row[column] for row in rows[header + 1:] if row[0]}
        assert (figures["supervision_hours"], figures["courses"]) == (2.5, 2)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
