"""Annual measurement coverage: which municipalities with an agreement had a complete quality
measurement (fidelity review, any instrument version) in a year, as of any date.

Definitions (the README's and the status report's ``quality_measurements_due`` /
``quality_measurements_done``):
- the **measurement period** of year Y as of date D runs from 1 January Y to the earlier of D and
  31 December Y (nothing when D lies before Y);
- a municipality is **due** an annual measurement in Y when it has an agreement (stage
  »Samarbejdsplan underskrevet« or »IPS i drift«) on the period's last day;
- it is **done** when it is due and has a complete review (every item rated) dated within the
  period. Drafts never count; several reviews count once.
Everything is counted by the database in one query per question.

The page statements are built once per process with bound dates (``@cache``): building one costs
SQLAlchemy more time than the database needs to run it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Optional

from sqlalchemy import Date, bindparam, case, func, literal_column, select, union_all

from crm.extensions import db
from crm.models import COVERED_STAGES, FidelityReview, Municipality, Region, StageChange
from crm.services.stages import REGION, stage_select


def measurement_period(year: int, as_of: date) -> Optional[tuple[date, date]]:
    """(1 January ``year``, the earlier of ``as_of`` and 31 December), or None before the year."""
    start = date(year, 1, 1)
    if as_of < start:
        return None
    return start, min(as_of, date(year, 12, 31))


def covered_on(on, *columns):
    """SELECT ``columns`` FROM the municipalities with an agreement on ``on`` (a date or bind):
    the stage rule of ``crm.services.stages``, limited to the covered stages."""
    return stage_select(on, *columns).where(StageChange.stage.in_(COVERED_STAGES))


def measured_flag(start, end):
    """1 when the row's municipality has a complete review dated from ``start`` to ``end``, else 0.

    An uncorrelated IN: the period's reviews are looked up once, not once per municipality."""
    measured = Municipality.code.in_(
        select(FidelityReview.municipality_code).where(FidelityReview.total.is_not(None),
                                                       FidelityReview.review_date >= start,
                                                       FidelityReview.review_date <= end))
    return case((measured, 1), else_=0)


def counts_by_region(start, end) -> list[tuple[int, int, int]]:
    """(region code, due, done) for the measurement period ``start``–``end`` (one grouped query)."""
    return [(region, due, int(done or 0))
            for region, due, done in db.session.execute(counts_by_region_query(start, end))]


def counts_by_region_query(start, end):
    """The statement behind ``counts_by_region``: (region code, due, done or NULL) rows. ``start``
    and ``end`` are dates or bound parameters (the status report builds it once, with binds)."""
    flag = measured_flag(start, end).label("done")
    inner = covered_on(end, Municipality.region_code.label("region_code"), flag).subquery()
    return select(inner.c.region_code, func.count(), func.sum(inner.c.done)).group_by(inner.c.region_code)


@dataclass(frozen=True)
class CoverageRow:
    code: int
    name: str
    region_code: int
    region_name: str
    done: bool


@dataclass(frozen=True)
class Coverage:
    """One year's coverage as of a date: the municipalities due, which are done, which are missing."""

    year: int
    start: Optional[date]
    end: Optional[date]
    rows: list[CoverageRow]

    @property
    def due(self) -> int:
        return len(self.rows)

    @property
    def done(self) -> int:
        return sum(1 for r in self.rows if r.done)

    @property
    def missing(self) -> list[CoverageRow]:
        return [r for r in self.rows if not r.done]

    @property
    def percent(self) -> Optional[float]:
        return round(self.done * 100 / self.due, 1) if self.due else None


def coverage(year: int, as_of: date, region_code: Optional[int] = None) -> Coverage:
    """Year ``year``'s coverage as of ``as_of`` (optionally one region), by region and name (one query)."""
    period = measurement_period(year, as_of)
    if period is None:
        return Coverage(year, None, None, [])
    start, end = period
    parameters = {"start": start, "end": end, "region_code": region_code}
    rows = [CoverageRow(code, name, region, region_name, bool(done))
            for code, name, region, region_name, done in db.session.execute(_coverage_query(region_code is not None),
                                                                           parameters)]
    return Coverage(year, start, end, rows)


START, END = bindparam("start", type_=Date), bindparam("end", type_=Date)


@cache
def _coverage_query(one_region: bool):
    """The statement behind ``coverage``, per variant (built once per process)."""
    query = (covered_on(END, Municipality.code, Municipality.name, Municipality.region_code, Region.name,
                        measured_flag(START, END))
             .join(Region, Region.code == Municipality.region_code)
             .order_by(Municipality.region_code, Municipality.name))
    return query.where(Municipality.region_code == REGION) if one_region else query


@dataclass(frozen=True)
class YearCount:
    year: int
    due: int
    done: int


def recent_years(as_of: date, years: int = 3, region_code: Optional[int] = None) -> list[YearCount]:
    """Due and done for the ``years`` years up to ``as_of``'s year, newest first (one query for all
    the years: each year's ``counts_by_region`` rule, its rows told apart by the year's place)."""
    periods = [measurement_period(year, as_of) for year in range(as_of.year, as_of.year - years, -1)]
    parameters = {"region_code": region_code}
    for index, (start, end) in enumerate(periods):
        parameters[f"start_{index}"], parameters[f"end_{index}"] = start, end
    counts = {index: (due, int(done or 0)) for index, due, done in
              db.session.execute(_recent_years_query(years, region_code is not None), parameters)}
    return [YearCount(start.year, *counts.get(index, (0, 0))) for index, (start, _end) in enumerate(periods)]


@cache
def _recent_years_query(years: int, one_region: bool):
    """The statement behind ``recent_years``: per year, the covered municipalities (of the region)
    with their done flag, all years in one UNION ALL counted by year (built once per variant)."""
    parts = []
    for index in range(years):
        start, end = bindparam(f"start_{index}", type_=Date), bindparam(f"end_{index}", type_=Date)
        part = covered_on(end, literal_column(str(index)).label("year_index"), measured_flag(start, end).label("done"))
        parts.append(part.where(Municipality.region_code == REGION) if one_region else part)
    rows = union_all(*parts).subquery()
    return select(rows.c.year_index, func.count(), func.sum(rows.c.done)).group_by(rows.c.year_index)
