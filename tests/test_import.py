"""Spreadsheet import of activities and stage changes: the check report, all-or-nothing, re-import,
Danish Excel CSV, XLSX, the command line and the region rule."""
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Activity, AuditEntry, StageChange
from crm.services.activities import ActivityImporter
from crm.services.importing import (
    GOOD_ROWS_ONLY,
    ImportRefused,
    check_file,
    parse_date_text,
    parse_decimal_text,
    read_table,
)
from crm.services.stage_import import StageImporter
from tests.factories import StageChangeFactory

HEADER = "date,type,title,region,municipalities,participants,hours,note"


def csv_file(lines, sep=",", bom=False, encoding="utf-8") -> bytes:
    """Join lines into CSV bytes; ``sep`` replaces the commas of the lines given."""
    text = "\r\n".join(line.replace(",", sep) if sep != "," else line for line in lines) + "\r\n"
    return (("\ufeff" if bom else "") + text).encode(encoding)


def activity_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Activity))


def where(result) -> set[tuple[int, str | None]]:
    """The (line, column) pairs of the report."""
    return {(e.line, e.column) for e in result.errors}


@pytest.fixture(autouse=True)
def request_context(app):
    """Danish messages are rendered through the locale selector, which reads the session."""
    with app.test_request_context():
        yield


GOOD_ROWS = [
    "2025-03-05,dialogue_meeting,Dialogmøde med Jobcenter København,1084,101|147,12,2.5,første møde",
    "06-03-2025,course,IPS-grundkursus hold 1,1084,101,20,14,",
    "2025-03-07,webinar,Webinar om IPS for ledere,,,85,1.5,landsdækkende",
]


# ---------------------------------------------------------------------------------------------
# Field parsers


def test_field_parsers_accept_iso_and_danish_forms():
    assert parse_date_text("2025-03-05") == date(2025, 3, 5)
    assert parse_date_text("05-03-2025") == date(2025, 3, 5)
    assert parse_date_text("5.3.2025") == date(2025, 3, 5)
    assert parse_date_text("31-02-2025") is None
    assert parse_date_text("05-03-0205") is None
    assert parse_decimal_text("2,5") == Decimal("2.5")
    assert parse_decimal_text("2.5") == Decimal("2.5")
    assert parse_decimal_text("1.234,5") == Decimal("1234.5")
    assert parse_decimal_text("to") is None


def test_read_table_sniffs_separator_and_bom():
    table = read_table(csv_file(["a;b", "1;2,5"], bom=True), "x.csv")
    assert table.header == ["a", "b"] and table.rows == [(2, ["1", "2,5"])]
    table = read_table(b"a,b\n\n1,2\n", "x.csv")
    assert table.rows == [(3, ["1", "2"])]  # blank line skipped, line numbers stay true


# ---------------------------------------------------------------------------------------------
# Activity import: the report


def test_every_kind_of_error_is_reported_with_line_and_column_and_nothing_is_written(app, users):
    lines = [
        HEADER,
        GOOD_ROWS[0],                                                          # 2 good
        "31-02-2025,dialogue_meeting,Møde,1084,101,3,1,",                      # 3 bad date
        "2025-03-05,meeting,Møde,1084,101,3,1,",                               # 4 unknown type
        "2025-03-05,workshop,Workshop,1084,101,-4,1,",                         # 5 negative number
        "2025-03-05,workshop,Workshop i Køge,1085,259,4,1,",                   # 6 region user may not write
        "2025-03-05,workshop,Workshop,1084,101|999,4,1,",                      # 7 unknown municipality code
        GOOD_ROWS[0],                                                          # 8 duplicate of line 2
        "2025-03-05,workshop,Workshop,1084,101,4,to,",                         # 9 not a number
        "2025-03-05,workshop,Workshop,1099,101,4,1,",                          # 10 unknown region code
        "2025-03-05,supervision,,1084,101,4.5,1,",                             # 11 no title; not a whole number
        ",supervision,Supervision,1084,101,,-1,",                              # 12 missing date; negative hours
    ]
    before_audit = db.session.scalar(select(func.count()).select_from(AuditEntry))
    result = check_file(ActivityImporter(users["ambassador"]), csv_file(lines), "aktiviteter.csv")

    assert where(result) == {
        (3, "date"), (4, "type"), (5, "participants"), (6, "region"), (7, "municipalities"), (8, None),
        (9, "hours"), (10, "region"), (11, "title"), (11, "participants"), (12, "date"), (12, "hours"),
    }
    messages = {(e.line, e.column): e.message for e in result.errors}
    assert "999" in messages[(7, "municipalities")]
    assert "linje 2" in messages[(8, None)]
    assert "1085" in messages[(6, "region")]
    assert [e.line for e in result.errors] == sorted(e.line for e in result.errors)
    assert (result.total_rows, result.good_rows, result.error_rows) == (11, 1, 10)

    with pytest.raises(ImportRefused):
        result.apply()
    assert activity_count() == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before_audit


def test_missing_and_unknown_columns_stop_the_whole_file(app, users):
    lines = ["date,type,title,region,municipalities,participants,varighed,note", GOOD_ROWS[0]]
    result = check_file(ActivityImporter(users["admin"]), csv_file(lines), "x.csv")
    assert result.fatal
    assert where(result) == {(1, "varighed"), (1, "hours")}
    with pytest.raises(ImportRefused):
        result.apply(GOOD_ROWS_ONLY)
    assert activity_count() == 0


def test_header_matches_regardless_of_case_spaces_and_order(app, users):
    lines = [" Title ,DATE,type,region,municipalities,participants,hours,note",
             "Dialogmøde i Frederiksberg,2025-04-01,dialogue_meeting,1084,147,5,1,"]
    result = check_file(ActivityImporter(users["ambassador"]), csv_file(lines), "x.csv")
    assert result.ok and result.good_rows == 1


def test_unreadable_file_is_a_report_not_a_crash(app, users):
    for data, name in ((b"", "x.csv"), (b"PK\x03\x04garbage", "x.xlsx"), (b"\xd0\xcf\x11\xe0", "old.xls")):
        result = check_file(ActivityImporter(users["admin"]), data, name)
        assert result.fatal and result.errors[0].line == 1


# ---------------------------------------------------------------------------------------------
# Activity import: writing


def test_clean_file_imports_and_a_second_import_adds_nothing(app, users):
    data = csv_file([HEADER, *GOOD_ROWS])
    first = check_file(ActivityImporter(users["ambassador"]), data, "a.csv")
    assert first.ok and first.good_rows == 3
    outcome = first.apply()
    assert (outcome.created, outcome.skipped_present) == (3, 0)
    assert activity_count() == 3

    meeting = db.session.scalar(select(Activity).where(Activity.type == "dialogue_meeting"))
    assert meeting.start_date == date(2025, 3, 5) and meeting.region_code == 1084
    assert sorted(m.code for m in meeting.municipalities) == [101, 147]
    assert (meeting.participants, meeting.hours, meeting.note) == (12, Decimal("2.50"), "første møde")
    assert meeting.created_by_id == users["ambassador"].id
    national = db.session.scalar(select(Activity).where(Activity.type == "webinar"))
    assert national.region_code is None and national.municipalities == []

    second = check_file(ActivityImporter(users["ambassador"]), data, "a.csv")
    assert second.ok and second.good_rows == 0 and second.duplicates_already_present == 3
    assert second.apply().skipped_present == 3
    assert activity_count() == 3


def test_good_rows_only_imports_exactly_the_good_rows(app, users):
    lines = [HEADER, GOOD_ROWS[0], "2025-13-01,workshop,Dårlig,1084,101,1,1,", GOOD_ROWS[1],
             "2025-03-05,workshop,Anden region,1083,461,1,1,", GOOD_ROWS[1]]
    result = check_file(ActivityImporter(users["ambassador"]), csv_file(lines), "x.csv")
    assert where(result) == {(3, "date"), (5, "region"), (6, None)}
    outcome = result.apply(GOOD_ROWS_ONLY)
    assert (outcome.created, outcome.skipped_errors) == (2, 3)
    titles = set(db.session.scalars(select(Activity.title)))
    assert titles == {"Dialogmøde med Jobcenter København", "IPS-grundkursus hold 1"}


def test_csv_saved_by_danish_excel_imports(app, users):
    lines = [
        "date;type;title;region;municipalities;participants;hours;note",
        "05-03-2025;dialogue_meeting;Dialogmøde med Jobcenter Aarhus og Psykiatrien;1082;751;14;2,5;Aftalt næste skridt",
        "12-03-2025;course;\"Undervisning; modul 1\";1082;751|727;22;3,75;",
    ]
    data = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
    result = check_file(ActivityImporter(None), data, "aktiviteter.csv")
    assert result.ok, result.errors
    result.apply()
    rows = {a.title: a for a in db.session.scalars(select(Activity))}
    meeting = rows["Dialogmøde med Jobcenter Aarhus og Psykiatrien"]
    assert meeting.start_date == date(2025, 3, 5) and meeting.hours == Decimal("2.50") and meeting.participants == 14
    assert meeting.note == "Aftalt næste skridt"
    course = rows["Undervisning; modul 1"]
    assert course.hours == Decimal("3.75") and sorted(m.code for m in course.municipalities) == [727, 751]


def test_windows_1252_csv_from_older_excel_imports(app, users):
    lines = ["date;type;title;region;municipalities;participants;hours;note",
             "05-03-2025;workshop;Workshop i Køge om samarbejde;1085;259;9;2,5;"]
    result = check_file(ActivityImporter(None), csv_file(lines, encoding="cp1252"), "x.csv")
    assert result.ok
    result.apply()
    assert db.session.scalar(select(Activity.title)) == "Workshop i Køge om samarbejde"


def test_xlsx_import(app, users):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER.split(","))
    sheet.append([datetime(2025, 5, 2), "supervision", "Supervision af IPS-team Aarhus", 1082, 751, 6, 1.5, None])
    sheet.append(["02-06-2025", "conference", "IPS-konference 2025", None, "101|751", 140, 7, "national"])
    sheet.append([datetime(2025, 5, 2), "supervision", "Dårlig", 1082, 751, -1, 1, None])
    buffer = io.BytesIO()
    workbook.save(buffer)

    result = check_file(ActivityImporter(users["admin"]), buffer.getvalue(), "aktiviteter.xlsx")
    assert where(result) == {(4, "participants")}
    result.apply(GOOD_ROWS_ONLY)
    supervision = db.session.scalar(select(Activity).where(Activity.type == "supervision"))
    assert supervision.start_date == date(2025, 5, 2) and supervision.hours == Decimal("1.50")
    assert supervision.participants == 6 and [m.code for m in supervision.municipalities] == [751]
    conference = db.session.scalar(select(Activity).where(Activity.type == "conference"))
    assert conference.region_code is None and conference.participants == 140


def test_region_rule_for_imports(app, users):
    lines = [HEADER, "2025-03-05,workshop,Workshop i Køge,1085,259,4,1,",
             "2025-03-06,webinar,Landsdækkende webinar,,,40,1,"]
    own = check_file(ActivityImporter(users["ambassador_b"]), csv_file(lines), "x.csv")
    assert own.ok and own.good_rows == 2
    other = check_file(ActivityImporter(users["ambassador"]), csv_file(lines), "x.csv")
    assert where(other) == {(2, "region")}
    group = check_file(ActivityImporter(users["working_group"]), csv_file(lines), "x.csv")
    assert where(group) == {(2, "region"), (3, "region")}


# ---------------------------------------------------------------------------------------------
# Stage import


STAGE_HEADER = "municipality,stage,date,note"


def test_stage_import_reports_errors_and_then_imports_and_skips_what_is_present(app, users):
    StageChangeFactory(municipality_code=101, stage="dialogue", effective_date=date(2025, 1, 15))
    bad = [STAGE_HEADER,
           "101,dialogue,15-01-2025,",            # 2 identical to what is recorded → already present
           "101,plan_signed,2025-01-15,",         # 3 same date, other stage → error
           "147,plan_in_progress,2025-02-01,",    # 4 good
           "999,dialogue,2025-02-01,",            # 5 unknown municipality
           "147,signed,2025-03-01,",              # 6 unknown stage
           "751,dialogue,2025-02-01,",            # 7 Aarhus: region the ambassador may not write
           "147,plan_in_progress,2025-02-01,",    # 8 duplicate of 4
           "147,dialogue,2025-02-01,"]            # 9 clashes with 4 (same municipality and date)
    result = check_file(StageImporter(users["ambassador"]), csv_file(bad), "faser.csv")
    assert where(result) == {(3, "stage"), (5, "municipality"), (6, "stage"), (7, "municipality"), (8, None), (9, None)}
    assert result.duplicates_already_present == 1 and result.good_rows == 1
    with pytest.raises(ImportRefused):
        result.apply()
    assert db.session.scalar(select(func.count()).select_from(StageChange)) == 1

    clean = csv_file([STAGE_HEADER, "101,dialogue,15-01-2025,", "147,plan_in_progress,2025-02-01,Udkast sendt",
                      "147,plan_signed,01-06-2025,Underskrevet"], sep=";", bom=True)
    first = check_file(StageImporter(users["ambassador"]), clean, "faser.csv")
    assert first.ok and first.good_rows == 2 and first.duplicates_already_present == 1
    first.apply()
    stored = set(db.session.execute(select(StageChange.municipality_code, StageChange.stage, StageChange.effective_date)))
    assert stored == {(101, "dialogue", date(2025, 1, 15)), (147, "plan_in_progress", date(2025, 2, 1)),
                      (147, "plan_signed", date(2025, 6, 1))}
    second = check_file(StageImporter(users["ambassador"]), clean, "faser.csv")
    assert second.good_rows == 0 and second.duplicates_already_present == 3


# ---------------------------------------------------------------------------------------------
# Command line


def test_cli_exits_non_zero_with_the_report_on_a_bad_file_and_zero_on_a_good_one(runner, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_file([HEADER, GOOD_ROWS[0], "2025-03-05,meeting,Møde,1084,101,-3,1,"]))
    result = runner.invoke(args=["import", "activities", str(bad)])
    assert result.exit_code == 1
    assert "linje 3, kolonne type" in result.output and "linje 3, kolonne participants" in result.output
    assert activity_count() == 0

    partial = runner.invoke(args=["import", "activities", str(bad), "--good-rows-only"])
    assert partial.exit_code == 0 and "Importeret: 1" in partial.output
    assert activity_count() == 1

    good = tmp_path / "good.csv"
    good.write_bytes(csv_file([HEADER, *GOOD_ROWS]))
    assert runner.invoke(args=["import", "activities", str(good)]).exit_code == 0
    again = runner.invoke(args=["import", "activities", str(good)])
    assert again.exit_code == 0 and "Importeret: 0" in again.output and "findes allerede: 3" in again.output
    assert activity_count() == 3
    actors = set(db.session.scalars(select(AuditEntry.actor).where(AuditEntry.entity == "activity")))
    assert actors == {"cli (admin)"}


def test_cli_stage_import(runner, tmp_path):
    path = tmp_path / "faser.csv"
    path.write_bytes(csv_file([STAGE_HEADER, "751,dialogue,2025-02-01,", "751,bogus,2025-03-01,"]))
    bad = runner.invoke(args=["import", "stages", str(path)])
    assert bad.exit_code == 1 and "linje 3, kolonne stage" in bad.output
    path.write_bytes(csv_file([STAGE_HEADER, "751,dialogue,2025-02-01,"]))
    assert runner.invoke(args=["import", "stages", str(path)]).exit_code == 0
    assert db.session.scalar(select(StageChange.stage).where(StageChange.municipality_code == 751)) == "dialogue"
    missing = tmp_path / "missing.csv"
    missing.write_bytes(csv_file(["municipality,stage", "751,dialogue"]))
    result = runner.invoke(args=["import", "stages", str(missing)])
    assert result.exit_code == 1 and "linje 1, kolonne date" in result.output


# ---------------------------------------------------------------------------------------------
# The import pages


def _upload(client, kind, data, filename="fil.csv"):
    return client.post("/import/", data={"kind": kind, f"{kind}-file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def _token(html: str) -> str:
    import re

    return re.search(r'name="token" value="([A-Za-z0-9_-]{32})"', html).group(1)


def _confirm(client, kind, token, mode):
    return client.post("/import/bekraeft", data={"kind": kind, "token": token, "mode": mode})


def test_upload_shows_every_problem_then_good_rows_only_on_confirmation(app, users, login_as):
    client = login_as(users["ambassador"])
    assert client.get("/import/").status_code == 200
    data = csv_file([HEADER, GOOD_ROWS[0], "2025-03-05,workshop,Workshop i Køge,1085,259,4,1,", GOOD_ROWS[1]])
    response = _upload(client, "activities", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<td>3</td><td><code>region</code></td>" in html
    assert "Importér kun de 2 gode rækker" in html
    assert activity_count() == 0

    confirmed = _confirm(client, "activities", _token(html), "good_rows_only")
    assert confirmed.status_code == 302
    assert activity_count() == 2
    # The token is spent: a second confirmation finds nothing.
    assert _confirm(client, "activities", _token(html), "good_rows_only").status_code == 404


def test_confirming_without_choosing_good_rows_only_writes_nothing(app, users, login_as):
    client = login_as(users["ambassador"])
    data = csv_file([HEADER, GOOD_ROWS[0], "2025-03-05,workshop,Dårlig,1084,101,-1,1,"])
    html = _upload(client, "activities", data).get_data(as_text=True)
    response = _confirm(client, "activities", _token(html), "all_or_nothing")
    assert response.status_code == 409 and activity_count() == 0


def test_clean_upload_imports_after_confirmation(app, users, login_as):
    client = login_as(users["admin"])
    html = _upload(client, "stages", csv_file([STAGE_HEADER, "751,dialogue,2025-02-01,"])).get_data(as_text=True)
    # One row, in the singular (issue 14 found "Importér 1 rækker").
    assert "Importér 1 række<" in html and db.session.scalar(select(func.count()).select_from(StageChange)) == 0
    assert _confirm(client, "stages", _token(html), "all_or_nothing").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(StageChange)) == 1


def test_import_pages_region_rule_and_token_ownership(app, users, login_as):
    group = login_as(users["working_group"])
    assert group.get("/import/").status_code == 403
    assert _upload(group, "activities", csv_file([HEADER, GOOD_ROWS[0]])).status_code == 403

    owner = login_as(users["ambassador"])
    html = _upload(owner, "activities", csv_file([HEADER, GOOD_ROWS[0]])).get_data(as_text=True)
    token = _token(html)
    other = login_as(users["ambassador_b"])
    assert _confirm(other, "activities", token, "all_or_nothing").status_code == 404
    assert _confirm(group, "activities", token, "all_or_nothing").status_code == 403
    assert _confirm(owner, "activities", "../../etc/passwd", "all_or_nothing").status_code == 404
    assert _confirm(owner, "stages", token, "all_or_nothing").status_code == 404
    assert activity_count() == 0
    # The other region's ambassador gets the row refused in the report.
    html_b = _upload(other, "activities", csv_file([HEADER, GOOD_ROWS[0]])).get_data(as_text=True)
    assert "<code>region</code>" in html_b


def test_upload_form_errors_are_shown_not_500(app, users, login_as):
    client = login_as(users["ambassador"])
    missing = client.post("/import/", data={"kind": "activities"}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "Vælg en fil" in missing.get_data(as_text=True)
    wrong = _upload(client, "activities", b"hello", "notes.pdf")
    assert wrong.status_code == 400 and "Kun CSV" in wrong.get_data(as_text=True)
    assert _upload(client, "bogus", b"a").status_code == 404
    template = client.get("/import/activities/skabelon.csv")
    assert template.status_code == 200 and HEADER in template.get_data(as_text=True)


# ---------------------------------------------------------------------------------------------
# Danish headers and labels; changed rows on re-import


def test_danish_headers_and_labels_import(app, users):
    """What an ambassador types in Danish Excel: Danish column names, type and stage labels in any
    case, a colloquial 'kursus', dates as 23-11-2026 and decimal commas."""
    lines = [
        "Dato;Type;Titel;Region;Kommuner;Deltagere;Timer;Bemærkning",
        "05-03-2025;Undervisningsforløb;IPS-grundkursus;1084;101;20;12,5;",
        "06-03-2025;kursus;IPS-opfølgningskursus;1084;101;8;3;",
        "07-03-2025;DIALOGMØDE;Møde med jobcentret;1084;147;6;1,5;aftalt",
        "08-03-2025;supervision;Supervision af IPS-konsulenter;1084;101;4;2;",
    ]
    result = check_file(ActivityImporter(users["ambassador"]), csv_file(lines), "aktiviteter.csv")
    assert result.ok, result.errors
    result.apply()
    types = dict(db.session.execute(select(Activity.title, Activity.type)).all())
    assert types == {"IPS-grundkursus": "course", "IPS-opfølgningskursus": "course",
                     "Møde med jobcentret": "dialogue_meeting", "Supervision af IPS-konsulenter": "supervision"}
    assert db.session.scalar(select(Activity.hours).where(Activity.title == "IPS-grundkursus")) == Decimal("12.5")

    stages = ["Kommune;Fase;Dato;Note", "101;I dialog;01-02-2025;", "147;samarbejdsplan underskrevet;03-02-2025;"]
    result = check_file(StageImporter(users["ambassador"]), csv_file(stages), "faser.csv")
    assert result.ok, result.errors
    result.apply()
    assert set(db.session.execute(select(StageChange.municipality_code, StageChange.stage)).all()) == {
        (101, "dialogue"), (147, "plan_signed")}


def test_danish_labels_are_accepted_whatever_the_page_language(app, users):
    from flask_babel import force_locale

    lines = ["date,type,title,region,municipalities,participants,hours,note",
             "2025-03-05,Undervisningsforløb,Kursus,1084,101,20,12.5,",
             "2025-03-06,Course,Kursus to,1084,101,20,12.5,"]  # the English label too
    with force_locale("en"):
        result = check_file(ActivityImporter(users["ambassador"]), csv_file(lines), "a.csv")
    assert result.ok, result.errors


def test_a_reimported_row_with_changed_figures_is_shown_and_can_be_applied(app, users):
    data = csv_file([HEADER, *GOOD_ROWS])
    check_file(ActivityImporter(users["ambassador"]), data, "a.csv").apply()
    changed = [GOOD_ROWS[0].replace(",12,2.5,første møde", ",14,3,første møde"), GOOD_ROWS[1], GOOD_ROWS[2]]
    result = check_file(ActivityImporter(users["ambassador"]), csv_file([HEADER, *changed]), "a.csv")
    assert result.ok and result.good_rows == 0 and result.duplicates_already_present == 2
    assert result.changed_rows == 1
    [row] = [row for row in result.rows if row.status == "changed"]
    assert row.line == 2
    assert [(c.column, c.old, c.new) for c in row.changes] == [("participants", 12, 14),
                                                               ("hours", Decimal("2.50"), Decimal("3"))]
    # Not applied unless asked: the figures stay, and the outcome says so.
    outcome = result.apply()
    assert (outcome.created, outcome.updated, outcome.skipped_changed) == (0, 0, 1)
    meeting = db.session.scalar(select(Activity).where(Activity.type == "dialogue_meeting"))
    assert (meeting.participants, meeting.hours) == (12, Decimal("2.50"))

    result = check_file(ActivityImporter(users["ambassador"]), csv_file([HEADER, *changed]), "a.csv")
    outcome = result.apply(apply_changes=True)
    assert (outcome.created, outcome.updated) == (0, 1)
    db.session.expire_all()
    meeting = db.session.scalar(select(Activity).where(Activity.type == "dialogue_meeting"))
    assert (meeting.participants, meeting.hours) == (14, Decimal("3.00"))
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "activity",
                                                        AuditEntry.action == "update")).all()
    assert len(audit) == 1 and audit[0].changes["participants"] == [12, 14]
    assert activity_count() == 3
    # Applied: the same file again is all present.
    again = check_file(ActivityImporter(users["ambassador"]), csv_file([HEADER, *changed]), "a.csv")
    assert (again.changed_rows, again.duplicates_already_present) == (0, 3)


def test_changed_rows_on_the_upload_page_and_the_command_line(app, users, login_as, runner, tmp_path):
    data = csv_file([HEADER, *GOOD_ROWS])
    check_file(ActivityImporter(users["ambassador"]), data, "a.csv").apply()
    changed = csv_file([HEADER, GOOD_ROWS[0].replace(",12,2.5,", ",15,2.5,"), GOOD_ROWS[1]])
    client = login_as(users["ambassador"])
    page = _upload(client, "activities", changed)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-count="changed">1<' in html and "12 → 15" in html
    token = _token(html)
    client.post("/import/bekraeft", data={"kind": "activities", "token": token, "mode": "all_or_nothing",
                                          "apply_changes": "1"})
    db.session.expire_all()
    assert db.session.scalar(select(Activity.participants).where(Activity.type == "dialogue_meeting")) == 15
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "activity",
                                                        AuditEntry.action == "update")).all()
    assert [(a.user_id, a.changes["participants"]) for a in audit] == [(users["ambassador"].id, [12, 15])]

    path = tmp_path / "changed.csv"
    path.write_bytes(csv_file([HEADER, GOOD_ROWS[0].replace(",12,2.5,", ",16,2.5,")]))
    shown = runner.invoke(args=["import", "activities", str(path)])
    assert shown.exit_code == 0 and "ændret: 1" in shown.output and "15 → 16" in shown.output
    db.session.expire_all()
    assert db.session.scalar(select(Activity.participants).where(Activity.type == "dialogue_meeting")) == 15
    applied = runner.invoke(args=["import", "activities", str(path), "--apply-changes"])
    assert applied.exit_code == 0 and "Opdateret: 1" in applied.output
    db.session.expire_all()
    assert db.session.scalar(select(Activity.participants).where(Activity.type == "dialogue_meeting")) == 16
