"""Spreadsheets both ways (issue 14.6): every CSV export button gives the Danish Excel dialect
(``;``, dates 23-11-2026, decimal comma, UTF-8 with BOM, CRLF), the documented machine formats stay
as they are, and a Danish-Excel export of activities imports back unchanged."""
import csv
import html
import io
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from crm.extensions import db
from crm.models import Activity, Municipality, OutcomeQuarter
from crm.services import export, fidelity
from crm.services import report as report_service
from crm.services.activities import ActivityImporter
from crm.services.importing import check_file
from tests import factories

BOM = "\ufeff".encode("utf-8")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
POINT_DECIMAL = re.compile(r"^-?\d+\.\d+$")
TITLE = 'Kursus; "IPS" i praksis, æøå'
NOTE = "Linje 1\nLinje 2; med semikolon, og komma"
CONTACT = "Søren Ærø; leder"
PLAN = "Plan for Kbh; 2025"
H1 = {"start": "2025-01-01", "end": "2025-06-30"}


@pytest.fixture
def world(app, users):
    """One record of every exported kind, with dates, decimals and Danish text with ; and quotes."""
    copenhagen, frederiksberg = db.session.get(Municipality, 101), db.session.get(Municipality, 147)
    factories.ActivityFactory(type="course", title=TITLE, start_date=date(2025, 3, 4), region_code=1084,
                              municipalities=[copenhagen, frederiksberg], hours=Decimal("12.5"), participants=23,
                              note=NOTE)
    factories.ActivityFactory(type="supervision", title="Supervision af team", start_date=date(2025, 3, 5),
                              region_code=1084, municipalities=[copenhagen], hours=Decimal("12.5"), participants=4)
    factories.ActivityFactory(type="webinar", title="-1 Webinar om IPS", start_date=date(2025, 5, 20), region_code=None,
                              hours=Decimal("2.25"), participants=1200, note="=SUM(A1) er ikke en formel")
    factories.StageChangeFactory(municipality_code=101, stage="plan_signed", effective_date=date(2025, 3, 4))
    factories.TaskFactory(municipality_code=101, text="Følg op; ring", due_date=date(2025, 12, 24))
    factories.ContactFactory(name=CONTACT, municipality_code=101)
    factories.PlanFactory(title=PLAN, signed_date=date(2025, 3, 4), municipalities=[copenhagen])
    scores = {item.key: 3 for item in fidelity.scale_items()}
    fidelity.write_review(None, 101, {"review_date": date(2025, 4, 1)},
                          {key: (score, None) for key, score in scores.items()})
    db.session.add(OutcomeQuarter(municipality_code=101, quarter="2025Q3", citizens=8, with_paid_hours=3,
                                  with_employment=2, with_education=1, ever_paid_hours_or_education=5))
    db.session.commit()
    submission = report_service.submit_report(date(2025, 1, 1), date(2025, 6, 30), actor=users["admin"])
    db.session.commit()
    return {"submission": submission.id}


def reopen_the_submitted_half(world, admin) -> None:
    """The world's submission locks its activities (1. halvår 2025); a test that imports them back
    reopens the period for Hovedstaden and the national activities first, as an admin would."""
    from crm.models import ReportSubmission
    from crm.services import period_locks

    submission = db.session.get(ReportSubmission, world["submission"])
    for region in ("1084", period_locks.NATIONAL):
        period_locks.reopen_period(submission, region, "Genindlæsning af eksporten", actor=admin)


def excel_link(page_html: str) -> str:
    """The href of the page's (first) "CSV (Excel)" button."""
    links = re.findall(r'<a [^>]*href="([^"]+)"[^>]*>\s*(?:Eksportér )?CSV \(Excel\)\s*</a>', page_html)
    assert links
    return html.unescape(links[0])


def excel_rows(data: bytes) -> list[list[str]]:
    """A Danish-Excel CSV as rows, after checking BOM, CRLF and that every row has the header's width."""
    assert data.startswith(BOM)
    text = data.decode("utf-8")[1:]
    assert text.endswith("\r\n") and text.split("\n", 1)[0].endswith("\r")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert len(rows[0]) > 1  # not everything in one column
    assert all(len(row) == len(rows[0]) for row in rows)
    return rows


# (page, what the CSV (Excel) file must hold: dates DD-MM-YYYY, decimal commas, text as stored)
PAGES = [
    ("/aktiviteter/", {"04-03-2025", "20-05-2025", "12,5", "2,25", "1200", "23", TITLE, NOTE, "'-1 Webinar om IPS",
                       "'=SUM(A1) er ikke en formel"}),
    ("/kommuner/", {"04-03-2025", "24-12-2025", "Følg op; ring"}),
    ("/kontakter/", {CONTACT}),
    ("/planer/", {"04-03-2025", PLAN}),
    ("/fidelitet/", {"01-04-2025"}),
    ("/resultater/?quarter=2025Q3", {"62,5", "2025Q3", "8"}),
    ("/rapporter/?start=2025-01-01&end=2025-06-30", {"12,5", "metric", "1084", "total"}),
    ("/rapporter/indsendelser/{submission}", {"12,5", "metric", "1084", "total"}),
]


@pytest.mark.parametrize("page, expected", PAGES)
def test_every_csv_button_gives_the_danish_excel_dialect(world, users, login_as, page, expected):
    client = login_as(users["admin"])
    response = client.get(page.format(**world))
    assert response.status_code == 200
    download = client.get(excel_link(response.get_data(as_text=True)))
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"].endswith('.csv"')
    fields = [field for row in excel_rows(download.data) for field in row]
    assert expected <= set(fields)
    assert [f for f in fields if ISO_DATE.match(f) or POINT_DECIMAL.match(f)] == []


def test_the_report_submissions_list_offers_the_excel_csv(world, users, login_as):
    client = login_as(users["admin"])
    page = client.get("/rapporter/?start=2025-01-01&end=2025-06-30").get_data(as_text=True)
    url = f"/rapporter/indsendelser/{world['submission']}-excel.csv"
    assert f'href="{url}"' in page
    assert "12,5" in {f for row in excel_rows(client.get(url).data) for f in row}


def test_the_excel_report_is_the_machine_report_in_another_dialect(world, users, login_as):
    """Same rows, same keys, same figures: only separator and decimal mark differ."""
    client = login_as(users["working_group"])
    machine = client.get("/rapporter/eksport.csv?start=2025-01-01&end=2025-06-30")
    excel = client.get("/rapporter/eksport-excel.csv?start=2025-01-01&end=2025-06-30")
    machine_rows = list(csv.reader(io.StringIO(machine.data.decode("utf-8-sig"), newline="")))
    assert [[f.replace(".", ",") for f in row] for row in machine_rows] == excel_rows(excel.data)


def test_the_machine_formats_stay_reachable_and_unchanged(world, users, login_as):
    client = login_as(users["admin"])
    page = client.get("/rapporter/?start=2025-01-01&end=2025-06-30").get_data(as_text=True)
    assert 'href="/rapporter/eksport.csv?start=2025-01-01&amp;end=2025-06-30"' in page
    report = client.get("/rapporter/eksport.csv?start=2025-01-01&end=2025-06-30")
    assert report.data.startswith("\ufeffmetric,1081,1082,1083,1084,1085,total\r\n".encode("utf-8"))
    assert report.data == report_service.report_to_csv(report_service.status_report(date(2025, 1, 1),
                                                                                     date(2025, 6, 30)))
    frozen = client.get(f"/rapporter/indsendelser/{world['submission']}.csv")
    assert frozen.data == report.data
    activities = client.get("/aktiviteter/?format=csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(activities, newline="")))
    assert rows[0][0] == "Startdato" and {"2025-03-04", "12.5", TITLE} <= {f for row in rows for f in row}


def test_excel_dialect_writes_danish_fields_and_neutralises_text_exactly_like_the_machine_one():
    payloads = ['=HYPERLINK("http://evil.example","x")', "+1", "-1+2", "@SUM(A1)", "\tX", "\rX", "\0X", "-1"]
    assert [export.excel_csv_field(p) for p in payloads] == [export.csv_field(p) for p in payloads]
    assert all(export.excel_csv_field(p).startswith("'") for p in payloads)
    row = [-2.5, Decimal("12.50"), 1200, 0, None, date(2026, 11, 23), datetime(2026, 7, 1, 3, 42), "a;b", True]
    text = export.csv_bytes(["=h", "b"], [row], excel=True).decode("utf-8")
    # 03:42 UTC on 1 July is 05:42 in Copenhagen (summer time).
    assert text == ("\ufeff'=h;b\r\n"
                    '-2,5;12,5;1200;0;;23-11-2026;01-07-2026 05:42;"a;b";True\r\n')
    # The machine dialect is what it was.
    assert export.csv_bytes(["a", "b"], [[-2.5, date(2026, 11, 23)]]) == "\ufeffa,b\r\n-2.5,2026-11-23\r\n".encode()


@pytest.mark.parametrize("fmt", ["csv-excel", "csv", "xlsx"])
def test_a_danish_excel_export_of_activities_imports_back_unchanged(world, users, login_as, fmt):
    """The Danish Excel CSV, and the machine CSV and XLSX alike."""
    reopen_the_submitted_half(world, users["admin"])
    client = login_as(users["admin"])
    data = client.get(f"/aktiviteter/?format={fmt}").data
    filename = f"aktiviteter.{'xlsx' if fmt == 'xlsx' else 'csv'}"
    stored = {a.title: (a.type, a.start_date, a.region_code, sorted(m.code for m in a.municipalities),
                        a.participants, a.hours, a.note)
              for a in db.session.scalars(select(Activity))}

    again = check_file(ActivityImporter(users["admin"]), data, filename)
    assert again.errors == []
    assert (again.total_rows, again.duplicates_already_present, again.changed_rows, again.good_rows) == (3, 3, 0, 0)

    # Into an empty log, the same file gives the same activities.
    db.session.execute(delete(Activity.__table__))
    db.session.commit()
    fresh = check_file(ActivityImporter(users["admin"]), data, filename)
    assert fresh.errors == [] and fresh.good_rows == 3
    fresh.apply()
    db.session.expire_all()
    imported = {a.title: (a.type, a.start_date, a.region_code, sorted(m.code for m in a.municipalities),
                          a.participants, a.hours, a.note)
                for a in db.session.scalars(select(Activity))}
    assert imported == stored


def test_an_ambassador_reimports_their_own_excel_export(world, users, login_as):
    """The page's own button, in the ambassador's region; the import page says nothing is new."""
    client = login_as(users["ambassador"])
    data = client.get("/aktiviteter/?region=1084&format=csv-excel").data
    result = check_file(ActivityImporter(users["ambassador"]), data, "aktiviteter.csv")
    assert result.errors == [] and result.duplicates_already_present == 2 and result.good_rows == 0


def test_a_changed_figure_in_an_excel_export_is_listed_and_applied_to_the_logged_activity(world, users, login_as):
    reopen_the_submitted_half(world, users["admin"])
    client = login_as(users["admin"])
    data = client.get("/aktiviteter/?format=csv-excel").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(data.lstrip("\ufeff"), newline=""), delimiter=";"))
    changed = next(row for row in rows if row[4] == TITLE)
    changed[9] = "13,5"
    edited = export.csv_bytes(rows[0], rows[1:], excel=True)
    result = check_file(ActivityImporter(users["admin"]), edited, "aktiviteter.csv")
    assert result.errors == [] and (result.changed_rows, result.good_rows) == (1, 0)
    result.apply(apply_changes=True)
    db.session.expire_all()
    assert db.session.scalar(select(Activity.hours).where(Activity.title == TITLE)) == Decimal("13.5")
    assert len(db.session.scalars(select(Activity)).all()) == 3


def test_an_imported_activity_renamed_on_the_page_imports_back_as_present(world, users, login_as):
    activity = db.session.scalar(select(Activity).where(Activity.title == TITLE))
    activity.import_key = "import:an-old-key"
    activity.title = "Omdøbt kursus"
    db.session.commit()
    data = login_as(users["admin"]).get("/aktiviteter/?format=csv-excel").data
    result = check_file(ActivityImporter(users["admin"]), data, "aktiviteter.csv")
    assert result.errors == [] and (result.duplicates_already_present, result.good_rows) == (3, 0)


def test_an_english_export_imports_back_on_a_danish_page(world, users, login_as):
    """Headers, type labels and "National" in English are read like the Danish ones (here by the CLI)."""
    users["admin"].locale = "en"
    db.session.commit()
    data = login_as(users["admin"]).get("/aktiviteter/?format=csv-excel").data
    assert data.decode("utf-8-sig").startswith("Start date;") and ";National;" in data.decode("utf-8-sig")
    result = check_file(ActivityImporter(None), data, "activities.csv")
    assert result.errors == [] and (result.duplicates_already_present, result.good_rows) == (3, 0)


def test_the_import_page_finds_nothing_new_in_the_list_s_excel_export(world, users, login_as):
    """Through the page, as people do it: download CSV (Excel), upload it on /import/."""
    client = login_as(users["admin"])
    data = client.get("/aktiviteter/?format=csv-excel").data
    response = client.post("/import/", data={"kind": "activities", "activities-file": (io.BytesIO(data), "akt.csv")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'data-count="present">\s*3\s*<', page)
    assert "Alle rækker findes allerede; der er intet nyt at importere." in page
