"""Half-yearly partial accounts (issue 17 item 3): every figure checked against totals this test
computes itself from the rows it inserts; the page, the CSV and the XLSX agree; the CLI; the
sign-off and deadline; a constant number of statements; a property test of exact sums."""
import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from html import unescape
from typing import Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import delete

from crm.extensions import db
from crm.models import BudgetLine, BudgetVersion, CostLine, Expense, Grant
from crm.services import grant_accounts as service
from tests import factories

A, B, NO_GRANT = 1084, 1085, 1081
REGIONS = (1084, 1085, 1083, 1082, 1081)  # east to west, the order of the sections
YEAR, HALF = 2025, 1
START, END = date(2025, 1, 1), date(2025, 6, 30)
TODAY = date(2025, 8, 15)


# --- Building the rows and the expected figures independently ---------------------------------


@dataclass
class World:
    grants: dict  # region -> (amount_ore, start, end)
    versions: list  # (region, year, number, approved: bool, {line code: amount})
    expenses: list  # (region, spent_on, line code, amount)


def insert(world: World, lines: dict[str, CostLine]) -> None:
    for region, (amount, start, end) in world.grants.items():
        db.session.add(Grant(region_code=region, amount_ore=amount, project_start=start, project_end=end))
    for region, year, number, approved, amounts in world.versions:
        version = BudgetVersion(region_code=region, year=year, number=number, revised_on=date(year, 1, 1),
                                reason="test", approved_on=date(year, 1, 2) if approved else None)
        version.lines = [BudgetLine(cost_line_id=lines[code].id, amount_ore=amount, note="note")
                         for code, amount in amounts.items()]
        db.session.add(version)
    for n, (region, on, code, amount) in enumerate(world.expenses):
        db.session.add(Expense(region_code=region, spent_on=on, cost_line_id=lines[code].id, amount_ore=amount,
                               description=f"udgift {n}", voucher=f"B{n}"))
    db.session.commit()


def expected(world: World, year: int, half: int) -> dict:
    """(region or 'total', line code) -> (half budget, half actual, cumulative budget, cumulative
    actual), computed from the world alone, by the rules the page states."""
    start, end = (date(year, 1, 1), date(year, 6, 30)) if half == 1 else (date(year, 7, 1), date(year, 12, 31))
    starts = [g[1] for g in world.grants.values()]
    earliest = min(starts) if starts else None
    result: dict = {}
    for region in REGIONS:
        project_start = world.grants[region][1] if region in world.grants else earliest
        approved: dict[int, dict] = {}
        for r, y, number, ok, amounts in world.versions:
            if r == region and ok and number > approved.get(y, (0, {}))[0]:
                approved[y] = (number, amounts)
        for code in CODES:
            yearly = {y: amounts.get(code, 0) for y, (_n, amounts) in approved.items()}
            this_year = yearly.get(year, 0)
            half_budget = this_year // 2 if half == 1 else this_year - this_year // 2
            before = sum(v for y, v in yearly.items() if y < year and (project_start is None or y >= project_start.year))
            cumulative_budget = before + (this_year // 2 if half == 1 else this_year)
            spent = [(on, amount) for r, on, c, amount in world.expenses if r == region and c == code]
            half_actual = sum(a for on, a in spent if start <= on <= end)
            cumulative_actual = sum(a for on, a in spent if on <= end and (project_start is None or on >= project_start))
            result[(region, code)] = (half_budget, half_actual, cumulative_budget, cumulative_actual)
    for code in CODES:
        result[("total", code)] = tuple(sum(result[(r, code)][i] for r in REGIONS) for i in range(4))
    for key in [*REGIONS, "total"]:
        result[(key, "total")] = tuple(sum(result[(key, c)][i] for c in CODES) for i in range(4))
    return result


def one_decimal(actual: int, budget: int) -> Optional[Decimal]:
    if budget <= 0:
        return None
    exact = Fraction(actual * 100, budget)
    tenths = abs(exact) * 10
    rounded = int(tenths) + (1 if tenths - int(tenths) >= Fraction(1, 2) else 0)
    return Decimal(rounded if exact >= 0 else -rounded) / 10


CODES = ("salaries", "activities_events", "materials", "expert_fees", "courses", "other", "audit")


def world() -> World:
    return World(
        grants={A: (500_000_00, date(2024, 1, 1), date(2026, 12, 31)),  # exactly the threshold: auditor
                B: (499_999_99, date(2024, 7, 1), date(2025, 3, 31))},  # one øre below: management
        versions=[
            (A, 2023, 1, True, {"salaries": 7_000_00}),  # before A's start year: not cumulative
            (A, 2024, 1, True, {"salaries": 100_000_01, "courses": 20_000_00}),
            (A, 2025, 1, True, {"salaries": 999_999_00}),  # superseded by version 2
            (A, 2025, 2, True, {"salaries": 200_000_01, "courses": 30_000_00, "activities_events": 10_000_00}),
            (A, 2025, 3, False, {"salaries": 5}),  # not approved
            (A, 2026, 1, True, {"salaries": 1_000_000_00}),  # a later year
            (B, 2024, 1, True, {"courses": 1_000_00}),
            (B, 2025, 1, True, {"salaries": 150_000_00, "audit": 3}),
            (B, 2025, 2, False, {"salaries": 1}),
        ],
        expenses=[
            (A, date(2025, 1, 1), "salaries", 50_000_00),
            (A, date(2025, 6, 30), "salaries", 60_000_00),
            (A, date(2025, 7, 1), "salaries", 1),  # after the half-year
            (A, date(2024, 5, 5), "courses", 5_000_00),  # cumulative only
            (A, date(2023, 12, 31), "courses", 1_23),  # before A's project start
            (A, date(2025, 3, 3), "courses", 40_000_00),  # over budget
            (A, date(2025, 4, 4), "courses", -2_500_50),  # a credit note
            (A, date(2025, 2, 2), "activities_events", 3_333_33),
            (B, date(2025, 2, 2), "salaries", 10_000_00),
            (B, date(2024, 6, 30), "salaries", 1_00),  # before B's project start
            (B, date(2024, 8, 1), "courses", 2_00),
            (B, date(2025, 5, 5), "audit", 7),
            (NO_GRANT, date(2025, 5, 5), "other", 1_00),  # no grant: from the earliest start
            (NO_GRANT, date(2023, 5, 5), "other", 9_00),  # before the earliest start
        ],
    )


@pytest.fixture
def data(app, cost_lines):
    w = world()
    insert(w, cost_lines)
    for on, kind, region, participants, hours in [
        (date(2025, 3, 1), "course", A, 12, None), (date(2025, 5, 1), "course", A, 8, None),
        (date(2025, 7, 1), "course", A, 100, None),  # after the half-year
        (date(2025, 4, 1), "course", None, 5, None),  # national: only in the nation's figures
        (date(2025, 2, 1), "supervision", A, None, Decimal("1.5")),
        (date(2025, 2, 8), "supervision", A, None, Decimal("2.25")),
        (date(2025, 6, 1), "supervision", B, None, Decimal("2")),
    ]:
        factories.ActivityFactory(type=kind, start_date=on, region_code=region, participants=participants,
                                  hours=hours)
    return w


def test_figures_match_the_rows_inserted(data):
    accounts = service.partial_accounts(YEAR, HALF, today=TODAY)
    want = expected(data, YEAR, HALF)
    assert [s.code for s in accounts.sections] == ["total", *REGIONS]
    for section in accounts.sections:
        assert [line.code for line in section.lines] == list(CODES)  # the admins' order
        for line in section.rows:
            got = (line.period.budget, line.period.actual, line.cumulative.budget, line.cumulative.actual)
            assert got == want[(section.code, line.code)], (section.code, line.code)
            assert line.period.remaining == got[0] - got[1]
            assert line.cumulative.remaining == got[2] - got[3]
            assert line.period.percent == one_decimal(got[1], got[0])
            assert line.cumulative.percent == one_decimal(got[3], got[2])
    # A few by hand, so the independent rule above is itself checked.
    a = {line.code: line for line in accounts.sections[1].rows}
    assert a["salaries"].period.budget == 100_000_00  # half of 200 000,01 rounded down
    assert a["salaries"].period.actual == 110_000_00
    assert a["salaries"].cumulative.budget == 100_000_01 + 100_000_00
    assert a["courses"].period.actual == 40_000_00 - 2_500_50
    assert a["courses"].period.over_budget and a["courses"].period.percent == Decimal("250.0")
    assert a["courses"].cumulative.actual == 5_000_00 + 37_499_50
    assert a["expert_fees"].period.percent is None
    h2 = service.partial_accounts(YEAR, 2, A, today=TODAY).main
    assert {l.code: l for l in h2.lines}["salaries"].period.budget == 100_000_01  # the rest of the year
    no_grant = {line.code: line for line in accounts.sections[-1].rows}
    assert no_grant["other"].cumulative.actual == 1_00


def test_key_figures_follow_the_status_report(data):
    from crm.services.report import status_report

    accounts = service.partial_accounts(YEAR, HALF, today=TODAY)
    report = status_report(START, END)
    for section in accounts.sections:
        k = section.key_figures
        assert k.courses == report.value("courses", section.code)
        assert k.course_participants == report.value("course_participants", section.code)
        assert k.supervision_sessions == report.value("supervision_sessions", section.code)
        assert k.supervision_hours == Decimal(str(report.value("supervision_hours", section.code)))
    a, nation = accounts.sections[1].key_figures, accounts.sections[0].key_figures
    assert (a.courses, a.course_participants, a.supervision_sessions) == (2, 20, 2)
    assert a.supervision_hours == Decimal("3.8")  # 3,75 shown with one decimal, as the report does
    assert nation.course_participants == 25
    assert a.per_course_participant_ore == 1_874_98  # 37 499,50 / 20 = 1 874,975: half rounds up
    assert a.per_supervision_hour_ore == 877_19  # 3 333,33 / 3,8 = 877,192…
    assert accounts.sections[2].key_figures.per_course_participant_ore is None  # no participants


def test_sign_off_and_deadline(data):
    accounts = service.partial_accounts(YEAR, HALF, today=TODAY)
    offs = {code: sign_off for code, _name, sign_off in accounts.sign_offs}
    assert offs[A].kind == service.SIGN_OFF_AUDITOR  # exactly 500 000,00 kr.
    assert offs[B].kind == service.SIGN_OFF_MANAGEMENT  # 499 999,99 kr.
    assert offs[NO_GRANT] is None
    assert offs[A].deadline == date(2027, 3, 31)
    assert offs[A].days_left == (date(2027, 3, 31) - TODAY).days
    assert offs[B].deadline == date(2025, 6, 30) and offs[B].overdue and offs[B].status == "overskredet"
    on_the_day = service.partial_accounts(YEAR, HALF, today=date(2025, 6, 30)).sign_offs
    assert {c: s for c, _n, s in on_the_day}[B].status == "i dag"
    day_before = service.partial_accounts(YEAR, HALF, today=date(2025, 6, 29)).sign_offs
    assert {c: s for c, _n, s in day_before}[B].status == "1 dag tilbage"


# --- Page, CSV and XLSX agree -------------------------------------------------------------------


def _number(text: str) -> Optional[Decimal]:
    """A figure as the Danish page or CSV writes it: 1.234,5 / -1234,5 / 12,3 % / –."""
    text = unescape(text).replace("\xa0", " ").replace("%", "").replace("kr.", "").strip().replace("\u2212", "-")
    if text in ("–", ""):
        return None
    return Decimal(text.replace(".", "").replace(",", "."))


FIELDS = ("period_budget", "period_actual", "period_percent", "period_remaining",
          "cumulative_budget", "cumulative_actual", "cumulative_percent", "cumulative_remaining")
CSV_COLUMNS = (3, 4, 5, 6, 8, 9, 10, 11)


def _from_figures(accounts) -> dict:
    result = {}
    for section in accounts.sections:
        for line in section.rows:
            p, c = line.period, line.cumulative
            result[(str(section.code), line.code)] = (
                p.budget_kr, p.actual_kr, p.percent, p.remaining_kr, c.budget_kr, c.actual_kr, c.percent, c.remaining_kr)
    return result


def _from_page(html: str) -> dict:
    cells = re.findall(r'data-section="([^"]+)" data-line="([^"]+)" data-field="([^"]+)"><span class="figure">([^<]*)</span>', html)
    result: dict = {}
    for section, line, field, text in cells:
        result.setdefault((section, line), {})[field] = _number(text)
    return {key: tuple(values[f] for f in FIELDS) for key, values in result.items()}


def _from_csv(data: bytes, names: dict) -> dict:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    result = {}
    for row in rows[1:]:
        if not row:
            break
        result[(names[row[0]], row[1])] = tuple(_number(row[i]) for i in CSV_COLUMNS)
    return result


def _from_xlsx(data: bytes, names: dict) -> dict:
    book = load_workbook(io.BytesIO(data))
    result = {}
    for sheet in book.worksheets:
        for row in sheet.iter_rows(min_row=6, values_only=True):
            if row[0] is None:
                break
            assert row[0] == sheet.title
            values = []
            for i in CSV_COLUMNS:
                value = row[i]
                values.append(None if value == "–" else Decimal(str(value)).quantize(Decimal("0.01") if i not in (5, 10) else Decimal("0.1")))
            result[(names[row[0]], row[1])] = tuple(values)
        for i in CSV_COLUMNS:
            if i not in (5, 10):
                assert '"kr."' in sheet.cell(row=6, column=i + 1).number_format
    return result


@pytest.mark.parametrize("region", [None, A])
def test_page_csv_and_xlsx_agree(data, users, login_as, region):
    client = login_as(users["working_group"])
    query = f"year={YEAR}&half={HALF}" + (f"&region={region}" if region else "")
    page = client.get(f"/regnskab/?{query}")
    assert page.status_code == 200
    csv_response = client.get(f"/regnskab/eksport.csv?{query}")
    xlsx_response = client.get(f"/regnskab/eksport.xlsx?{query}")
    assert csv_response.status_code == xlsx_response.status_code == 200
    accounts = service.partial_accounts(YEAR, HALF, region)
    names = {s.name: str(s.code) for s in accounts.sections}
    figures = _from_figures(accounts)
    assert len(figures) == len(accounts.sections) * (len(CODES) + 1)
    assert _from_page(page.get_data(as_text=True)) == figures
    assert _from_csv(csv_response.data, names) == figures
    assert _from_xlsx(xlsx_response.data, names) == figures
    assert f"delregnskab-{YEAR}-{HALF}-halvaar" in csv_response.headers["Content-Disposition"]
    assert len(load_workbook(io.BytesIO(xlsx_response.data)).worksheets) == (6 if region is None else 1)


def test_page_states_the_rules_and_flags_lines_over_budget(data, users, login_as):
    html = login_as(users["ambassador"]).get(f"/regnskab/?year={YEAR}&half={HALF}&region={A}").get_data(as_text=True)
    assert "Over budget" in html  # in words, not by colour alone
    assert "halvdelen af årets godkendte budget" in html
    assert "Afholdelse af kurser og lignende opkvalificeringsaktiviteter" in html
    assert "Revisorpåtegnet" in html and "31-03-2027" in html
    assert "250,0 %" in html


def test_print_view(app, data, users, login_as):
    html = login_as(users["admin"]).get(f"/regnskab/udskrift?year={YEAR}&half={HALF}").get_data(as_text=True)
    assert "<script" not in html
    assert "delregnskab til STAR" in html and "Ledelsespåtegnet" in html and "overskredet" in html
    # The scheduled reports render it outside any page: the template name and its context suffice.
    from flask import render_template

    with app.test_request_context("/"):
        rendered = render_template(service.PRINT_TEMPLATE,
                                   **service.print_context(service.partial_accounts(YEAR, HALF), TODAY))
    assert "Hele landet" in rendered and "<script" not in rendered


def test_bad_input_never_fails(data, users, login_as):
    client = login_as(users["ambassador"])
    for query in ["year=abc&half=1", "year=2025&half=3", "year=1999&half=1", "year=2025", "half=2",
                  "year=2025&half=1&region=9999", "region=x", "year=99999999999999999999&half=1"]:
        assert client.get(f"/regnskab/?{query}").status_code == 200, query
        assert client.get(f"/regnskab/eksport.csv?{query}").status_code == 400, query
        assert client.get(f"/regnskab/udskrift?{query}").status_code == 400, query
    assert client.get("/regnskab/eksport.pdf?year=2025&half=1").status_code == 404
    assert client.get("/regnskab/").status_code == 200  # the last completed half-year


def test_access_like_the_status_report(app, users, login_as):
    for role in ("ambassador", "working_group", "admin"):
        assert login_as(users[role]).get("/regnskab/").status_code == 200
    panel = factories.UserFactory(role="expert_panel", region_code=None, email="panel@test.dk")
    assert login_as(panel).get("/regnskab/").status_code == 403
    assert app.test_client().get("/regnskab/").status_code == 302


def test_english(data, users, login_as):
    users["admin"].locale = "en"
    db.session.commit()
    html = login_as(users["admin"]).get(f"/regnskab/?year={YEAR}&half={HALF}").get_data(as_text=True)
    assert "Partial accounts" in html and "Over budget" in html and "Courses and similar up-skilling" in html
    assert "Signed by an auditor" in html and "Spent %" in html


def test_a_constant_number_of_statements(app, cost_lines, users, login_as, count_queries):
    client = login_as(users["admin"])
    urls = [f"/regnskab/?year={YEAR}&half={HALF}", f"/regnskab/eksport.xlsx?year={YEAR}&half={HALF}",
            f"/regnskab/udskrift?year={YEAR}&half={HALF}&region={A}"]

    def counts():
        client.get("/regnskab/")  # the signed-in user loaded again after the test's commits
        result = []
        for url in urls:
            with count_queries() as q:
                assert client.get(url).status_code == 200
            result.append(q.count)
        return result

    small = counts()
    insert(world(), cost_lines)
    for n in range(30):
        factories.ActivityFactory(type="course", start_date=date(2025, 1, 1) + timedelta(days=n),
                                  region_code=REGIONS[n % 5], participants=n)
    assert counts() == small
    with count_queries() as q:
        service.partial_accounts(YEAR, HALF)
    assert q.count == 5


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_writes_the_same_files(data, runner, tmp_path):
    accounts = service.partial_accounts(YEAR, HALF)
    names = {s.name: str(s.code) for s in accounts.sections}
    out = tmp_path / "a.csv"
    result = runner.invoke(args=["report", "accounts", "--year", "2025", "--half", "1", "--format", "csv",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _from_csv(out.read_bytes(), names) == _from_figures(accounts)
    out = tmp_path / "a.xlsx"
    result = runner.invoke(args=["report", "accounts", "--year", "2025", "--half", "1", "--format", "xlsx",
                                 "--region", str(A), "--out", str(out)])
    assert result.exit_code == 0, result.output
    only_a = service.partial_accounts(YEAR, HALF, A)
    assert _from_xlsx(out.read_bytes(), {s.name: str(s.code) for s in only_a.sections}) == _from_figures(only_a)


@pytest.mark.parametrize("args", [["--year", "2025", "--half", "3"], ["--year", "abc", "--half", "1"],
                                  ["--half", "1"], ["--year", "2025"], ["--year", "2025", "--half", "1", "--region", "42"],
                                  ["--year", "2025", "--half", "1", "--format", "pdf"]])
def test_cli_refuses_bad_input(app, runner, tmp_path, args):
    result = runner.invoke(args=["report", "accounts", *args, "--out", str(tmp_path / "x.csv")])
    assert result.exit_code != 0
    assert "Error" in result.output
    assert not (tmp_path / "x.csv").exists()


# --- Property: exact sums, remaining and percentages ---------------------------------------------

amounts = st.integers(min_value=-5_000_000_00, max_value=50_000_000_00)
expense_rows = st.lists(st.tuples(st.sampled_from([A, B]), st.dates(date(2023, 1, 1), date(2025, 12, 31)),
                                  st.sampled_from(CODES), amounts), max_size=25)
budgets = st.dictionaries(st.tuples(st.sampled_from([A, B]), st.sampled_from([2024, 2025]), st.sampled_from(CODES)),
                          st.integers(min_value=0, max_value=90_000_000_01), max_size=10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expenses=expense_rows, budget=budgets, half=st.sampled_from([1, 2]))
def test_sums_and_percentages_are_exact(app, cost_lines, expenses, budget, half):
    for model in (Expense, BudgetLine, BudgetVersion, Grant):
        db.session.execute(delete(model))
    db.session.commit()
    versions = {}
    for (region, year, code), amount in budget.items():
        versions.setdefault((region, year), {})[code] = amount
    w = World(grants={A: (1, date(2024, 1, 1), date(2025, 12, 31)), B: (1, date(2024, 9, 9), date(2026, 1, 1))},
              versions=[(r, y, 1, True, a) for (r, y), a in versions.items()], expenses=expenses)
    insert(w, cost_lines)
    want = expected(w, 2025, half)
    accounts = service.partial_accounts(2025, half)
    for section in accounts.sections:
        for line in section.rows:
            hb, ha, cb, ca = want[(section.code, line.code)]
            assert (line.period.budget, line.period.actual, line.cumulative.budget, line.cumulative.actual) == \
                (hb, ha, cb, ca)
            assert line.period.remaining == hb - ha and line.cumulative.remaining == cb - ca
            assert line.period.percent == one_decimal(ha, hb) and line.cumulative.percent == one_decimal(ca, cb)
            assert line.period.budget_kr == Decimal(hb) / 100
