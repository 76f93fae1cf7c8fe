"""The outcome import's personal-data guard (issue 13, item 6): only the documented columns, every
sheet of a workbook read, CPR numbers in every written form found in any cell (header included),
the refused value never repeated, and a refused file never written to disk."""
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import OutcomeQuarter
from crm.services import outcomes
from crm.services.importing import check_file

HEADER = "municipality,quarter,citizens,with_paid_hours,with_employment,with_education,ever_paid_hours_or_education"
GOOD = "101,2025Q3,100,30,20,10,50"
TODAY = date(2026, 5, 10)
CPR_FORMS = ("{d}{m}{y}-{s}", "{d}{m}{y}{s}", "{d}{m}{y} {s}", "{d}.{m}.{y}-{s}", "{d}-{m}-{y}-{s}")


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def xlsx_file(*sheets) -> bytes:
    """A workbook with one sheet per list of rows."""
    workbook = Workbook()
    for index, rows in enumerate(sheets):
        sheet = workbook.active if index == 0 else workbook.create_sheet(f"Ark{index + 1}")
        for row in rows:
            sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def check(data: bytes, filename="fil.csv"):
    return check_file(outcomes.OutcomeImporter(None, today=TODAY), data, filename)


def stored_count() -> int:
    return db.session.scalar(select(func.count(OutcomeQuarter.id)))


def files_on_disk(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.fixture
def request_context(app):
    with app.test_request_context():
        yield


def upload(client, data: bytes, filename="star.csv"):
    return client.post("/resultater/import", data={"outcomes-file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


# --- CPR numbers in every written form ---------------------------------------------------------


@pytest.mark.parametrize("value", ["010190 1234", "01.01.90-1234", "01-01-90-1234", "010190-1234", "0101901234"])
def test_cpr_in_a_documented_column_is_refused_in_every_form(app, users, login_as, value):
    data = csv_file(GOOD, f"147,2025Q3,{value},1,1,1,2")
    with app.test_request_context():
        result = check(data)
    assert result.personal_data and result.fatal
    assert (3, "citizens") in [(e.line, e.column) for e in result.errors]
    assert all(value not in str(e) for e in result.errors)
    response = upload(login_as(users["admin"]), data)
    assert response.status_code == 422 and value not in response.text
    assert 'name="token"' not in response.text
    assert files_on_disk(app) == [] and stored_count() == 0


def test_cpr_in_the_header_is_named_by_position_not_value(request_context):
    result = check(csv_file(GOOD + ",1", header=HEADER + ",010190-1234"))
    assert result.personal_data
    assert (1, "H") in [(e.line, e.column) for e in result.errors]
    assert all("010190" not in str(e) for e in result.errors)


@pytest.mark.parametrize("cell", ["3201901234", "0113901234", "9999991234", "2902011234", "1234567890"])
def test_impossible_dates_are_not_taken_for_cpr_numbers(cell):
    assert not outcomes.cell_looks_like_cpr(cell)


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
       serial=st.integers(min_value=0, max_value=9999), form=st.sampled_from(CPR_FORMS),
       before=st.sampled_from(["", "borger ", "nr. "]), after=st.sampled_from(["", " (x)"]))
def test_every_valid_cpr_in_every_form_is_found(day, serial, form, before, after):
    text = form.format(d=f"{day.day:02d}", m=f"{day.month:02d}", y=f"{day.year % 100:02d}", s=f"{serial:04d}")
    assert outcomes.cell_looks_like_cpr(before + text + after), text


@settings(max_examples=200, deadline=None)
@given(day=st.integers(min_value=32, max_value=99), month=st.integers(min_value=1, max_value=12),
       year=st.integers(min_value=0, max_value=99), serial=st.integers(min_value=0, max_value=9999),
       form=st.sampled_from(CPR_FORMS))
def test_a_day_that_no_month_has_is_not_a_cpr(day, month, year, serial, form):
    text = form.format(d=f"{day:02d}", m=f"{month:02d}", y=f"{year:02d}", s=f"{serial:04d}")
    assert not outcomes.cell_looks_like_cpr(text)


def test_ordinary_outcome_values_are_not_cpr_numbers():
    for value in ("101", "2025Q3", "1234", "01-01-2025", "2025-01-01", "100000", "12.5"):
        assert not outcomes.cell_looks_like_cpr(value)


# --- Only the documented columns; names never slip in ------------------------------------------


def test_an_unknown_column_with_names_is_refused_and_nothing_kept(app, users, login_as):
    data = csv_file(GOOD + ",Jens Hansen", "147,2025Q3,10,1,1,1,2,Mette Jensen", header=HEADER + ",borger")
    with app.test_request_context():
        result = check(data)
    assert result.fatal and result.good_rows == 0
    assert (1, "borger") in [(e.line, e.column) for e in result.errors]
    response = upload(login_as(users["admin"]), data)
    assert "Jens Hansen" not in response.text and "Mette Jensen" not in response.text
    assert 'name="token"' not in response.text
    assert files_on_disk(app) == [] and stored_count() == 0


def test_a_name_in_a_number_column_is_not_repeated(request_context):
    result = check(csv_file(GOOD, "147,2025Q3,Jens Hansen,1,1,1,2"))
    assert (3, "citizens") in [(e.line, e.column) for e in result.errors]
    assert all("Jens Hansen" not in str(e) for e in result.errors)


# --- Every sheet of a workbook -------------------------------------------------------------------


def test_second_sheet_with_cpr_and_names_is_refused_and_not_kept(app, users, login_as):
    data = xlsx_file([HEADER.split(","), GOOD.split(",")], [["CPR", "Navn"], ["010190-1234", "Jens Hansen"]])
    with app.test_request_context():
        result = check(data, "star.xlsx")
    assert result.personal_data and result.fatal and result.good_rows == 0
    response = upload(login_as(users["admin"]), data, "star.xlsx")
    assert response.status_code == 422
    assert "010190" not in response.text and "Jens Hansen" not in response.text
    assert 'name="token"' not in response.text
    assert files_on_disk(app) == [] and stored_count() == 0


def test_another_non_empty_sheet_is_refused(request_context):
    result = check(xlsx_file([HEADER.split(","), GOOD.split(",")], [["noter"], ["husk at ringe"]]), "star.xlsx")
    assert result.fatal and result.good_rows == 0
    assert any("ark" in e.message for e in result.errors)
    assert all("husk at ringe" not in str(e) for e in result.errors)


def test_empty_extra_sheets_are_fine(request_context):
    result = check(xlsx_file([HEADER.split(","), GOOD.split(",")], []), "star.xlsx")
    assert result.ok and result.good_rows == 1


def test_cli_refuses_a_second_sheet_with_personal_data(app, runner, tmp_path):
    path = tmp_path / "star.xlsx"
    path.write_bytes(xlsx_file([HEADER.split(","), GOOD.split(",")], [["CPR"], ["01.01.90-1234"]]))
    result = runner.invoke(args=["import", "outcomes", str(path)])
    assert result.exit_code == 1 and "personoplysninger" in result.output
    assert "01.01.90" not in result.output
    assert stored_count() == 0


def test_a_large_refused_upload_never_touches_the_disk(app, users, login_as, monkeypatch):
    """Werkzeug spools uploads above 500 kB to a temporary file; the app keeps them in memory."""
    import tempfile

    created = []
    real = tempfile.TemporaryFile
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **k: created.append(1) or real(*a, **k))
    rows = [GOOD] + [f"147,2025Q3,{n},1,1,1,2" for n in range(100, 45_000)] + ["151,2025Q3,010190 1234,1,1,1,2"]
    data = csv_file(*rows)
    assert len(data) > 1024 * 1024
    response = upload(login_as(users["admin"]), data)
    assert response.status_code == 422 and "010190" not in response.text
    assert created == [] and files_on_disk(app) == [] and stored_count() == 0
