"""The half-yearly STAR status report: every metric for H1 and H2 2025 against figures worked out
by hand from data built here; CSV, XLSX and page agree; drill-downs list the records counted;
frozen submissions; who may submit; the CLI; a constant number of queries."""
import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.formatting import half_year_period, last_completed_half
from crm.models import Activity, FidelityReview, Municipality, ReportSubmission, StageChange
from crm.services import report as service
from tests import factories

CODES = ["1081", "1082", "1083", "1084", "1085", "total"]
NAME_TO_COLUMN = {"Nordjylland": "1081", "Midtjylland": "1082", "Syddanmark": "1083",
                  "Hovedstaden": "1084", "Sjælland": "1085", "Hele landet": "total"}

# Worked out by hand from ``build_data`` below (see the comments there); columns 1081..1085, total.
EXPECTED_H1 = """
municipalities_total           11 19 22 29 17 98
plans_signed_in_period          0  0  0  3  1  4
municipalities_covered_at_end   0  1  0  3  1  5
coverage_pct_at_end           0.0 5.3 0.0 10.3 5.9 5.1
stage_not_contacted_at_end      9 18 21 26 16 90
stage_dialogue_at_end           1  0  0  0  0  1
stage_plan_in_progress_at_end   0  0  1  0  0  1
stage_plan_signed_at_end        0  0  0  3  1  4
stage_in_operation_at_end       0  1  0  0  0  1
stage_paused_at_end             1  0  0  0  0  1
dialogue_meetings               0  0  0  1  1  2
workshops                       0  0  1  0  0  1
courses                         0  2  0  0  0  3
course_participants             0 12  0  0  0 42
supervision_sessions            2  0  0  0  0  3
supervision_hours             3.8 0.0 0.0 0.0 0.0 4.3
professional_network_meetings   0  0  0  1  0  1
management_network_meetings     0  0  0  0  1  1
conferences                     0  0  0  0  0  1
webinars                        0  0  1  0  0  1
event_participants              0  0 40  0  0 190
materials                       0  0  0  1  0  1
fidelity_reviews                0  0  0  1  0  1
evaluation_activities           1  0  0  0  0  2
quality_measurements_due        0  1  0  3  1  5
quality_measurements_done       0  0  0  1  0  1
"""
EXPECTED_H2 = """
municipalities_total           11 19 22 29 17 98
plans_signed_in_period          0  0  1  0  1  2
municipalities_covered_at_end   0  1  1  2  2  6
coverage_pct_at_end           0.0 5.3 4.5 6.9 11.8 6.1
stage_not_contacted_at_end      9 18 21 26 15 89
stage_dialogue_at_end           0  0  0  0  0  0
stage_plan_in_progress_at_end   0  0  0  0  0  0
stage_plan_signed_at_end        0  0  0  1  2  3
stage_in_operation_at_end       0  1  1  1  0  3
stage_paused_at_end             2  0  0  1  0  3
dialogue_meetings               0  0  0  1  0  1
workshops                       0  0  0  0  0  0
courses                         0  0  1  0  0  1
course_participants             0  0  8  0  0  8
supervision_sessions            0  0  0  1  0  1
supervision_hours             0.0 0.0 0.0 2.0 0.0 2.0
professional_network_meetings   0  0  0  0  0  0
management_network_meetings     0  0  0  0  0  0
conferences                     0  0  0  0  1  1
webinars                        0  0  0  1  0  1
event_participants              0  0  0 25 60 85
materials                       0  0  0  0  0  1
fidelity_reviews                1  0  0  0  1  2
evaluation_activities           0  0  0  0  2  2
quality_measurements_due        0  1  1  2  2  6
quality_measurements_done       0  0  0  1  1  2
"""


def expected(table: str) -> dict[str, dict[str, str]]:
    """The hand-written table as {metric: {column: '12' or '5.3'}}, in the written order."""
    result = {}
    for line in table.strip().splitlines():
        key, *values = line.split()
        result[key] = dict(zip(CODES, values))
    return result


ONE_DECIMAL = {"coverage_pct_at_end", "supervision_hours"}
H1 = (date(2025, 1, 1), date(2025, 6, 30))
H2 = (date(2025, 7, 1), date(2025, 12, 31))


def stage(code, stage_code, on, recorded_at=None):
    extra = {"recorded_at": recorded_at} if recorded_at else {}
    return factories.StageChangeFactory(municipality_code=code, stage=stage_code, effective_date=on, **extra)


def activity(kind, region, on, participants=None, hours=None, municipalities=(), title=None):
    a = factories.ActivityFactory(type=kind, region_code=region, start_date=on, participants=participants,
                                  hours=Decimal(str(hours)) if hours is not None else None,
                                  **({"title": title} if title else {}))
    if municipalities:
        a.municipalities = [db.session.get(Municipality, c) for c in municipalities]
        db.session.commit()
    return a


def review(code, on, total):
    r = FidelityReview(municipality_code=code, review_date=on, total=total)
    db.session.add(r)
    db.session.commit()
    return r


def build_data():
    """Stage history, activities and reviews around the H1/H2 2025 boundaries."""
    d = date
    # København (1084): dialogue → signed in H1 → in operation in H2 (not a new signing).
    stage(101, "dialogue", d(2024, 10, 1)); stage(101, "plan_signed", d(2025, 3, 10))
    stage(101, "in_operation", d(2025, 9, 1))
    # Frederiksberg (1084): signed before; paused, signed, paused, signed again in H1: counts once.
    stage(147, "plan_signed", d(2024, 11, 1)); stage(147, "paused", d(2025, 2, 1))
    stage(147, "plan_signed", d(2025, 5, 1)); stage(147, "paused", d(2025, 6, 15))
    stage(147, "plan_signed", d(2025, 6, 20))
    # Ballerup (1084): signed in H1, later paused in H2.
    stage(151, "plan_signed", d(2025, 2, 1)); stage(151, "paused", d(2025, 8, 15))
    # Greve (1085): backdated signing on 30 June, recorded in September: counts in H1.
    stage(253, "dialogue", d(2025, 1, 10)); stage(253, "plan_in_progress", d(2025, 4, 1))
    stage(253, "plan_signed", d(2025, 6, 30), recorded_at=datetime(2025, 9, 20, 10, 0))
    # Køge (1085): signed on 1 July with no earlier stage: H2.
    stage(259, "plan_signed", d(2025, 7, 1))
    # Odense (1083): plan in progress, in operation on 31 December (uncovered → covered in H2).
    stage(461, "plan_in_progress", d(2025, 3, 1)); stage(461, "in_operation", d(2025, 12, 31))
    # Aarhus (1082): signed in 2024, in operation in H1: covered, but not a new signing.
    stage(751, "plan_signed", d(2024, 6, 1)); stage(751, "in_operation", d(2025, 4, 1))
    # Aalborg (1081): dialogue in H1, paused in H2. Frederikshavn (1081): paused, back in 2026.
    stage(851, "dialogue", d(2025, 5, 5)); stage(851, "paused", d(2025, 11, 11))
    stage(813, "paused", d(2024, 5, 1)); stage(813, "in_operation", d(2026, 1, 1))

    # Activities. H1:
    activity("dialogue_meeting", 1084, d(2025, 6, 30), title="Dialogmøde 30. juni")
    activity("dialogue_meeting", 1085, d(2025, 1, 1))
    activity("dialogue_meeting", 1084, d(2024, 12, 31))  # before both
    activity("workshop", 1083, d(2025, 3, 3), municipalities=(461, 751), title="Workshop Odense og Aarhus")
    activity("course", 1082, d(2025, 2, 10), participants=12)
    activity("course", 1082, d(2025, 5, 10))  # no participants recorded
    activity("course", None, d(2025, 4, 4), participants=30, title="Landsdækkende kursus")
    activity("supervision", 1081, d(2025, 6, 30), hours=1.5)
    activity("supervision", 1081, d(2025, 1, 15), hours=2.25)  # 3.75 → 3.8
    activity("supervision", None, d(2025, 3, 3), hours=0.5)  # nation 4.25 → 4.3
    activity("professional_network", 1084, d(2025, 2, 2))
    activity("management_network", 1085, d(2025, 3, 3))
    activity("conference", None, d(2025, 5, 20), participants=150)
    activity("webinar", 1083, d(2025, 6, 1), participants=40)
    activity("material", 1084, d(2025, 1, 20))
    activity("other", 1084, d(2025, 2, 2))  # no metric
    activity("evaluation", 1081, d(2025, 4, 10), title="Dataindsamling til evalueringen, Aalborg")
    activity("evaluation", None, d(2025, 6, 30), title="Evalueringsworkshop om kvalitetsmåling")  # nation only
    activity("evaluation", 1083, d(2024, 12, 31))  # before both
    # H2:
    activity("dialogue_meeting", 1084, d(2025, 7, 1), title="Dialogmøde 1. juli")
    activity("webinar", 1084, d(2025, 12, 31), participants=25)
    activity("conference", 1085, d(2025, 9, 9), participants=60)
    activity("course", 1083, d(2025, 10, 10), participants=8)
    activity("supervision", 1084, d(2025, 11, 11), hours=2)
    activity("material", None, d(2025, 8, 8))
    activity("workshop", 1082, d(2026, 1, 1))  # after both
    activity("evaluation", 1085, d(2025, 7, 1))
    activity("evaluation", 1085, d(2025, 12, 31), participants=6)
    activity("evaluation", 1082, d(2026, 1, 1))  # after both

    review(101, d(2025, 6, 30), 100)
    review(461, d(2025, 3, 1), None)  # a draft: never counted
    review(851, d(2025, 7, 1), 90)
    review(253, d(2025, 12, 31), 80)


def as_text(report) -> dict[str, dict[str, str]]:
    """The report's values in the same text form as the hand-written tables."""
    return {
        metric.key: {str(c): service.format_value(metric, v) for c, v in zip(report.columns, values)}
        for metric, values in report.rows()
    }


@pytest.fixture
def data(app):
    build_data()


# --- The figures ---------------------------------------------------------------------------


# The keys STAR's CSV had before issue 16, in their order: they stay, and new keys come after them.
KEYS_BEFORE_ISSUE_16 = [
    "municipalities_total", "plans_signed_in_period", "municipalities_covered_at_end", "coverage_pct_at_end",
    "stage_not_contacted_at_end", "stage_dialogue_at_end", "stage_plan_in_progress_at_end",
    "stage_plan_signed_at_end", "stage_in_operation_at_end", "stage_paused_at_end", "dialogue_meetings",
    "workshops", "courses", "course_participants", "supervision_sessions", "supervision_hours",
    "professional_network_meetings", "management_network_meetings", "conferences", "webinars",
    "event_participants", "materials", "fidelity_reviews",
]


def test_metric_keys_are_stable_and_in_order():
    assert service.METRIC_KEYS == list(expected(EXPECTED_H1))
    assert service.METRIC_KEYS[:len(KEYS_BEFORE_ISSUE_16)] == KEYS_BEFORE_ISSUE_16
    assert "evaluation_activities" in service.METRIC_KEYS[len(KEYS_BEFORE_ISSUE_16):]
    new_keys = service.METRIC_KEYS[len(KEYS_BEFORE_ISSUE_16):]
    assert new_keys.index("quality_measurements_due") + 1 == new_keys.index("quality_measurements_done")


def test_csv_header_is_unchanged(data):
    header = service.report_to_csv(service.status_report(*H1)).decode("utf-8-sig").splitlines()[0]
    assert header == "metric,1081,1082,1083,1084,1085,total"


def test_half_year_periods():
    assert half_year_period(2025, 1) == H1
    assert half_year_period(2025, 2) == H2
    with pytest.raises(ValueError):
        half_year_period(2025, 3)


@pytest.mark.parametrize("period, table", [(H1, EXPECTED_H1), (H2, EXPECTED_H2)], ids=["H1", "H2"])
def test_every_metric_matches_hand_count(data, period, table):
    assert as_text(service.status_report(*period)) == expected(table)


def test_counting_takes_one_query_per_family(data, count_queries):
    with count_queries() as q:
        service.status_report(*H1)
    assert q.count == 6  # stages, plans, activities, materials, fidelity, annual quality measurements


def test_custom_range_spanning_the_year(data):
    report = service.status_report(date(2025, 1, 1), date(2025, 12, 31))
    # Every municipality that became covered at least once in 2025, each once.
    assert report.value("plans_signed_in_period", "total") == 6
    assert report.value("dialogue_meetings", "total") == 3
    assert report.value("event_participants", "total") == 275


def test_evaluation_activities_key_its_definition_and_records(data, users, login_as):
    """``evaluation_activities`` (issue 16): evaluation activities by start date, a national one in
    the total only; defined on the page and in the XLSX; its records on the sheets and drill-down."""
    report = service.status_report(date(2025, 1, 1), date(2025, 12, 31))
    assert [report.value("evaluation_activities", c) for c in report.columns] == [1, 0, 0, 0, 2, 4]
    client = login_as(users["working_group"])
    page = client.get("/rapporter/?year=2025&half=1").text
    assert "Evalueringsaktiviteter" in page and "Aktiviteter af typen evaluering" in page
    workbook = load_workbook(io.BytesIO(service.report_to_xlsx(service.status_report(*H1))))
    definitions = {row[0]: row[2] for row in workbook["Definitioner"].iter_rows(min_row=2, values_only=True)}
    assert "evaluering" in definitions["evaluation_activities"]
    national = list(workbook["Landsdækkende"].iter_rows(min_row=2, values_only=True))
    evaluations = [row for row in national if row[0] == "evaluation_activities"]
    assert len(evaluations) == 1
    assert evaluations[0][1:3] == (datetime(2025, 6, 30), "Evalueringsworkshop om kvalitetsmåling")
    assert evaluations[0][4] == "Evaluering"
    text = drill(client, "evaluation_activities", "total")
    assert text.count('class="drilldown-record"') == 2
    assert "Dataindsamling til evalueringen, Aalborg" in text and "Evalueringsworkshop om kvalitetsmåling" in text


# --- Exports and page agree ----------------------------------------------------------------


def csv_figures(data_bytes: bytes) -> dict[str, dict[str, str]]:
    text = data_bytes.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["metric", "1081", "1082", "1083", "1084", "1085", "total"]
    return {row[0]: dict(zip(CODES, row[1:])) for row in rows[1:]}


def xlsx_figures(data_bytes: bytes) -> tuple[dict, object]:
    workbook = load_workbook(io.BytesIO(data_bytes))
    sheet = workbook[workbook.sheetnames[0]]
    rows = list(sheet.iter_rows(values_only=True))
    header_index = next(i for i, row in enumerate(rows) if row[0] == "Nøgle")
    columns = [NAME_TO_COLUMN[name] for name in rows[header_index][2:]]
    figures = {}
    for row in sheet.iter_rows(min_row=header_index + 2):
        key = row[0].value
        figures[key] = {}
        for column, cell in zip(columns, row[2:]):
            assert isinstance(cell.value, (int, float)), (key, column, cell.value)
            if key in ONE_DECIMAL:
                assert cell.number_format == "0.0"
            figures[key][column] = f"{cell.value:.1f}" if key in ONE_DECIMAL else str(cell.value)
    ordered = {key: {c: figures[key][c] for c in CODES} for key in figures}
    return ordered, workbook


def page_figures(html: str) -> dict[str, dict[str, str]]:
    cells = re.findall(r'data-metric="(\w+)" data-column="(\w+)">.*?<span class="figure">([^<]+)</span>',
                       html, re.S)
    figures: dict[str, dict[str, str]] = {}
    for key, column, shown in cells:
        figures.setdefault(key, {})[column] = shown.strip().replace(".", "").replace(",", ".")
    return {key: {c: figures[key][c] for c in CODES} for key in figures}


def test_csv_xlsx_and_page_show_identical_numbers(data, users, login_as):
    client = login_as(users["working_group"])
    want = expected(EXPECTED_H1)
    csv_response = client.get("/rapporter/eksport.csv?start=2025-01-01&end=2025-06-30")
    assert csv_response.status_code == 200
    assert csv_response.mimetype == "text/csv"
    xlsx_response = client.get("/rapporter/eksport.xlsx?start=2025-01-01&end=2025-06-30")
    page = client.get("/rapporter/?year=2025&half=1")
    assert page.status_code == 200

    from_csv = csv_figures(csv_response.data)
    from_xlsx, workbook = xlsx_figures(xlsx_response.data)
    from_page = page_figures(page.text)
    assert from_csv == want
    assert from_xlsx == want
    assert from_page == want
    assert list(from_csv) == list(from_xlsx) == list(from_page) == list(want)

    # Danish labels and explanations on the page; definitions and record sheets in the workbook.
    assert "Dialogmøder" in page.text and "Hele landet" in page.text
    assert {"Definitioner", "Hovedstaden", "Sjælland", "Syddanmark", "Midtjylland", "Nordjylland",
            "Landsdækkende"} <= set(workbook.sheetnames)
    definitions = [row[0] for row in workbook["Definitioner"].iter_rows(min_row=2, values_only=True)]
    assert definitions == list(want)
    titles = {name: {row[2] for row in workbook[name].iter_rows(min_row=2, values_only=True)}
              for name in workbook.sheetnames[2:]}
    assert "Dialogmøde 30. juni" in titles["Hovedstaden"]
    assert "Dialogmøde 1. juli" not in titles["Hovedstaden"]  # H2
    assert "Workshop Odense og Aarhus" in titles["Syddanmark"]
    assert "Workshop Odense og Aarhus" not in titles["Midtjylland"]  # its own region only
    assert "Landsdækkende kursus" in titles["Landsdækkende"]
    hovedstaden = list(workbook["Hovedstaden"].iter_rows(min_row=2, values_only=True))
    signed = sorted(row[2] for row in hovedstaden if row[0] == "plans_signed_in_period")
    assert signed == ["Ballerup", "Frederiksberg", "København"]


SHEET_COLUMNS = {"Hovedstaden": 1084, "Sjælland": 1085, "Syddanmark": 1083, "Midtjylland": 1082,
                 "Nordjylland": 1081, "Landsdækkende": None}
RECORD_HEADER = ("Nøgletal", "Dato", "Kommune/titel", "Kode/id", "Fase/type", "Forrige fase", "Deltagere/score",
                 "Timer")
# The figures whose records the sheets list one row each: the stage of every municipality, plans
# signed, activities counted by type, fidelity reviews.
LISTED_METRICS = [m.key for m in service.METRICS if m.stage or (m.measure == "count" and m.family != "stages")]
# A record's family, in the order the families follow each other on a sheet.
FAMILY_ORDER = {"plans": 0, "stages": 1, "activities": 2, "materials": 3, "fidelity": 4, "quality": 5}


def regional_share(report, key: str, column) -> float:
    """A figure for a region; for the national sheet (None) what the total has beyond the regions."""
    if column is not None:
        return report.value(key, column)
    return report.value(key, "total") - sum(report.value(key, code) for code in report.columns if code != "total")


def test_xlsx_record_sheets_list_exactly_the_records_counted(data):
    """Each region's sheet, and the national one, lists one row per record behind its figures: as
    many rows per metric as the figure counts, amounts adding up to the sums, dates as dates."""
    report = service.status_report(*H1)
    workbook = load_workbook(io.BytesIO(service.report_to_xlsx(report)))
    assert workbook.sheetnames == ["Statusrapport", "Definitioner", *SHEET_COLUMNS]
    amounts = {"course_participants": {"courses"}, "event_participants": {"conferences", "webinars"}}
    for name, column in SHEET_COLUMNS.items():
        sheet = workbook[name]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == RECORD_HEADER
        records = rows[1:]
        keys = [row[0] for row in records]
        assert set(keys) <= set(LISTED_METRICS)
        for key in LISTED_METRICS:
            assert keys.count(key) == regional_share(report, key, column), (name, key)
        for key, counted in amounts.items():
            assert sum(row[6] or 0 for row in records if row[0] in counted) == regional_share(report, key, column)
        hours = sum(row[7] or 0 for row in records if row[0] == "supervision_sessions")
        assert hours == pytest.approx(regional_share(report, "supervision_hours", column), abs=0.05)
        families = [FAMILY_ORDER[service.METRICS_BY_KEY[key].family] for key in keys]
        assert families == sorted(families), name
        activity_dates = [row[1] for row in records if service.METRICS_BY_KEY[row[0]].family == "activities"]
        assert activity_dates == sorted(activity_dates), name
        for row in sheet.iter_rows(min_row=2, max_col=2):
            assert row[1].value is None or (isinstance(row[1].value, datetime)
                                            and row[1].number_format == "dd-mm-yyyy")
    sjaelland = list(workbook["Sjælland"].iter_rows(min_row=2, values_only=True))
    assert ("plans_signed_in_period", datetime(2025, 6, 30), "Greve", 253, "Samarbejdsplan underskrevet",
            "Samarbejdsplan undervejs", None, None) in sjaelland
    assert ("stage_plan_signed_at_end", datetime(2025, 6, 30), "Greve", 253, "Samarbejdsplan underskrevet",
            None, None, None) in sjaelland
    assert ("stage_not_contacted_at_end", None, "Roskilde", 265, "Ikke kontaktet", None, None, None) in sjaelland
    national = list(workbook["Landsdækkende"].iter_rows(min_row=2, values_only=True))
    course = next(row for row in national if row[2] == "Landsdækkende kursus")
    assert course[:2] == ("courses", datetime(2025, 4, 4)) and course[4:] == ("Undervisningsforløb", None, 30, None)
    assert [row[7] for row in national if row[0] == "supervision_sessions"] == [0.5]
    hovedstaden = list(workbook["Hovedstaden"].iter_rows(min_row=2, values_only=True))
    assert [row[:4] + row[5:] for row in hovedstaden if row[0] == "fidelity_reviews"] == [
        ("fidelity_reviews", datetime(2025, 6, 30), "København", 101, None, 100, None)]


def test_print_view_shows_the_figures(data, users, login_as):
    response = login_as(users["ambassador"]).get("/rapporter/udskrift?start=2025-07-01&end=2025-12-31")
    assert response.status_code == 200
    assert page_figures(response.text) == expected(EXPECTED_H2)
    assert "<script" not in response.text
    assert "Definitioner" in response.text


# --- Drill-down ----------------------------------------------------------------------------


def drill(client, metric, region, period=H1):
    url = f"/rapporter/detaljer?metric={metric}&region={region}&start={period[0]}&end={period[1]}"
    response = client.get(url)
    assert response.status_code == 200, url
    return response.text


def test_every_number_links_to_its_records(data, users, login_as):
    client = login_as(users["working_group"])
    page = client.get("/rapporter/?start=01-01-2025&end=30-06-2025").text
    links = re.findall(r'href="(/rapporter/detaljer\?[^"]+)"', page)
    assert len(links) == len(service.METRIC_KEYS) * 6

    text = drill(client, "dialogue_meetings", 1084)
    assert text.count('class="drilldown-record"') == 1 and "Dialogmøde 30. juni" in text
    text = drill(client, "courses", "total")
    assert text.count('class="drilldown-record"') == 3 and "Landsdækkende kursus" in text
    text = drill(client, "plans_signed_in_period", 1084)
    assert text.count('class="drilldown-record"') == 3
    assert all(name in text for name in ("København", "Frederiksberg", "Ballerup"))
    assert text.count('class="drilldown-record"') == 3
    text = drill(client, "stage_paused_at_end", "total", H2)
    assert text.count('class="drilldown-record"') == 3
    text = drill(client, "municipalities_total", 1085)
    assert text.count('class="drilldown-record"') == 17
    text = drill(client, "fidelity_reviews", "total", H2)
    assert text.count('class="drilldown-record"') == 2
    text = drill(client, "supervision_hours", 1081)
    assert "3,8" in text


def test_drilldown_counts_equal_the_report(data):
    """For every count metric and column, the drill-down lists as many records as the figure."""
    report = service.status_report(*H2)
    for metric in service.METRICS:
        if metric.measure != "count" or metric.key == "coverage_pct_at_end":
            continue
        for column in report.columns:
            detail = service.drilldown(metric.key, column, *H2)
            assert detail.total_records == report.value(metric.key, column), (metric.key, column)


@pytest.mark.parametrize("query, status", [
    ("metric=nonsense&region=1084&start=2025-01-01&end=2025-06-30", 404),
    ("metric=courses&region=9999&start=2025-01-01&end=2025-06-30", 404),
    ("metric=courses&region=abc&start=2025-01-01&end=2025-06-30", 404),
    ("metric=courses&region=1084&start=2025-13-01&end=2025-06-30", 400),
    ("metric=courses&region=1084&start=2025-07-01&end=2025-06-30", 400),
    ("metric=courses&region=1084", 400),
])
def test_drilldown_bad_arguments(app, users, login_as, query, status):
    assert login_as(users["ambassador"]).get(f"/rapporter/detaljer?{query}").status_code == status


def test_an_inverted_period_says_which_period_is_shown_instead(app, users, login_as):
    html = login_as(users["ambassador"]).get("/rapporter/?start=2025-06-30&end=2025-01-01").text
    year, half = last_completed_half()
    start, end = half_year_period(year, half)
    assert f"Perioden kunne ikke vises. Viser {start:%d-%m-%Y}–{end:%d-%m-%Y} i stedet." in html
    # the user's dates stay in the boxes: a valid one shown the Danish way
    assert 'value="30-06-2025"' in html and 'value="2025-01-01"' in html  # the wrong one as typed


def test_bad_period_on_the_page_shows_errors_not_a_500(app, users, login_as):
    client = login_as(users["ambassador"])
    response = client.get("/rapporter/?start=2025-06-30&end=2025-01-01")
    assert response.status_code == 200
    assert "Til-datoen skal ligge på eller efter fra-datoen." in response.text
    response = client.get("/rapporter/?year=2025&half=7")
    assert "Perioden kunne ikke vises" in response.text
    assert response.status_code == 200
    assert "invalid-feedback" in response.text
    assert client.get("/rapporter/?start=hello&end=2025-01-01").status_code == 200
    assert client.get("/rapporter/eksport.pdf?start=2025-01-01&end=2025-06-30").status_code == 404
    assert client.get("/rapporter/eksport.csv?start=x&end=2025-06-30").status_code == 400


# --- Frozen submissions --------------------------------------------------------------------


def test_submission_freezes_figures_and_files_and_page_shows_differences(data, users, login_as):
    admin = login_as(users["admin"])
    response = admin.post("/rapporter/indsend", data={"start": "2025-01-01", "end": "2025-06-30",
                                                      "note": "J.nr. 25/123"})
    assert response.status_code == 302
    submission = db.session.scalar(select(ReportSubmission))
    assert submission.submitted_by_id == users["admin"].id
    assert submission.submitted_at is not None
    assert submission.note == "J.nr. 25/123"
    frozen_csv, frozen_xlsx = submission.csv_data, submission.xlsx_data
    assert csv_figures(frozen_csv) == expected(EXPECTED_H1)
    assert xlsx_figures(frozen_xlsx)[0] == expected(EXPECTED_H1)
    page = admin.get("/rapporter/?year=2025&half=1").text
    assert "Dagens tal er de samme som de indsendte." in page

    # Later: a backdated signing in H1 (Roskilde, 1085) and a forgotten H1 dialogue meeting.
    stage(265, "plan_signed", date(2025, 4, 1), recorded_at=datetime(2025, 10, 1))
    activity("dialogue_meeting", 1083, date(2025, 2, 2))
    db.session.expire_all()

    submission = db.session.get(ReportSubmission, submission.id)
    assert submission.csv_data == frozen_csv and submission.xlsx_data == frozen_xlsx
    frozen = service.submitted_report(submission)
    assert as_text(frozen) == expected(EXPECTED_H1)
    assert admin.get(f"/rapporter/indsendelser/{submission.id}.csv").data == frozen_csv
    assert admin.get(f"/rapporter/indsendelser/{submission.id}.xlsx").data == frozen_xlsx

    page = admin.get("/rapporter/?year=2025&half=1").text
    # Today's numbers are shown; the changed cells carry the submitted value.
    today = page_figures(page)
    assert today["plans_signed_in_period"]["1085"] == "2" and today["dialogue_meetings"]["1083"] == "1"
    changed = set(re.findall(r'data-metric="(\w+)" data-column="(\w+)">(?:(?!</td>).)*indsendt: ', page, re.S))
    assert changed == {
        ("plans_signed_in_period", "1085"), ("plans_signed_in_period", "total"),
        ("municipalities_covered_at_end", "1085"), ("municipalities_covered_at_end", "total"),
        ("coverage_pct_at_end", "1085"), ("coverage_pct_at_end", "total"),
        ("stage_not_contacted_at_end", "1085"), ("stage_not_contacted_at_end", "total"),
        ("stage_plan_signed_at_end", "1085"), ("stage_plan_signed_at_end", "total"),
        ("dialogue_meetings", "1083"), ("dialogue_meetings", "total"),
        # Roskilde now has an agreement at the period's end, so it is due a measurement too.
        ("quality_measurements_due", "1085"), ("quality_measurements_due", "total"),
    }
    assert "14 tal er ændret siden indsendelsen" in page

    detail = admin.get(f"/rapporter/indsendelser/{submission.id}")
    assert detail.status_code == 200
    assert page_figures(detail.text) == expected(EXPECTED_H1)
    assert "14 tal er anderledes" in detail.text
    listing = admin.get("/rapporter/?year=2024&half=2").text  # submissions are listed on every period
    assert f"/rapporter/indsendelser/{submission.id}" in listing and "J.nr. 25/123" in listing


@pytest.mark.parametrize("who", ["working_group", "ambassador", "ambassador_b"])
def test_only_admins_can_submit(app, users, login_as, who):
    response = login_as(users[who]).post("/rapporter/indsend", data={"start": "2025-01-01", "end": "2025-06-30"})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count(ReportSubmission.id))) == 0


def test_submit_button_only_for_admins(app, users, login_as):
    assert "Markér som indsendt" not in login_as(users["working_group"]).get("/rapporter/").text
    assert "Markér som indsendt" in login_as(users["admin"]).get("/rapporter/").text


def test_submit_with_bad_period_is_refused_cleanly(app, users, login_as):
    admin = login_as(users["admin"])
    response = admin.post("/rapporter/indsend", data={"start": "2025-06-30", "end": "2025-01-01"},
                          follow_redirects=True)
    assert response.status_code == 200
    assert "Perioden kunne ikke læses" in response.text
    assert db.session.scalar(select(func.count(ReportSubmission.id))) == 0


def test_submit_needs_csrf_token(app, users, login_as):
    app.config["WTF_CSRF_ENABLED"] = True
    admin = login_as(users["admin"])
    response = admin.post("/rapporter/indsend", data={"start": "2025-01-01", "end": "2025-06-30"})
    assert response.status_code in (302, 400)
    assert db.session.scalar(select(func.count(ReportSubmission.id))) == 0


# --- CLI -----------------------------------------------------------------------------------


def test_cli_writes_csv_and_xlsx(data, runner, tmp_path):
    out = tmp_path / "h1.csv"
    result = runner.invoke(args=["report", "status", "--year", "2025", "--half", "1", "--format", "csv",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert csv_figures(out.read_bytes()) == expected(EXPECTED_H1)

    out = tmp_path / "h2.xlsx"
    result = runner.invoke(args=["report", "status", "--from", "2025-07-01", "--to", "2025-12-31",
                                 "--format", "xlsx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert xlsx_figures(out.read_bytes())[0] == expected(EXPECTED_H2)

    result = runner.invoke(args=["report", "status", "--year", "2025", "--half", "2", "--out", "-"])
    assert result.exit_code == 0
    assert csv_figures(result.stdout.encode()) == expected(EXPECTED_H2)


@pytest.mark.parametrize("args, message", [
    (["--year", "2025"], "--half"),
    (["--year", "2025", "--half", "3"], "--half"),
    (["--half", "1"], "--year"),
    (["--from", "2025-07-01", "--to", "2025-06-30"], "after --to"),
    (["--from", "2025-07-01"], "--to"),
    (["--from", "1-7-2025x", "--to", "2025-12-31"], "--from"),
    (["--year", "2025", "--half", "1", "--from", "2025-01-01", "--to", "2025-06-30"], "not both"),
    (["--year", "2025", "--half", "1", "--format", "pdf"], "--format"),
    ([], "--year"),
])
def test_cli_bad_arguments(app, runner, tmp_path, args, message):
    out = tmp_path / "x.csv"
    result = runner.invoke(args=["report", "status", *args, "--out", str(out)])
    assert result.exit_code != 0
    assert message in result.output
    assert not out.exists()


def test_cli_unwritable_path(app, runner, tmp_path):
    out = tmp_path / "no" / "such" / "dir" / "x.xlsx"
    result = runner.invoke(args=["report", "status", "--year", "2025", "--half", "1", "--format", "xlsx",
                                 "--out", str(out)])
    assert result.exit_code != 0
    assert "Cannot write" in result.output


# --- Constant number of queries ------------------------------------------------------------


def add_bulk(n: int) -> None:
    """More of everything the page counts, through the ORM."""
    codes = [c for c in db.session.scalars(select(Municipality.code).order_by(Municipality.code))][:n]
    for i, code in enumerate(codes):
        db.session.add(StageChange(municipality_code=code, stage="dialogue",
                                             effective_date=date(2025, 1, 2)))
        db.session.add(StageChange(municipality_code=code, stage="plan_signed",
                                             effective_date=date(2025, 3, 3 + i % 20)))
        for kind in ("dialogue_meeting", "course", "webinar", "supervision"):
            db.session.add(Activity(type=kind, title=f"{kind} {i}", start_date=date(2025, 2, 1 + i % 27),
                                    region_code=1084 if i % 2 else None, participants=3, hours=Decimal("1.0")))
        db.session.add(FidelityReview(municipality_code=code, review_date=date(2025, 5, 5), total=99))
    db.session.commit()


def test_report_pages_issue_a_constant_number_of_queries(app, users, login_as, count_queries):
    client = login_as(users["admin"])
    service.submit_report(*H1, actor=users["admin"])
    db.session.commit()
    submission_id = db.session.scalar(select(ReportSubmission.id))
    urls = ["/rapporter/?year=2025&half=1", f"/rapporter/indsendelser/{submission_id}",
            "/rapporter/detaljer?metric=courses&region=total&start=2025-01-01&end=2025-06-30",
            "/rapporter/detaljer?metric=plans_signed_in_period&region=total&start=2025-01-01&end=2025-06-30"]

    def counts():
        result = []
        for url in urls:
            with count_queries() as q:
                assert client.get(url).status_code == 200
            result.append(q.count)
        return result

    small = counts()
    add_bulk(60)
    service.submit_report(*H1, actor=users["admin"])
    db.session.commit()
    assert counts() == small
    assert small[0] <= 9  # the user, the region names, one query per family of figures, the submission


def test_every_drilldown_link_is_the_one_url_for_builds(app, users, login_as):
    """Every link of the figures table is the one url_for builds for its metric and column."""
    from html import unescape

    from flask import url_for

    html = login_as(users["working_group"]).get("/rapporter/?year=2025&half=1").text
    cells = re.findall(r'data-metric="([^"]+)" data-column="([^"]+)"><a href="([^"]+)"', html)
    assert len(cells) == len(service.METRICS) * 6  # five regions and the nation
    with app.test_request_context():
        for metric, column, href in cells:
            assert unescape(href) == url_for("reports.drilldown", metric=metric, region=column,
                                             start="2025-01-01", end="2025-06-30")


def test_the_figures_table_escapes_what_it_shows(app, users, login_as):
    """The table's body is written without autoescaping (a thousand escapes a page): a region name
    with markup in it is still escaped in the headings and in every cell's aria-label, and the
    links' ampersands are entities."""
    from crm.models import Region

    db.session.get(Region, 1084).name = 'Region <b>Hoved</b>staden & "Co"'
    db.session.commit()
    html = login_as(users["working_group"]).get("/rapporter/?year=2025&half=1").text
    assert "<b>Hoved</b>" not in html
    escaped = "&lt;b&gt;Hoved&lt;/b&gt;staden &amp; &#34;Co&#34;"
    cells = re.findall(r'data-column="1084"><a href="([^"]+)"\s+aria-label="([^"]+)"', html)
    assert len(cells) == len(service.METRICS)
    for href, label in cells:
        assert f", {escaped}: " in label
        assert "&amp;region=1084&amp;start=2025-01-01&amp;end=2025-06-30" in href and "&r" not in href
