"""Expense import from a region's finance extract: Danish Excel CSV (semicolons, decimal comma, BOM),
XLSX, every bad row by line number, all-or-nothing or good rows only, idempotent on (region, voucher,
cost line), changed rows shown and applied only on request, the region rule, the upload pages."""
import io
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Expense
from crm.services.expense_import import ExpenseImporter
from crm.services.importing import GOOD_ROWS_ONLY, ImportRefused, check_file, report_lines
from tests import factories
from tests.test_import import _confirm, _token, _upload

HEADER = "dato;udgiftspost;beløb;beskrivelse;bilag;region;aktivitet"
GOOD = [
    "04-03-2025;courses;1.234,50;Forplejning, IPS-kursus;2025-0117;1084;",
    "05-03-2025;Aflønning af IPS-ambassadører;45.000,00;Løn marts;2025-0120;Region Hovedstaden;",
    "06-03-2025;courses;-234,50;Kreditnota, forplejning;2025-0131;1084;",
]


def extract(lines, bom=True) -> bytes:
    return (("\ufeff" if bom else "") + "\r\n".join(lines) + "\r\n").encode("utf-8")


def expense_count() -> int:
    return db.session.scalar(select(func.count(Expense.id)))


@pytest.fixture(autouse=True)
def request_context(app, cost_lines):
    with app.test_request_context():
        yield


def test_a_danish_excel_extract_imports_exactly_and_a_second_run_adds_nothing(app, users):
    result = check_file(ExpenseImporter(users["ambassador"]), extract([HEADER, *GOOD]), "udtræk.csv")
    assert result.ok and result.good_rows == 3
    outcome = result.apply()
    assert outcome.created == 3
    amounts = dict(db.session.execute(select(Expense.voucher, Expense.amount_ore)).all())
    assert amounts == {"2025-0117": 123450, "2025-0120": 4500000, "2025-0131": -23450}
    assert {e.source for e in db.session.scalars(select(Expense))} == {"import"}
    again = check_file(ExpenseImporter(users["ambassador"]), extract([HEADER, *GOOD]), "udtræk.csv")
    assert (again.good_rows, again.duplicates_already_present, again.changed_rows) == (0, 3, 0)
    assert again.apply().created == 0 and expense_count() == 3


def test_english_headers_and_a_comma_file_import(app, users):
    lines = ["date,cost_line,amount,description,voucher,region,activity_id",
             '2025-03-04,courses,"1234,50",Catering,V-1,1084,']
    result = check_file(ExpenseImporter(users["admin"]), extract(lines, bom=False), "x.csv")
    assert result.ok and result.apply().created == 1
    assert db.session.scalar(select(Expense.amount_ore)) == 123450


def test_every_bad_row_is_reported_by_line_and_nothing_is_written(app, users):
    activity_b = factories.ActivityFactory(region_code=1085)
    lines = [HEADER, GOOD[0],
             "31-02-2025;courses;10;Dato findes ikke;B-1;1084;",  # 3: date
             "01-03-2025;rejser;10;Ukendt post;B-2;1084;",  # 4: cost line
             "01-03-2025;courses;12,3,4;Forkert beløb;B-3;1084;",  # 5: amount
             "01-03-2025;courses;0;Nul;B-4;1084;",  # 6: zero
             "01-03-2025;courses;10;;B-5;1084;",  # 7: description
             "01-03-2025;courses;10;Intet bilag;;1084;",  # 8: voucher
             "01-03-2025;courses;10;Anden region;B-7;1085;",  # 9: region rule
             "01-03-2025;courses;10;Ukendt region;B-8;Atlantis;",  # 10: region
             f"01-03-2025;courses;10;Fremmed aktivitet;B-9;1084;{activity_b.id}",  # 11: activity
             GOOD[0]]  # 12: the same row twice
    result = check_file(ExpenseImporter(users["ambassador"]), extract(lines), "x.csv")
    where = {(e.line, e.column) for e in result.errors}
    assert {(3, "date"), (4, "cost_line"), (5, "amount"), (6, "amount"), (7, "description"), (8, "voucher"),
            (9, "region"), (10, "region"), (11, "activity_id"), (12, None)} <= where
    assert result.error_rows == 10 and result.good_rows == 1
    with pytest.raises(ImportRefused):
        result.apply()
    assert expense_count() == 0
    outcome = check_file(ExpenseImporter(users["ambassador"]), extract(lines), "x.csv").apply(GOOD_ROWS_ONLY)
    assert (outcome.created, outcome.skipped_errors) == (1, 10)
    assert db.session.scalar(select(Expense.voucher)) == "2025-0117"


def test_a_changed_row_is_shown_and_applied_only_when_asked(app, users):
    check_file(ExpenseImporter(users["ambassador"]), extract([HEADER, *GOOD]), "x.csv").apply()
    changed = [GOOD[0].replace("1.234,50", "1.334,50"), GOOD[1], GOOD[2]]
    result = check_file(ExpenseImporter(users["ambassador"]), extract([HEADER, *changed]), "x.csv")
    assert (result.changed_rows, result.duplicates_already_present) == (1, 2)
    [row] = [row for row in result.rows if row.status == "changed"]
    assert row.line == 2 and [(c.column, str(c.old), str(c.new)) for c in row.changes] == [
        ("amount", "1234,50", "1334,50")]
    assert any("1234,50 → 1334,50" in line for line in report_lines(result))
    assert result.apply().updated == 0
    assert db.session.scalar(select(Expense.amount_ore).where(Expense.voucher == "2025-0117")) == 123450
    result = check_file(ExpenseImporter(users["ambassador"]), extract([HEADER, *changed]), "x.csv")
    assert result.apply(apply_changes=True).updated == 1
    db.session.expire_all()
    assert db.session.scalar(select(Expense.amount_ore).where(Expense.voucher == "2025-0117")) == 133450
    assert expense_count() == 3


def test_xlsx_extract_with_number_and_date_cells(app, users):
    book = Workbook()
    sheet = book.active
    sheet.append(["Dato", "Udgiftspost", "Beløb", "Beskrivelse", "Bilag", "Region", "Aktivitet"])
    sheet.append([date(2025, 3, 4), "courses", 1234.5, "Forplejning", "2025-0117", 1084, None])
    sheet.append([date(2025, 3, 5), "salaries", 45000, "Løn", 20250120, "Region Hovedstaden", None])
    sheet.append([date(2025, 3, 6), "courses", -0.1, "Øreafrunding", "2025-0131", 1084, None])
    buffer = io.BytesIO()
    book.save(buffer)
    result = check_file(ExpenseImporter(users["ambassador"]), buffer.getvalue(), "udtræk.xlsx")
    assert result.ok, [str(e) for e in result.errors]
    result.apply()
    assert dict(db.session.execute(select(Expense.voucher, Expense.amount_ore)).all()) == {
        "2025-0117": 123450, "20250120": 4500000, "2025-0131": -10}


def test_upload_pages_template_and_confirmation(app, users, login_as):
    client = login_as(users["ambassador"])
    page = client.get("/import/")
    assert page.status_code == 200 and "bilag" in page.text
    template = client.get("/import/expenses/skabelon.csv").data.decode("utf-8-sig").splitlines()
    assert template[0] == HEADER and "1.234,50" in template[1]
    # The template itself imports (an ambassador of Region Hovedstaden).
    assert check_file(ExpenseImporter(users["ambassador"]), client.get("/import/expenses/skabelon.csv").data,
                      "t.csv").ok
    bad = extract([HEADER, GOOD[0], "01-03-2025;courses;10;Anden region;B-7;1085;"])
    html = _upload(client, "expenses", bad).text
    assert "<td>3</td><td><code>region</code></td>" in html
    assert _confirm(client, "expenses", _token(html), "all_or_nothing").status_code == 409
    assert expense_count() == 0
    confirmed = _confirm(client, "expenses", _token(html), "good_rows_only")
    assert confirmed.status_code == 302 and confirmed.location.endswith("/oekonomi/udgifter/")
    assert expense_count() == 1
    assert _upload(login_as(users["working_group"]), "expenses", extract([HEADER, GOOD[0]])).status_code == 403
