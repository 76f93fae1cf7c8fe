"""Outcome monitoring: the import (refusals of personal data, every row error with line and column,
re-import adds nothing, updates), the CLI, the shares against the targets, and the pages."""
import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditEntry, OutcomeQuarter
from crm.services import outcomes
from crm.services.importing import GOOD_ROWS_ONLY, ImportRefused, check_file

HEADER = "municipality,quarter,citizens,with_paid_hours,with_employment,with_education,ever_paid_hours_or_education"
TODAY = date(2026, 5, 10)  # current quarter 2026Q2: the import accepts 2020Q1..2026Q3


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def check(data: bytes, user=None, filename="fil.csv"):
    return check_file(outcomes.OutcomeImporter(user, today=TODAY), data, filename)


def stored_count() -> int:
    return db.session.scalar(select(func.count(OutcomeQuarter.id)))


def errors_of(result):
    return [(e.line, e.column) for e in result.errors]


# --- Quarters and personal-data detection ---------------------------------------------------


def test_quarters():
    assert outcomes.parse_quarter("2025Q3") == "2025Q3"
    assert outcomes.parse_quarter(" 2025 q3 ") == "2025Q3"
    assert outcomes.parse_quarter("2025-Q4") == "2025Q4"
    for bad in ("2025Q5", "2025Q0", "25Q3", "Q3 2025", "2025", ""):
        assert outcomes.parse_quarter(bad) is None
    assert outcomes.quarter_of(date(2025, 8, 14)) == "2025Q3"
    assert outcomes.shift_quarter("2025Q4", 1) == "2026Q1"
    assert outcomes.shift_quarter("2025Q1", -1) == "2024Q4"
    assert outcomes.quarter_range(TODAY) == ("2020Q1", "2026Q3")


@pytest.mark.parametrize("header", ["cpr", "CPR-nr.", "cpr_nummer", "Personnummer", "navn", "Name", "fornavn",
                                    "Efternavn", "Fødselsdato", "birth", "Date of birth", "first_name",
                                    "Borgerens navn"])
def test_personal_headers_are_recognised(header):
    assert outcomes.header_looks_personal(header)


@pytest.mark.parametrize("header", ["municipality", "quarter", "citizens", "with_employment", "kommunenavn",
                                    "ever_paid_hours_or_education"])
def test_ordinary_headers_are_not_personal(header):
    assert not outcomes.header_looks_personal(header)


@pytest.mark.parametrize("cell, personal", [
    ("010190-1234", True), ("0101901234", True), ("101901234", True), ("borger 241275-3321", True),
    ("2902001234", True),  # 29-02-2000 exists
    ("2902011234", False),  # 29-02-1901/2001 does not
    ("3113901234", False), ("0000001234", False), ("120", False), ("2025Q3", False), ("1234567", False),
])
def test_cpr_like_cells(cell, personal):
    assert outcomes.cell_looks_like_cpr(cell) is personal


# --- Import: refusals ----------------------------------------------------------------------


@pytest.mark.parametrize("header, row", [
    (HEADER + ",cpr", "751,2025Q3,100,30,20,10,50,010190-1234"),
    (HEADER + ",Navn", "751,2025Q3,100,30,20,10,50,Jens Hansen"),
    ("CPR-nr.;" + HEADER.replace(",", ";"), "0101901234;751;2025Q3;100;30;20;10;50"),
])
def test_file_with_personal_column_is_refused_and_nothing_written(app, header, row):
    result = check(csv_file(row, "101,2025Q3,10,1,1,1,2", header=header))
    assert result.personal_data and result.fatal
    assert "ingen data om enkelte borgere" in result.errors[0].message
    personal_column = next(c for c in header.replace(";", ",").split(",") if outcomes.header_looks_personal(c))
    assert (1, personal_column) in errors_of(result)
    assert result.good_rows == 0
    with pytest.raises(ImportRefused):
        result.apply(GOOD_ROWS_ONLY)
    assert stored_count() == 0


def test_cpr_number_in_an_ordinary_column_is_refused(app):
    result = check(csv_file("751,2025Q3,100,30,20,10,50", "101,2025Q3,241275-3321,1,1,1,2"))
    assert result.personal_data
    assert errors_of(result)[1:] == [(3, "citizens")]
    # The value itself is never repeated back.
    assert all("241275" not in e.message for e in result.errors)
    assert stored_count() == 0


def test_xlsx_with_a_name_column_is_refused(app):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER.split(",") + ["fornavn"])
    sheet.append([751, "2025Q3", 100, 30, 20, 10, 50, "Mette"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = check(buffer.getvalue(), filename="star.xlsx")
    assert result.personal_data and (1, "fornavn") in errors_of(result)
    assert stored_count() == 0


def test_header_problems_are_fatal(app):
    missing = check(csv_file("751,2025Q3,100,30,20,10", header=HEADER.rsplit(",", 1)[0]))
    assert missing.fatal and (1, "ever_paid_hours_or_education") in errors_of(missing)
    unknown = check(csv_file("751,2025Q3,100,30,20,10,50,x", header=HEADER + ",kommentar"))
    assert unknown.fatal and (1, "kommentar") in errors_of(unknown)
    assert check(b"").fatal


# --- Import: row errors --------------------------------------------------------------------


def test_every_row_error_kind_with_line_and_column(app):
    data = csv_file(
        "751,2025Q3,100,30,20,10,50",  # 2: good
        "999,2025Q3,100,30,20,10,50",  # 3: unknown municipality
        "751,2025-3,100,30,20,10,50",  # 4: bad quarter
        "727,2019Q4,100,30,20,10,50",  # 5: before 2020Q1
        "727,2026Q4,100,30,20,10,50",  # 6: after the next quarter
        "730,2025Q3,100,-1,20,10,50",  # 7: negative
        "740,2025Q3,100,2.5,20,10,50",  # 8: not whole
        "741,2025Q3,,30,20,10,50",  # 9: missing
        "746,2025Q3,100,30,101,10,50",  # 10: above citizens
        "746,2025Q3,10,3,2,1,11",  # 11: ever above citizens
        "751,2025Q3,100,30,20,10,50",  # 12: duplicate of line 2
        "751,2025Q3,100,31,20,10,50",  # 13: same municipality and quarter, other figures
    )
    result = check(data)
    assert not result.fatal and not result.personal_data
    assert errors_of(result) == [
        (3, "municipality"), (4, "quarter"), (5, "quarter"), (6, "quarter"), (7, "with_paid_hours"),
        (8, "with_paid_hours"), (9, "citizens"), (10, "with_employment"), (11, "ever_paid_hours_or_education"),
        (12, None), (13, None),
    ]
    messages = {e.line: e.message for e in result.errors}
    assert "999" in messages[3] and "2020Q1–2026Q3" in messages[5] and "negativ" in messages[7]
    assert "linje 2" in messages[12] and "linje 2" in messages[13]
    assert result.good_rows == 1 and result.error_rows == 11
    with pytest.raises(ImportRefused):
        result.apply()
    assert stored_count() == 0
    result.apply(GOOD_ROWS_ONLY)
    assert stored_count() == 1


def test_region_rule_for_ambassadors(app, users):
    data = csv_file("101,2025Q3,100,30,20,10,50", "253,2025Q3,80,30,20,10,50")  # 1084 and 1085
    ambassador = check(data, users["ambassador"])
    assert errors_of(ambassador) == [(3, "municipality")] and ambassador.good_rows == 1
    assert check(data, users["admin"]).good_rows == 2
    assert check(data, None).good_rows == 2  # the command line acts as admin


def test_reimport_adds_nothing_and_changed_figures_update(app):
    data = csv_file("751,2025Q3,100,30,20,10,50", "101,2025Q3,200,60,40,30,120")
    check(data).apply()
    assert stored_count() == 2
    again = check(data)
    assert again.ok and again.good_rows == 0 and again.duplicates_already_present == 2
    again.apply()
    assert stored_count() == 2
    revised = check(csv_file("751,2025Q3,100,35,20,10,50", "101,2025Q3,200,60,40,30,120", "101,2025Q2,190,50,30,30,100"))
    assert (revised.additions, revised.updates, revised.duplicates_already_present) == (1, 1, 1)
    revised.apply()
    assert stored_count() == 3
    row = db.session.scalar(select(OutcomeQuarter).where(OutcomeQuarter.municipality_code == 751))
    assert row.with_paid_hours == 35 and row.citizens == 100
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.entity == "outcome_quarter",
                                                                     AuditEntry.action == "update")) == 1


# --- Import through the UI and the CLI -----------------------------------------------------


def _upload(client, data: bytes, filename="star.csv"):
    return client.post("/resultater/import", data={"outcomes-file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def _pending_files(app):
    folder = Path(app.config["UPLOAD_FOLDER"]) / "imports"
    return list(folder.iterdir()) if folder.exists() else []


def test_ui_upload_report_and_confirm(app, users, login_as):
    client = login_as(users["ambassador"])
    assert client.get("/resultater/import").status_code == 200
    data = csv_file("101,2025Q3,100,30,20,10,50", "253,2025Q3,80,30,20,10,50", "147,2025Q3,60,70,0,0,1")
    report = _upload(client, data)
    assert report.status_code == 200
    html = report.text
    assert 'data-count="new">1<' in html and 'data-count="bad">2<' in html
    assert "<code>municipality</code>" in html and "<code>with_paid_hours</code>" in html
    assert stored_count() == 0
    token = html.split('name="token" value="')[1].split('"')[0]
    done = client.post("/resultater/import/bekraeft", data={"token": token, "mode": "good_rows_only"})
    assert done.status_code == 302
    assert stored_count() == 1
    again = _upload(client, csv_file("101,2025Q3,100,30,20,10,50"))
    assert 'data-count="present">1<' in again.text and 'name="token"' not in again.text


def test_ui_all_or_nothing_refuses_a_file_with_errors(app, users, login_as):
    client = login_as(users["admin"])
    html = _upload(client, csv_file("101,2025Q3,100,30,20,10,50", "999,2025Q3,1,1,1,1,1")).text
    token = html.split('name="token" value="')[1].split('"')[0]
    response = client.post("/resultater/import/bekraeft", data={"token": token, "mode": "all_or_nothing"})
    assert response.status_code == 409
    assert stored_count() == 0


def test_ui_refuses_personal_data_and_keeps_nothing(app, users, login_as):
    client = login_as(users["admin"])
    response = _upload(client, csv_file("751,2025Q3,100,30,20,10,50,Jens Hansen", header=HEADER + ",navn"))
    assert response.status_code == 422
    assert 'id="personal-data-refusal"' in response.text and "Jens Hansen" not in response.text
    assert 'name="token"' not in response.text
    assert _pending_files(app) == [] and stored_count() == 0


def test_ui_bad_upload_is_a_form_error(app, users, login_as):
    client = login_as(users["admin"])
    response = client.post("/resultater/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Vælg en fil" in response.text
    wrong = _upload(client, b"%PDF-1.4", "plan.pdf")
    assert wrong.status_code == 400
    assert client.post("/resultater/import/bekraeft", data={"token": "x" * 32}).status_code == 404


def test_write_routes_refuse_the_working_group(app, users, login_as):
    client = login_as(users["working_group"])
    assert client.get("/resultater/import").status_code == 403
    assert _upload(client, csv_file("101,2025Q3,100,30,20,10,50")).status_code == 403
    assert client.post("/resultater/import/bekraeft", data={"token": "x" * 32}).status_code == 403
    assert client.get("/resultater/").status_code == 200
    assert stored_count() == 0


def test_another_users_pending_upload_cannot_be_confirmed(app, users, login_as):
    html = _upload(login_as(users["ambassador"]), csv_file("101,2025Q3,100,30,20,10,50")).text
    token = html.split('name="token" value="')[1].split('"')[0]
    other = login_as(users["ambassador_b"])
    assert other.post("/resultater/import/bekraeft", data={"token": token}).status_code == 404
    assert stored_count() == 0


def test_cli_import(app, runner, tmp_path):
    good = tmp_path / "good.csv"
    good.write_bytes(csv_file("751,2024Q3,100,30,20,10,50", "101,2024Q3,200,60,40,30,120"))
    result = runner.invoke(args=["import", "outcomes", str(good)])
    assert result.exit_code == 0, result.output
    assert stored_count() == 2 and "2 nye" in result.output
    result = runner.invoke(args=["import", "outcomes", str(good)])
    assert result.exit_code == 0 and stored_count() == 2 and "Findes allerede (springes over): 2" in result.output

    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_file("147,2024Q3,100,30,20,10,50", "151,2024Q3,10,30,2,1,5"))
    result = runner.invoke(args=["import", "outcomes", str(bad)])
    assert result.exit_code == 1 and "linje 3, kolonne with_paid_hours" in result.output
    assert stored_count() == 2
    result = runner.invoke(args=["import", "outcomes", "--good-rows-only", str(bad)])
    assert result.exit_code == 0 and stored_count() == 3

    personal = tmp_path / "personal.csv"
    personal.write_bytes(csv_file("153,2024Q3,100,30,20,10,50,0101901234", header=HEADER + ",cpr"))
    result = runner.invoke(args=["import", "outcomes", "--good-rows-only", str(personal)])
    assert result.exit_code == 1 and "personoplysninger" in result.output
    assert stored_count() == 3


# --- Shares against the targets and the pages ----------------------------------------------


def add_quarter(code, quarter, citizens, paid, employment, education, ever):
    db.session.add(OutcomeQuarter(municipality_code=code, quarter=quarter, citizens=citizens, with_paid_hours=paid,
                                  with_employment=employment, with_education=education,
                                  ever_paid_hours_or_education=ever))
    db.session.commit()


def test_shares_per_municipality_region_and_nation(app):
    add_quarter(101, "2025Q3", 100, 30, 25, 20, 70)  # 1084: current 50 %, cumulative 70 %
    add_quarter(147, "2025Q3", 50, 40, 30, 30, 20)  # 1084: paid + education capped at 50 → 100 %
    add_quarter(253, "2025Q3", 200, 40, 30, 20, 100)  # 1085: current 30 %, cumulative 50 %
    add_quarter(101, "2025Q2", 100, 10, 10, 10, 60)
    by_code = {r.municipality.code: r.shares for r in outcomes.municipality_outcomes("2025Q3")}
    assert by_code[101].current_pct == 50 and by_code[101].cumulative_pct == 70
    assert by_code[147].current_pct == 100 and not by_code[147].below_current
    assert by_code[253].current_pct == 30 and by_code[253].below_current and by_code[253].below_cumulative
    trend = outcomes.trend()
    regions, nation = trend.latest("2025Q3")
    shares = {region.code: s for region, s in regions}
    assert (shares[1084].citizens, shares[1084].current, shares[1084].ever) == (150, 100, 90)
    assert shares[1084].current_pct == pytest.approx(100 * 100 / 150)
    assert shares[1084].cumulative_pct == pytest.approx(60.0) and not shares[1084].below_cumulative  # 60 ≥ 59.5
    assert shares[1081].citizens == 0 and shares[1081].current_pct is None
    assert (nation.citizens, nation.current, nation.ever, nation.municipalities) == (350, 160, 190, 3)
    assert trend.quarters == ["2025Q2", "2025Q3"]
    assert trend.nation["2025Q2"].current_pct == 20


def test_targets_are_settings(app):
    add_quarter(101, "2025Q3", 100, 20, 25, 20, 60)  # 40 % now, 60 % ever
    assert outcomes.municipality_outcomes("2025Q3")[0].shares.below_current
    app.config["OUTCOME_TARGET_CURRENT_PCT"] = 35
    assert not outcomes.municipality_outcomes("2025Q3")[0].shares.below_target


def test_outcome_page_highlights_below_target_in_words(app, users, login_as):
    add_quarter(101, "2025Q3", 100, 30, 25, 20, 70)  # meets both targets
    add_quarter(253, "2025Q3", 200, 40, 30, 20, 100)  # below both
    html = login_as(users["working_group"]).get("/resultater/").text
    row_ok = html.split('data-code="101"')[1].split("</tr>")[0]
    row_below = html.split('data-code="253"')[1].split("</tr>")[0]
    assert 'data-status="ok"' in row_ok and "Under mål" not in row_ok
    assert 'data-status="below"' in row_below and "Under mål" in row_below and "under målet" in row_below
    assert "30,0 %" in row_below and "50,0 %" in row_ok
    nation = html.split('data-region="nation"')[1].split("</tr>")[0]
    assert "300" in nation and "36,7 %" in nation  # (50 + 60) / 300
    assert "Importér tal fra STAR" not in html  # the working group reads only


def _grow(codes, quarters):
    for code in codes:
        for index, quarter in enumerate(quarters):
            add_quarter(code, quarter, 100 + index, 30 + index, 20, 10, 50 + index)


def test_outcome_page_constant_queries(app, users, login_as, count_queries):
    client = login_as(users["working_group"])
    _grow([101, 147], ["2025Q1", "2025Q2"])
    client.get("/resultater/")
    with count_queries() as small:
        assert client.get("/resultater/").status_code == 200
    _grow([151, 153, 155, 157, 159, 161, 253, 751], ["2024Q3", "2024Q4", "2025Q1", "2025Q2"])
    client.get("/resultater/")
    with count_queries() as large:
        response = client.get("/resultater/")
    assert response.status_code == 200
    assert large.count == small.count
    with count_queries() as filtered:
        assert client.get("/resultater/?quarter=2024Q4&region=1085").status_code == 200
    assert filtered.count == small.count


def test_outcome_page_ignores_bad_arguments_and_exports(app, users, login_as):
    client = login_as(users["working_group"])
    assert "ikke importeret" in client.get("/resultater/").text
    add_quarter(101, "2025Q3", 100, 30, 25, 20, 70)
    for query in ("?quarter=2099Q1", "?quarter=<x>", "?region=abc", "?region=9999"):
        assert client.get("/resultater/" + query).status_code == 200
    export = client.get("/resultater/?quarter=2025Q3&format=csv")
    assert export.status_code == 200
    lines = export.data.decode("utf-8-sig").splitlines()
    assert lines[1].startswith("101,København,Region Hovedstaden,2025Q3,100,30,25,20,70,50.0,70.0")


def test_municipality_panel(app, users, login_as):
    add_quarter(101, "2025Q3", 100, 30, 25, 20, 70)
    html = login_as(users["working_group"]).get("/kommuner/101").text
    assert 'id="resultater"' in html and "3. kvt. 2025" in html
