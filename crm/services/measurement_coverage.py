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
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

from sqlalchemy import case, exists, func, select

from crm.extensions import db
from crm.models import COVERED_STAGES, FidelityReview, Municipality, Region, StageChange
from crm.services.stages import stage_select


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
    """1 when the row's municipality has a complete review dated from ``start`` to ``end``, else 0."""
    measured = exists().where(FidelityReview.municipality_code == Municipality.code,
                              FidelityReview.total.is_not(None), FidelityReview.review_date >= start,
                              FidelityReview.review_date <= end)
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
    query = (covered_on(end, Municipality.code, Municipality.name, Municipality.region_code, Region.name,
                        measured_flag(start, end))
             .join(Region, Region.code == Municipality.region_code)
             .order_by(Municipality.region_code, Municipality.name))
    if region_code is not None:
        query = query.where(Municipality.region_code == region_code)
    rows = [CoverageRow(code, name, region, region_name, bool(done))
            for code, name, region, region_name, done in db.session.execute(query)]
    return Coverage(year, start, end, rows)


@dataclass(frozen=True)
class YearCount:
    year: int
    due: int
    done: int


def recent_years(as_of: date, years: int = 3, region_code: Optional[int] = None) -> list[YearCount]:
    """Due and done for the ``years`` years up to ``as_of``'s year, newest first (one query each)."""
    result = []
    for year in range(as_of.year, as_of.year - years, -1):
        start, end = measurement_period(year, as_of)
        rows = counts_by_region(start, end)
        rows = [r for r in rows if region_code is None or r[0] == region_code]
        result.append(YearCount(year, sum(r[1] for r in rows), sum(r[2] for r in rows)))
    return result
