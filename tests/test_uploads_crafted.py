"""Crafted uploads: every import and upload path (activities and stage changes CSV/XLSX, outcomes,
.ics, plan PDF) refuses or bounds a small file that asks for a lot of work, quickly, with a clear
message, and stores nothing. The files come from ``tests/crafted_files.py`` (also used by
``bench/crafted_uploads.py``, which measures them up to the upload limit)."""
import io
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Activity, OutcomeQuarter, StageChange
from crm.services import ics_import
from crm.services.importing import ImportFileError, read_table
from crm.services.xlsx_reader import XlsxLimits, XlsxRefused, read_sheets
from tests import crafted_files as crafted

# Far above what the bounded readers take (milliseconds) and far below what the unbounded ones
# took (minutes to hours); generous because the test machine's cores are shared.
QUICK_SECONDS = 5.0


@pytest.fixture
def request_context(app):
    with app.test_request_context():
        yield


def quickly(function, *args, **kwargs):
    """Call ``function``; fail if it took longer than ``QUICK_SECONDS``."""
    started = time.perf_counter()
    try:
        return function(*args, **kwargs)
    finally:
        elapsed = time.perf_counter() - started
        assert elapsed < QUICK_SECONDS, f"took {elapsed:.1f} s"


def stored_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


# --- XLSX: every crafted workbook is refused before parsing, naming the limit ----------------------


CRAFTED_XLSX = {
    "dimension A1:XFD1048576": (crafted.xlsx_dimension_bomb, "1048576 rækker"),
    "shared-strings bomb": (crafted.xlsx_shared_strings_bomb, "zip-bombe"),
    "declared shared strings": (lambda: crafted.xlsx_declared_strings(10 ** 9), "forskellige tekster"),
    "zip-bomb member": (crafted.xlsx_zip_bomb, "200 MB udpakket"),
    "rows beyond the dimension": (crafted.xlsx_many_rows, "mere end 60000 rækker"),
    "row of two million cells": (crafted.xlsx_wide_row, "zip-bombe"),
    "billion laughs": (crafted.xlsx_entities, "DOCTYPE"),
    "bzip2 member": (crafted.xlsx_bzip2_member, "pakket på en måde"),
    "thousands of members": (crafted.xlsx_many_members, "for mange dele"),
}


@pytest.mark.parametrize("name", CRAFTED_XLSX)
def test_crafted_xlsx_is_refused_quickly_with_the_limit_named(request_context, name):
    build, message = CRAFTED_XLSX[name]
    data = build()
    with pytest.raises(ImportFileError) as refused:
        quickly(read_table, data, "fil.xlsx")
    assert message in str(refused.value)
    assert "linje" not in str(refused.value).lower()  # a file limit, not a line's problem


def test_the_issues_dimension_file_is_small(request_context):
    assert len(crafted.xlsx_dimension_bomb()) < 5 * 1024


def test_shared_strings_are_counted_when_the_count_is_left_out(request_context):
    data = crafted.xlsx_shared_strings_bomb(20_000)
    loose = XlsxLimits(ratio=10 ** 6)  # past the ratio check, to reach the count
    with pytest.raises(XlsxRefused, match="forskellige tekster"):
        quickly(read_sheets, data, limits=XlsxLimits(ratio=10 ** 6, shared_strings=10_000))
    assert read_sheets(data, limits=loose)[0].rows[0][1] == ["municipality"]


def test_cells_are_counted_whatever_the_dimension_says(request_context):
    with pytest.raises(XlsxRefused, match="celler"):
        quickly(read_sheets, crafted.xlsx_wide_row(100_000), limits=XlsxLimits(ratio=10 ** 6, cells=50_000))


def test_rows_are_limited_while_reading_when_the_file_skips_ahead(request_context):
    """Two row elements, the second numbered 1 000 000: the cheap checks pass, and the reader
    (which would yield every empty row in between) stops at the row limit."""
    sheet = crafted._sheet_xml("A1:A1", b'<row r="1000000"><c r="A1000000"><v>1</v></c></row>')
    data = crafted._rewrite(crafted.plain_xlsx(), {crafted.SHEET: sheet})
    with pytest.raises(XlsxRefused, match="mere end 60000 rækker"):
        quickly(read_sheets, data)


def test_extra_columns_are_refused_while_reading_only_when_they_hold_something(request_context):
    limits = XlsxLimits(columns=3)
    row = b'<row r="2"><c r="A2"><v>1</v></c><c r="E2" t="inlineStr"><is><t>x</t></is></c></row>'
    wide = crafted._rewrite(crafted.plain_xlsx(), {crafted.SHEET: crafted._sheet_xml("A1:C2", row)})  # it lies
    with pytest.raises(XlsxRefused, match="mere end 3 kolonner"):
        read_sheets(wide, limits=limits)
    padded = crafted.plain_xlsx([("a", "b", "c"), ("1", "2", "3")])
    assert read_sheets(padded, limits=limits)[0].rows == [(1, ["a", "b", "c"]), (2, ["1", "2", "3"])]


def test_damaged_workbooks_are_refused_not_a_crash(request_context):
    data = bytearray(crafted.plain_xlsx())
    start = bytes(data).find(b"xl/worksheets/sheet1.xml") + 40  # inside the sheet's deflated data
    for offset in range(start, start + 200, 7):
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        try:
            read_table(bytes(damaged), "fil.xlsx")
        except ImportFileError:
            pass
    with pytest.raises(ImportFileError):
        read_table(bytes(data[: len(data) // 2]), "fil.xlsx")


def test_an_ordinary_workbook_reads_every_sheet(request_context):
    sheets = read_sheets(crafted.plain_xlsx([("municipality", "quarter"), (751, "2025Q3")]))
    expected = [("Sheet", [(1, ["municipality", "quarter"]), (2, ["751", "2025Q3"])])]
    assert [(s.title, s.rows) for s in sheets] == expected


# --- CSV ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("build, message", [
    (crafted.csv_wide_record, "længere end 100000 tegn"),
    (crafted.csv_multiline_record, "længere end 100000 tegn"),
    (lambda: b"municipality," + b"ab," * 60 + b"\n751\n", "mere end 50 kolonner"),
])
def test_crafted_csv_is_refused_quickly(request_context, build, message):
    with pytest.raises(ImportFileError, match=message):
        quickly(read_table, build(), "fil.csv")


# --- .ics -----------------------------------------------------------------------------------------


def test_secondly_rule_without_count_stops_at_the_cap(request_context):
    data = crafted.ics_secondly()
    assert len(data) < 300
    with pytest.raises(ics_import.IcsError, match="mere end 2000 aftaler"):
        quickly(ics_import.read_events, data, date(2026, 3, 1), date(2026, 3, 31))


def test_secondly_rule_from_long_before_the_range_spends_the_budget(request_context):
    data = crafted.ics_secondly("19700101T000000Z")
    with pytest.raises(ics_import.IcsError, match="for mange gentagelser"):
        quickly(ics_import.read_events, data, date(2026, 3, 1), date(2026, 3, 31))


@pytest.mark.parametrize("extra", [";BYMONTH=2;BYMONTHDAY=30", ";BYMONTH=4;BYMONTHDAY=31;BYDAY=MO",
                                   ";UNTIL=20260301T090100Z", ";INTERVAL=3600", ";INTERVAL=604800;BYDAY=MO"])
def test_other_dense_or_impossible_rules_finish_quickly(request_context, extra):
    try:
        quickly(ics_import.read_events, crafted.ics_secondly(extra=extra), date(2026, 3, 1), date(2026, 3, 31))
    except ics_import.IcsError:
        pass


def test_daily_interval_with_day_filter_is_refused(request_context):
    """Every 7th day on Tuesdays, from a Monday: dateutil would walk to the year 9999 finding nothing."""
    data = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:never@x\r\nDTSTART:20260302T090000Z\r\n"
            "RRULE:FREQ=DAILY;INTERVAL=7;BYDAY=TU\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    with pytest.raises(ics_import.IcsError, match="ikke understøttes"):
        quickly(ics_import.read_events, data.encode(), date(2026, 3, 1), date(2026, 3, 31))


def test_impossible_date_rule_yields_nothing_and_other_events_still_come(request_context):
    data = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:feb30@x\r\nDTSTART:20260105T090000Z\r\n"
            "RRULE:FREQ=WEEKLY;BYMONTH=2;BYMONTHDAY=30\r\nSUMMARY:x\r\nEND:VEVENT\r\n"
            "BEGIN:VEVENT\r\nUID:once@x\r\nDTSTART:20260310T090000Z\r\nSUMMARY:Workshop\r\nEND:VEVENT\r\n"
            "END:VCALENDAR\r\n")
    proposals = quickly(ics_import.read_events, data.encode(), date(2026, 3, 1), date(2026, 3, 31))
    assert [p.key for p in proposals] == ["ics:once@x"]


def test_weekly_series_from_years_ago_still_expands(request_context):
    data = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:weekly@x\r\nDTSTART:20100104T090000Z\r\n"
            "DTEND:20100104T100000Z\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Netværksmøde\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    proposals = ics_import.read_events(data.encode(), date(2026, 3, 1), date(2026, 3, 31))
    assert [p.start_date.day for p in proposals] == [2, 9, 16, 23, 30]


@pytest.mark.parametrize("build, message", [
    (crafted.ics_many_events, "mere end 5000 aftaler"),
    (crafted.ics_many_lines, "mere end 30000 linjer"),
])
def test_big_calendars_are_refused_before_parsing(request_context, build, message):
    with pytest.raises(ics_import.IcsError, match=message):
        quickly(ics_import.read_events, build(), date(2026, 3, 1), date(2026, 3, 31))


# --- Through every upload form: refused, clear, nothing stored ------------------------------------


def _activity_and_stage_counts():
    return (db.session.scalar(select(func.count(Activity.id))),
            db.session.scalar(select(func.count(StageChange.id))))


@pytest.mark.parametrize("kind", ["activities", "stages"])
@pytest.mark.parametrize("build, filename, message", [
    (crafted.xlsx_dimension_bomb, "fil.xlsx", "1048576 rækker"),
    (crafted.xlsx_shared_strings_bomb, "fil.xlsx", "zip-bombe"),
    (crafted.xlsx_zip_bomb, "fil.xlsx", "udpakket"),
    (crafted.csv_wide_record, "fil.csv", "længere end 100000 tegn"),
])
def test_import_page_refuses_crafted_files(app, users, login_as, kind, build, filename, message):
    before = _activity_and_stage_counts()
    client = login_as(users["ambassador"])
    response = quickly(client.post, "/import/", data={"kind": kind, f"{kind}-file": (io.BytesIO(build()), filename)},
                       content_type="multipart/form-data")
    assert response.status_code == 200 and message in response.text
    assert 'name="token"' not in response.text
    assert stored_files(app) == []
    assert _activity_and_stage_counts() == before


@pytest.mark.parametrize("build, message", [
    (crafted.xlsx_dimension_bomb, "1048576 rækker"),
    (crafted.xlsx_shared_strings_bomb, "zip-bombe"),
    (crafted.xlsx_zip_bomb, "udpakket"),
    (crafted.xlsx_entities, "DOCTYPE"),
])
def test_outcome_import_refuses_crafted_files(app, users, login_as, build, message):
    client = login_as(users["ambassador"])
    response = quickly(client.post, "/resultater/import", data={"outcomes-file": (io.BytesIO(build()), "star.xlsx")},
                       content_type="multipart/form-data")
    assert response.status_code == 200 and message in response.text
    assert stored_files(app) == []
    assert db.session.scalar(select(func.count(OutcomeQuarter.id))) == 0


def test_outcome_cli_refuses_a_crafted_file(app, runner, tmp_path):
    path = tmp_path / "star.xlsx"
    path.write_bytes(crafted.xlsx_dimension_bomb())
    result = quickly(runner.invoke, args=["import", "outcomes", str(path)])
    assert result.exit_code == 1 and "1048576 rækker" in result.output
    assert db.session.scalar(select(func.count(OutcomeQuarter.id))) == 0


@pytest.mark.parametrize("build, message", [
    (crafted.ics_secondly, "mere end 2000 aftaler"),
    (lambda: crafted.ics_secondly("19700101T000000Z"), "for mange gentagelser"),
    (crafted.ics_many_lines, "mere end 30000 linjer"),
])
def test_calendar_import_refuses_crafted_files(app, users, login_as, build, message):
    client = login_as(users["ambassador"])
    response = quickly(client.post, "/kalender/import", data={
        "start": "01-03-2026", "end": "31-03-2026", "file": (io.BytesIO(build()), "kalender.ics")},
        content_type="multipart/form-data")
    assert response.status_code == 200 and message in response.text
    assert stored_files(app) == []
    assert db.session.scalar(select(func.count(Activity.id))) == 0


def test_plan_pdf_over_the_limit_is_refused_without_reading_it_all(app, users, login_as):
    app.config["MAX_UPLOAD_BYTES"] = 64 * 1024
    client = login_as(users["ambassador"])
    form = {"title": "Samarbejdsplan Kbh/Frb", "region": "1084", "municipalities": ["101", "147"],
            "signed_date": "", "valid_from": "01-05-2025", "valid_to": "31-12-2027", "note": "",
            "document": (io.BytesIO(crafted.pdf_oversized(64 * 1024)), "plan.pdf")}
    response = quickly(client.post, "/planer/ny", data=form, content_type="multipart/form-data")
    assert response.status_code == 400 and "Filen er for stor" in response.text
    assert stored_files(app) == []
