"""Exports are data, never code (issue 13.4): every CSV and XLSX the CRM writes, through every
export route, with text a spreadsheet would otherwise run as a formula.

XLSX: user text is always a text cell (data_type "s") holding the original text, never a formula,
an error value or anything else. CSV: a text field starting with = + - @, tab, CR (or NUL) gets a
leading single quote (OWASP's CSV-injection advice), in every field; numbers stay numbers.
"""
import csv
import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.utils.escape import unescape
from sqlalchemy import select

from crm.extensions import db
from crm.models import Municipality, OutboxMessage, OutcomeQuarter
from crm.services import export, fidelity, mail
from crm.services import report as report_service
from crm.services.jobs import run_job
from tests import factories

PAYLOADS = ('=HYPERLINK("http://evil.example","x")', "+1", "-1+2", "@SUM(A1)", "\tX", "\rX")
CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
# Six municipalities of Region Hovedstaden (1084), renamed to the payloads.
CODES = (101, 147, 151, 153, 155, 157)
H1 = (date(2025, 1, 1), date(2025, 6, 30))


@pytest.fixture
def crafted(app, users):
    """Every kind of exported record, with the payloads in its title, name and free-text fields."""
    creator = factories.UserFactory(name=PAYLOADS[0], email="crafted@test.dk")
    ids = {"reviews": []}
    scores = {item.key: 3 for item in fidelity.scale_items()}
    for code, payload in zip(CODES, PAYLOADS):
        municipality = db.session.get(Municipality, code)
        municipality.name = payload
        db.session.commit()
        factories.ActivityFactory(title=payload, location=payload, note=payload, link=payload,
                                  start_date=date(2025, 3, 1), municipalities=[municipality], created_by=creator)
        factories.ContactFactory(name=payload, organisation=payload, role=payload, municipality_code=code)
        factories.PlanFactory(title=payload, health_cluster=payload, health_agreement=payload,
                              municipalities=[municipality])
        factories.StageChangeFactory(municipality_code=code, stage="plan_signed", effective_date=date(2025, 3, 1))
        review = fidelity.write_review(None, code, {"review_date": date(2025, 4, 1)},
                                       {key: (score, None) for key, score in scores.items()})
        # The form strips text; a stored value with a leading tab or CR must still export safely.
        review.team = review.reviewers = review.action_plan = payload
        for rating in review.ratings:
            rating.comment = payload
        db.session.add(OutcomeQuarter(municipality_code=code, quarter="2025Q3", citizens=10, with_paid_hours=4,
                                      with_employment=3, with_education=1, ever_paid_hours_or_education=6))
        db.session.commit()
        ids["reviews"].append(review.id)
    submission = report_service.submit_report(*H1, actor=users["admin"])
    db.session.commit()
    ids["submission"] = submission.id
    return ids


def csv_fields(data: bytes) -> list[str]:
    """Every field of a CSV download (header included), as a spreadsheet's CSV reader sees it."""
    text = data.decode("utf-8-sig")
    return [field for row in csv.reader(io.StringIO(text, newline="")) for field in row]


def xlsx_cells(data: bytes) -> list:
    """Every non-empty cell of every sheet of an XLSX download."""
    workbook = load_workbook(io.BytesIO(data))
    return [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row
            if cell.value is not None]


def xlsx_texts(data: bytes) -> set[str]:
    """The text of every cell, as Excel shows it (``_xHHHH_`` escapes decoded), after checking that
    no cell is a formula and that every string is a text cell."""
    cells = xlsx_cells(data)
    formulas = [(c.coordinate, c.value) for c in cells if c.data_type == "f"]
    assert not formulas
    assert all(c.data_type == "s" for c in cells if isinstance(c.value, str))
    return {unescape(c.value) for c in cells if c.data_type == "s"}


# Every route that answers with CSV or XLSX, as (URL with {fmt}, whether its CSV holds user text):
# the report's CSV holds only metric keys and figures, its XLSX lists the records by name and title.
EXPORTS = [
    ("/aktiviteter/?format={fmt}", True),
    ("/kontakter/?format={fmt}", True),
    ("/kommuner/?format={fmt}", True),
    ("/planer/?format={fmt}", True),
    ("/fidelitet/?format={fmt}", True),
    ("/resultater/?quarter=2025Q3&format={fmt}", True),
    ("/rapporter/eksport.{fmt}?start=2025-01-01&end=2025-06-30", False),
    ("/rapporter/indsendelser/{submission}.{fmt}", False),
]
CSV_ONLY = ["/import/activities/skabelon.csv", "/import/stages/skabelon.csv", "/resultater/import/skabelon.csv"]


@pytest.mark.parametrize("url", [url for url, _csv_has_text in EXPORTS])
def test_every_xlsx_export_writes_text_as_text_cells(crafted, users, login_as, url):
    response = login_as(users["admin"]).get(url.format(fmt="xlsx", submission=crafted["submission"]))
    assert response.status_code == 200 and response.mimetype == export.XLSX_MIMETYPE
    assert set(PAYLOADS) <= xlsx_texts(response.data)


@pytest.mark.parametrize("url, csv_has_text", EXPORTS)
def test_every_csv_export_neutralises_formula_fields(crafted, users, login_as, url, csv_has_text):
    response = login_as(users["admin"]).get(url.format(fmt="csv", submission=crafted["submission"]))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    fields = csv_fields(response.data)
    assert [f for f in fields if f.startswith(CSV_TRIGGERS)] == []
    if csv_has_text:
        assert {"'" + payload for payload in PAYLOADS} <= set(fields)


@pytest.mark.parametrize("url, csv_has_text", EXPORTS)
def test_every_danish_excel_csv_export_neutralises_formula_fields_the_same_way(crafted, users, login_as, url,
                                                                               csv_has_text):
    """``format=csv-excel`` (the report: ``eksport-excel.csv``, ``<id>-excel.csv``): the same
    neutralised fields, separated by ;."""
    excel_url = url.replace("eksport.{fmt}", "eksport-excel.csv").replace("{submission}.{fmt}",
                                                                          "{submission}-excel.csv")
    response = login_as(users["admin"]).get(excel_url.format(fmt="csv-excel", submission=crafted["submission"]))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.data.decode("utf-8-sig")
    fields = [field for row in csv.reader(io.StringIO(text, newline=""), delimiter=";") for field in row]
    assert [f for f in fields if f.startswith(CSV_TRIGGERS)] == []
    if csv_has_text:
        assert {"'" + payload for payload in PAYLOADS} <= set(fields)


def test_the_fidelity_review_xlsx_writes_text_as_text_cells(crafted, users, login_as):
    client = login_as(users["working_group"])
    for review_id, payload in zip(crafted["reviews"], PAYLOADS):
        response = client.get(f"/fidelitet/{review_id}/eksport.xlsx")
        assert response.status_code == 200
        assert payload in xlsx_texts(response.data)


@pytest.mark.parametrize("url", CSV_ONLY)
def test_import_templates_are_neutral_csv(users, login_as, url):
    response = login_as(users["admin"]).get(url)
    assert response.status_code == 200
    assert [f for f in csv_fields(response.data) if f.startswith(CSV_TRIGGERS)] == []


def test_the_cli_and_the_halfyear_mail_use_the_same_safe_report(crafted, runner, tmp_path):
    out = tmp_path / "status.xlsx"
    result = runner.invoke(args=["report", "status", "--year", "2025", "--half", "1", "--format", "xlsx",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert set(PAYLOADS) <= xlsx_texts(out.read_bytes())
    run_job("halfyear", now=datetime(2025, 6, 1, 8, tzinfo=ZoneInfo("Europe/Copenhagen")))
    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.job == "halfyear")).first()
    assert set(PAYLOADS) <= xlsx_texts(mail.attachment_bytes(message))


# --- The writers themselves ---------------------------------------------------------------------


def test_csv_numbers_are_numbers_and_text_is_neutralised_in_every_field():
    """The Python type decides: a number (int, float, Decimal) is written as its digits, negative or
    not; text that looks like a number but starts with a trigger is still text, and quoted."""
    rows = [[-1, -2.5, Decimal("-3.0"), 0, "-1", "-1+2", "+45 12 34 56 78", "@x", "a=b", "ok", None,
             date(2025, 3, 1)]]
    fields = csv_fields(export.csv_bytes(["=h"] + [f"c{i}" for i in range(11)], rows))
    assert fields[:12] == ["'=h"] + [f"c{i}" for i in range(11)]
    assert fields[12:] == ["-1", "-2.5", "-3.0", "0", "'-1", "'-1+2", "'+45 12 34 56 78", "'@x", "a=b", "ok", "",
                           "2025-03-01"]


def test_csv_delimiter_is_a_parameter_and_the_default_is_unchanged():
    assert export.csv_bytes(["a", "b"], [["x,y", "=1"]]) == '\ufeffa,b\r\n"x,y",\'=1\r\n'.encode("utf-8")
    semicolon = export.csv_bytes(["a", "b"], [["x;y", "=1"], [1.5, -2]], delimiter=";").decode("utf-8-sig")
    assert semicolon == 'a;b\r\n"x;y";\'=1\r\n1.5;-2\r\n'


def test_xlsx_numbers_are_number_cells_and_text_is_text():
    data = export.xlsx_bytes([("Ark", ["tal", "tekst", "dato"],
                               [[-1, "-1", date(2025, 3, 1)], [Decimal("-2.5"), "=1+2", None],
                                [3, "#N/A", None]])])
    sheet = load_workbook(io.BytesIO(data)).active
    assert [(c.value, c.data_type) for c in sheet["A"][1:]] == [(-1, "n"), (-2.5, "n"), (3, "n")]
    assert [(c.value, c.data_type) for c in sheet["B"][1:]] == [("-1", "s"), ("=1+2", "s"), ("#N/A", "s")]
    assert sheet["C2"].is_date and sheet["C2"].value.date() == date(2025, 3, 1)
    assert sheet["C2"].number_format.upper() == "DD-MM-YYYY"


def test_the_collector_is_paused_only_while_a_workbook_is_written():
    """``collector_paused`` (the status report XLSX) turns the cyclic collector back on afterwards,
    also after an error, and leaves it off if it was off."""
    import gc

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with export.collector_paused():
            assert not gc.isenabled()
            raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    try:
        with export.collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("text", ["A\x0bB", "\x00\x01", "a\r\nb", "\ufffe", "x" * 40_000])
def test_xlsx_keeps_text_that_xml_cannot_carry(text):
    """Control characters are written as OOXML escapes (Excel shows the original), never a crash;
    text beyond Excel's 32 767 characters per cell is cut there."""
    data = export.xlsx_bytes([("Ark", ["tekst"], [[text]])])
    cell = load_workbook(io.BytesIO(data)).active["A2"]
    assert cell.data_type == "s"
    assert unescape(cell.value) == text[:32_767]


def test_a_control_character_in_a_title_does_not_break_the_activity_export(app, users, login_as):
    factories.ActivityFactory(title="Møde\x0bom planen")
    response = login_as(users["working_group"]).get("/aktiviteter/?format=xlsx")
    assert response.status_code == 200
    assert "Møde\x0bom planen" in xlsx_texts(response.data)


def test_no_other_module_writes_csv_or_xlsx():
    """crm/services/export.py is the one writer: elsewhere in crm/ no XlsxWriter, no openpyxl
    Workbook (openpyxl only reads uploads), no csv.writer."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "crm"
    found = []
    for path in sorted(root.rglob("*.py")):
        if path == root / "services" / "export.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [(alias.name, "") for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "", alias.name) for alias in node.names]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                names = [(node.value.id, node.attr)]
            else:
                continue
            for module, name in names:
                if (module.split(".")[0] == "xlsxwriter"
                        or (module.split(".")[0] == "openpyxl" and name in ("Workbook", "WriteOnlyCell"))
                        or (module == "csv" and name in ("writer", "DictWriter"))):
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {module} {name}".strip())
    assert found == []


@pytest.mark.parametrize("value, shown", [
    (date(1900, 2, 28), datetime(1900, 2, 28)), (date(1900, 3, 1), datetime(1900, 3, 1)),
    (date(2026, 11, 23), datetime(2026, 11, 23)), (datetime(2026, 7, 1, 3, 42), datetime(2026, 7, 1)),
])
def test_dates_are_date_cells_written_by_xlsxwriter(value, shown):
    """A date (a timestamp: its day) is a date cell shown 23-11-2026; XlsxWriter converts it to
    Excel's serial number (with Excel's 1900 leap-year quirk), both through ``write`` and ``write_rows``."""
    book = export.XlsxBook()
    sheet = book.sheet("Datoer")
    sheet.write(0, 0, value)
    sheet.write_rows(1, [(value,)], ("date",))
    cells = load_workbook(io.BytesIO(book.to_bytes())).active["A1":"A2"]
    for (cell,) in cells:
        assert cell.is_date and cell.value == shown and cell.number_format == "dd-mm-yyyy"


def test_no_excel_serial_dates_computed_by_hand():
    """XLSX dates go through XlsxWriter's own date writing; nothing in crm/ counts days from 1899/1900."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "crm"
    offenders = [str(path.relative_to(root.parent)) for path in root.rglob("*.py")
                 if any(word in path.read_text(encoding="utf-8") for word in ("1899", "excel_date", "EXCEL_DAY"))]
    assert offenders == []
