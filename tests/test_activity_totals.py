"""The dashboard's half-year counts and the status report's counts and sums, read from the
per-month totals plus the partial months at the edges, equal a plain GROUP BY over every activity
for any range: within one month, across months and years, ending mid-month, on both databases."""
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Date, bindparam, func, insert, literal_column, select, union_all

from crm.database import column_rows
from crm.extensions import db
from crm.models import Activity
from crm.services.activity_totals import range_parameters
from crm.services.dashboard import _activity_overview_query, activity_overview
from crm.services.report import REPORTED_ACTIVITY_TYPES, _activity_count_query, activity_figures

FIRST = date(2024, 11, 3)
DAYS = 800
TYPES = ("dialogue_meeting", "workshop", "course", "supervision", "conference", "webinar", "material", "other")


@pytest.fixture
def activities(app):
    """A few hundred activities over two years: every region and national, some without
    participants or hours, a few groups whose participants (hours) are never known."""
    pick = random.Random(19)
    rows = []
    for number in range(400):
        kind = pick.choice(TYPES)
        rows.append({
            "type": kind, "title": f"Aktivitet {number}", "version": 1,
            "start_date": FIRST + timedelta(days=pick.randrange(DAYS)),
            "region_code": pick.choice((1081, 1082, 1083, 1084, 1085, None)),
            # conferences never have participants, webinars never hours: all-NULL groups
            "participants": None if kind == "conference" or pick.random() < 0.2 else pick.randrange(60),
            "hours": None if kind == "webinar" or pick.random() < 0.2 else Decimal(pick.randrange(1, 2000)) / 100,
        })
    db.session.execute(insert(Activity), rows)
    db.session.commit()


def _ranges() -> list[tuple[date, date]]:
    pick = random.Random(27)
    ranges = [(date(2025, 7, 1), date(2025, 11, 27)),  # this half year, ending today
              (date(2025, 1, 1), date(2025, 6, 30)),  # a whole half year: only totals
              (date(2025, 3, 1), date(2025, 3, 31)),  # one whole month
              (date(2025, 3, 5), date(2025, 3, 20)),  # within one month
              (date(2025, 3, 5), date(2025, 4, 20)),  # two partial months, none whole
              (date(2025, 2, 28), date(2025, 4, 1)),  # one day either side of a whole month
              (date(2024, 12, 15), date(2026, 1, 10)),  # across years
              (date(2026, 6, 1), date(2026, 6, 1)),  # one day
              (date(2020, 1, 1), date(2030, 12, 31))]  # everything
    for _ in range(25):
        start = FIRST + timedelta(days=pick.randrange(-20, DAYS))
        ranges.append((start, start + timedelta(days=pick.choice((0, 3, 27, 40, 95, 180, 400)))))
    return ranges


def _typed(rows) -> list:
    """Rows with each value's type, sorted (None sorts as its repr): equal means identical."""
    return sorted((tuple((type(value).__name__, value) for value in row) for row in rows), key=repr)


def _plain_report_rows(start: date, end: date) -> list:
    """The report's former query (columns region first): a GROUP BY over every activity in the range."""
    return column_rows(
        select(Activity.region_code, Activity.type, func.count(Activity.id), func.sum(Activity.participants),
               func.sum(Activity.hours))
        .where(Activity.start_date >= start, Activity.start_date <= end, Activity.type.in_(REPORTED_ACTIVITY_TYPES))
        .group_by(Activity.type, Activity.region_code)).all()


def _plain_overview_rows(this: tuple[date, date], last: tuple[date, date]) -> list:
    """The dashboard's former query: counts per region and type for each half year."""
    query = union_all(*(
        select(Activity.region_code, Activity.type, literal_column(str(half)), func.count())
        .where(Activity.start_date.between(bindparam(f"start_{half}", type_=Date), bindparam(f"end_{half}", type_=Date)))
        .group_by(Activity.region_code, Activity.type)
        for half in (0, 1)))
    return column_rows(query, start_0=this[0], end_0=this[1], start_1=last[0], end_1=last[1]).all()


def test_the_report_counts_equal_a_plain_group_by(activities):
    checked = 0
    for start, end in _ranges():
        plain = _plain_report_rows(start, end)
        totals = column_rows(_activity_count_query(), **range_parameters(start, end)).all()
        assert _typed(totals) == _typed(plain), (start, end)
        checked += bool(plain)
    assert checked > 20
    # the data has groups of only unknown participants or hours, which must sum to NULL
    everything = _plain_report_rows(date(2020, 1, 1), date(2030, 12, 31))
    assert any(row[3] is None for row in everything) and any(row[4] is None for row in everything)
    assert any(row[0] is None for row in everything)  # national activities


def test_the_report_figures_equal_those_of_a_plain_group_by(activities):
    """The figures the report shows, national activities counted in the total only."""
    start, end = date(2025, 1, 10), date(2025, 9, 17)
    figures = activity_figures(start, end, (1081, 1084))
    courses = [row for row in _plain_report_rows(start, end) if row[1] == "course"]
    assert figures["courses"]["total"] == sum(count for _region, _kind, count, _p, _h in courses)
    assert figures["courses"][1084] == sum(count for region, _kind, count, _p, _h in courses if region == 1084)


def test_the_dashboard_counts_equal_a_plain_group_by(activities):
    pick = random.Random(31)
    days = [date(2025, 11, 27), date(2025, 7, 1), date(2025, 6, 30), date(2026, 1, 31), date(2025, 12, 1)]
    days += [FIRST + timedelta(days=pick.randrange(DAYS)) for _ in range(15)]
    for day in days:
        this, last = _halves(day)
        plain = _plain_overview_rows(this, last)
        totals = column_rows(_activity_overview_query(), **range_parameters(*this, "_0"),
                             **range_parameters(*last, "_1")).all()
        assert _typed(totals) == _typed(plain), day
    assert sum(this + last for this, last in activity_overview(date(2025, 11, 27)).values()) == sum(
        row[3] for row in _plain_overview_rows(*_halves(date(2025, 11, 27))))


def _halves(day: date) -> tuple[tuple[date, date], tuple[date, date]]:
    start = date(day.year, 1 if day.month <= 6 else 7, 1)
    last_start = date(start.year - (start.month == 1), 7 if start.month == 1 else 1, 1)
    return (start, day), (last_start, start - timedelta(days=1))


@pytest.mark.parametrize("start, end, expected", [
    # the current half year up to 27 Nov: Jul-Oct from the totals, 1-27 Nov scanned
    (date(2025, 7, 1), date(2025, 11, 27), ((date(2025, 7, 1), date(2025, 6, 30)), (date(2025, 7, 1), date(2025, 11, 1)),
                                            (date(2025, 11, 1), date(2025, 11, 27)))),
    # a whole half year: nothing scanned
    (date(2025, 1, 1), date(2025, 6, 30), ((date(2025, 1, 1), date(2024, 12, 31)), (date(2025, 1, 1), date(2025, 7, 1)),
                                           (date(2025, 7, 1), date(2025, 6, 30)))),
    # within one month: all scanned, no totals
    (date(2025, 3, 5), date(2025, 3, 20), ((date(2025, 3, 5), date(2025, 3, 20)), (date(2025, 4, 1), date(2025, 4, 1)),
                                           (date(2025, 3, 5), date(2025, 3, 4)))),
    # partial months either side of a whole one, across a year
    (date(2024, 11, 15), date(2025, 1, 3), ((date(2024, 11, 15), date(2024, 11, 30)),
                                            (date(2024, 12, 1), date(2025, 1, 1)),
                                            (date(2025, 1, 1), date(2025, 1, 3)))),
])
def test_a_range_is_split_into_whole_months_and_its_edges(start, end, expected):
    values = range_parameters(start, end)
    assert ((values["head_start"], values["head_end"]), (values["first_month"], values["end_month"]),
            (values["tail_start"], values["tail_end"])) == expected
