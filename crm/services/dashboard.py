"""The national coverage dashboard: progress toward the target, the trend, the stage funnel and
the activity overview, each computed by the database from logged records.

Coverage on a date follows ``crm.services.stages`` (as the status report counts). The page needs
the stage on many dates (the as-of date, six months before, every month end of the trend); rather
than one query per date it loads the whole stage-change history once (a few thousand rows at
most) and replays it (the rule's replay form), so the page costs the same number of queries
however long the history is.
"""
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Iterable, NamedTuple, Optional

from sqlalchemy import Date, bindparam, func, literal_column, select
from sqlalchemy.orm import joinedload

from crm.database import column_rows
from crm.extensions import db
from crm.formatting import add_months, half_year_start, month_ends
from crm.models import (ACTIVITY_TYPES, COVERED_STAGES, STAGE_CODES, Activity, Municipality, Note, Region,
                        StageChange, activity_municipality)
from crm.services.activity_totals import grouped_totals, range_branches, range_parameters
from crm.services.stages import REGION, History, Replay, StageOnDate, load_history, replay_stages_on, stages_on

NATIONAL = "national"  # the key of the national figures next to the region codes
OTHER_TRACK = 0  # activities of type "other", which belong to no track


# --- Coverage --------------------------------------------------------------------------------


def coverage_target(total: int, fraction: float) -> int:
    """⌈fraction × total⌉: 66 of 98 for two thirds. Rounded first so 0.5 × 98 stays 49."""
    return math.ceil(round(fraction * total, 9))


@dataclass(frozen=True)
class Coverage:
    """Covered municipalities on a date, out of ``total``, against the target."""

    covered: int
    total: int
    target: int

    @property
    def missing(self) -> int:
        """How many more must be covered to reach the target (never negative)."""
        return max(0, self.target - self.covered)

    @property
    def pct(self) -> float:
        """Covered as a percentage of all."""
        return 100.0 * self.covered / self.total if self.total else 0.0

    @property
    def target_pct(self) -> float:
        """The target as a percentage of all (where the bar marks it)."""
        return 100.0 * self.target / self.total if self.total else 0.0


def covered_count(stages: dict[int, StageOnDate], codes: Optional[Iterable[int]] = None) -> int:
    """How many of ``codes`` (default: all in ``stages``) stand in a covered stage."""
    codes = stages.keys() if codes is None else codes
    return sum(1 for code in codes if code in stages and stages[code].covered)


def apportion_target(national_target: int, sizes: dict) -> dict:
    """The national target shared out in proportion to ``sizes`` (municipalities per region) by
    largest remainder, so the regions' targets add up to the national one: each region gets the
    whole part of its exact share, and the seats left go to the largest remainders (equal
    remainders: the larger region first, then the lower code). Integer arithmetic, no rounding."""
    total = sum(sizes.values())
    if not total:
        return {key: 0 for key in sizes}
    shares = {key: divmod(national_target * size, total) for key, size in sizes.items()}
    targets = {key: whole for key, (whole, _remainder) in shares.items()}
    left = national_target - sum(targets.values())
    by_remainder = sorted(sizes, key=lambda key: (-shares[key][1], -sizes[key], key))
    for key in by_remainder[:left]:
        targets[key] += 1
    return targets


def coverage_by_region(stages: dict[int, StageOnDate], region_of: dict[int, int], fraction: float) -> dict:
    """Coverage per region code and under ``NATIONAL``: the national target is ⌈fraction × all⌉,
    shared out among the regions by ``apportion_target``. ``region_of`` maps every municipality
    code to its region code."""
    codes_by_region: dict = defaultdict(list)
    for code, region_code in region_of.items():
        codes_by_region[region_code].append(code)
    national_target = coverage_target(len(region_of), fraction)
    targets = apportion_target(national_target, {key: len(codes) for key, codes in codes_by_region.items()})
    coverage = {
        key: Coverage(covered_count(stages, codes), len(codes), targets[key])
        for key, codes in codes_by_region.items()
    }
    coverage[NATIONAL] = Coverage(covered_count(stages, region_of), len(region_of), national_target)
    return coverage


def stage_counts(stages: dict[int, StageOnDate]) -> dict[str, int]:
    """Municipalities per stage, every stage present (0 when none), in pipeline order."""
    counts = Counter(s.stage for s in stages.values())
    return {code: counts.get(code, 0) for code in STAGE_CODES}


# --- Trend -----------------------------------------------------------------------------------


class TrendPoint(NamedTuple):
    """Covered municipalities at the end of a month (or on the as-of date for its month)."""

    on: date
    covered: dict  # region code or NATIONAL -> count


def monthly_trend(history: History, region_of: dict[int, int], on: date) -> list[TrendPoint]:
    """Covered municipalities per month end from the first recorded change to ``on``.

    Replays ``history`` (oldest first) once: each month end takes every change up to that day.
    The counts are kept up to date change by change, so a month costs no more than copying them.
    """
    dated = [h for h in history if h[2] <= on and h[0] in region_of]
    if not dated:
        return []
    covered = dict.fromkeys((*sorted(set(region_of.values())), NATIONAL), 0)
    replay = Replay(dated)
    points: list[TrendPoint] = []
    for point in month_ends(dated[0][2], on):
        for change in replay.advance(point):
            step = (change.stage in COVERED_STAGES) - (change.before in COVERED_STAGES)
            covered[region_of[change.code]] += step
            covered[NATIONAL] += step
        points.append(TrendPoint(point, dict(covered)))
    return points


@dataclass(frozen=True)
class TargetLine:
    """The straight line from the first month's value to the target on the programme's end."""

    start: date
    start_value: int
    end: date
    end_value: int

    def value_on(self, day: date) -> float:
        """Where the line stands on ``day`` (held flat outside start–end)."""
        if day <= self.start or self.end <= self.start:
            return float(self.start_value if day <= self.start else self.end_value)
        if day >= self.end:
            return float(self.end_value)
        share = (day - self.start).days / (self.end - self.start).days
        return self.start_value + share * (self.end_value - self.start_value)


@dataclass(frozen=True)
class Series:
    """One trend chart: the monthly points for one region (or the nation) and its target line."""

    key: object
    name: str
    points: list[tuple[date, int]]
    coverage: Coverage
    target_line: Optional[TargetLine]


def trend_series(points: list[TrendPoint], key, name: str, coverage: Coverage, programme_end: date) -> Series:
    """The series for ``key`` (a region code or NATIONAL) with its target line."""
    values = [(p.on, p.covered.get(key, 0)) for p in points]
    line = TargetLine(values[0][0], values[0][1], programme_end, coverage.target) if values else None
    return Series(key, name, values, coverage, line)


@dataclass(frozen=True)
class FunnelRow:
    """One stage's count now and ``months`` earlier, with bar lengths in percent of the largest."""

    stage: str
    earlier: int
    now: int
    earlier_pct: float
    now_pct: float

    @property
    def change(self) -> int:
        """Now minus earlier."""
        return self.now - self.earlier


def funnel(now: dict[str, int], earlier: dict[str, int]) -> list[FunnelRow]:
    """Stage counts side by side, scaled for bars."""
    largest = max([1, *now.values(), *earlier.values()])
    return [FunnelRow(code, earlier[code], now[code], 100.0 * earlier[code] / largest, 100.0 * now[code] / largest)
            for code in STAGE_CODES]


# --- Activity overview -----------------------------------------------------------------------


def track_of(activity_type: str) -> int:
    """The track of an activity type; ``OTHER_TRACK`` for "other" (no fixed track) or unknown types."""
    return ACTIVITY_TYPES.get(activity_type, ("", None))[1] or OTHER_TRACK


@dataclass(frozen=True)
class HalfYears:
    """This half year (from its start to the as-of date) and the whole half year before it."""

    this_start: date
    this_end: date
    last_start: date
    last_end: date

    @classmethod
    def around(cls, on: date) -> "HalfYears":
        """The half year ``on`` falls in (up to ``on``) and the whole one before it."""
        start = half_year_start(on)
        last_start = half_year_start(start - timedelta(days=1))
        return cls(start, on, last_start, start - timedelta(days=1))


def activity_overview(on: date) -> dict[tuple[Optional[int], int], tuple[int, int]]:
    """Activities per (region code or None for national, track) as (this half year, last half year).

    One query: a count per region and type for each half year; types are mapped to tracks in Python.
    """
    halves = HalfYears.around(on)
    rows = column_rows(_activity_overview_query(), **range_parameters(halves.this_start, halves.this_end, "_0"),
                       **range_parameters(halves.last_start, halves.last_end, "_1"))
    counts: dict = defaultdict(lambda: [0, 0])
    for region_code, activity_type, half, count in rows:
        counts[(region_code, track_of(activity_type))][half] += count
    return {key: (this, last) for key, (this, last) in counts.items()}


@cache
def _activity_overview_query():
    """Counts per region and type for half year 0 (this) and 1 (last), built once per process.

    Whole months come from the per-month totals the database keeps, the partial month at each
    edge (this half year's current month) from ``activity``: a few hundred rows whatever the
    number of activities, instead of a range scan over both half years' activities.
    """
    return grouped_totals([*range_branches("_0", tags=(literal_column("0").label("half"),)),
                           *range_branches("_1", tags=(literal_column("1").label("half"),))], tags=("half",))


ALL_REGIONS = "all"  # the overview's total row: every region and the national activities


@dataclass(frozen=True)
class ActivityRow:
    """One row of the overview: ``key`` a region code, None (national activities) or ALL_REGIONS;
    ``cells`` (track, this half year, last half year) in column order."""

    key: object
    name: str
    cells: list[tuple[int, int, int]]

    @property
    def this_total(self) -> int:
        """All tracks, this half year."""
        return sum(this for _track, this, _last in self.cells)

    @property
    def last_total(self) -> int:
        """All tracks, last half year."""
        return sum(last for _track, _this, last in self.cells)


def activity_rows(counts: dict, regions: list[tuple[Optional[int], str]], tracks: list[int],
                  total_name: str) -> list[ActivityRow]:
    """The overview table from ``activity_overview`` counts: one row per region (and national),
    then the total row."""
    rows = [ActivityRow(key, name, [(t, *counts.get((key, t), (0, 0))) for t in tracks]) for key, name in regions]
    totals = [(t, sum(r.cells[i][1] for r in rows), sum(r.cells[i][2] for r in rows)) for i, t in enumerate(tracks)]
    return rows + [ActivityRow(ALL_REGIONS, total_name, totals)]


def gone_quiet(today: date, region_code: int | None = None, months: int = 6) -> list[tuple[Municipality, date | None]]:
    """Municipalities with no logged contact in the last ``months`` months, with their last contact.

    A contact is an activity linked to the municipality, a note on it or a stage change, dated on
    or before ``today`` (planned activities do not count yet). Never contacted (None) come first,
    then the longest quiet. One query (see ``_gone_quiet_query``).
    """
    cutoff = add_months(today, -months)
    params = {"today": today, "cutoff": cutoff, "region_code": region_code}
    rows = []
    for municipality, *dates in db.session.execute(_gone_quiet_query(region_code is not None), params):
        known = [_as_date(value) for value in dates if value is not None]
        rows.append((municipality, max(known) if known else None))
    return sorted(rows, key=lambda row: (row[1] is not None, row[1] or date.min, row[0].name))


@cache
def _gone_quiet_query(one_region: bool):
    """The municipalities quiet since :cutoff, with their last contacts up to :today (and only
    those of :region_code if ``one_region``). Built once per process.

    Its cost does not grow with the number of activities: per municipality, a recent activity,
    note or stage change and the last of each are single seeks in (municipality, date) indexes;
    for activities that is the link's copy of the start date (kept by the database).
    """
    today, cutoff = bindparam("today", type_=Date), bindparam("cutoff", type_=Date)
    link = activity_municipality.c
    query = (
        select(Municipality, _last_activity(today), _last_dated(Note.municipality_code, Note.note_date, today),
               _last_dated(StageChange.municipality_code, StageChange.effective_date, today))
        .where(~_dated_between(link.municipality_code, link.start_date, cutoff, today),
               ~_dated_between(Note.municipality_code, Note.note_date, cutoff, today),
               ~_dated_between(StageChange.municipality_code, StageChange.effective_date, cutoff, today))
        .options(joinedload(Municipality.region))
    )
    return query.where(Municipality.region_code == REGION) if one_region else query


def _last_activity(today):
    """Correlated: the municipality's last linked activity starting on or before ``today``: one
    seek in the link's (municipality, start date) index (the database keeps the link's copy of
    the date), instead of probing the activity of every link."""
    return _last_dated(activity_municipality.c.municipality_code, activity_municipality.c.start_date, today)


def _last_dated(code_column, date_column, today):
    """Correlated: the municipality's latest ``date_column`` on or before ``today`` (one index seek)."""
    return (select(func.max(date_column))
            .where(code_column == Municipality.code, date_column <= today).scalar_subquery())


def _dated_between(code_column, date_column, start, end):
    """Correlated: does the municipality have a row dated start–end? (One index seek.)"""
    return select(code_column).where(code_column == Municipality.code, date_column.between(start, end)).exists()


def _as_date(value) -> Optional[date]:
    """MAX() over a UNION comes back as text on SQLite; make it a date on every database."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- The whole page --------------------------------------------------------------------------


@dataclass
class Dashboard:
    """Every figure on the dashboard for one as-of date."""

    on: date
    earlier: date
    programme_end: date
    fraction: float
    regions: list[Region]
    region_of: dict[int, int]  # municipality code -> region code, every municipality
    stages: dict[int, StageOnDate]
    coverage: dict
    counts_now: dict[str, int]
    counts_by_region: dict
    funnel: list[FunnelRow]
    trend: list[TrendPoint]
    series: list[Series]
    first_change: Optional[date]
    halves: HalfYears
    activities: dict
    quiet: list[tuple[Municipality, Optional[date]]]
    quiet_since: date

    @property
    def national(self) -> Coverage:
        """The national coverage."""
        return self.coverage[NATIONAL]

    @property
    def national_series(self) -> Series:
        """The national trend (always first)."""
        return self.series[0]

    @property
    def region_series(self) -> list[Series]:
        """One trend per region, by region code."""
        return self.series[1:]

    def expected_now(self) -> Optional[float]:
        """Where the national target line stands on the as-of date (None without history)."""
        line = self.national_series.target_line
        return line.value_on(self.on) if line else None


def regions_and_municipalities() -> tuple[list[Region], dict[int, int]]:
    """The regions by code, and every municipality's region code: two small queries (plain rows for
    the 98 municipalities; the page needs no more of them)."""
    regions = list(db.session.scalars(select(Region).order_by(Region.code)))
    return regions, {code: region_code for code, region_code in column_rows(_municipality_regions_query()).all()}


@cache
def _municipality_regions_query():
    """Every municipality's code and region code (built once per process)."""
    return select(Municipality.code, Municipality.region_code)


def build_dashboard(on: date, fraction: float, programme_end: date, national_name: str = "",
                    funnel_months: int = 6, quiet_months: int = 6) -> Dashboard:
    """Compute the dashboard for ``on`` in a constant number of queries (five)."""
    regions, region_of = regions_and_municipalities()
    history = load_history()
    stages = replay_stages_on(history, region_of, on)
    earlier = add_months(on, -funnel_months)
    coverage = coverage_by_region(stages, region_of, fraction)
    trend = monthly_trend(history, region_of, on)
    series = [trend_series(trend, NATIONAL, national_name, coverage[NATIONAL], programme_end)]
    series += [trend_series(trend, r.code, r.short_name, coverage[r.code], programme_end) for r in regions]
    counts_by_region: dict = defaultdict(Counter)
    for code, stage in stages.items():
        counts_by_region[region_of[code]][stage.stage] += 1
    counts_now = stage_counts(stages)
    return Dashboard(
        on=on, earlier=earlier, programme_end=programme_end, fraction=fraction, regions=regions,
        region_of=region_of, stages=stages, coverage=coverage, counts_now=counts_now,
        counts_by_region=counts_by_region,
        funnel=funnel(counts_now, stage_counts(replay_stages_on(history, region_of, earlier))),
        trend=trend, series=series, first_change=history[0][2] if history else None,
        halves=HalfYears.around(on), activities=activity_overview(on),
        quiet=gone_quiet(on, months=quiet_months), quiet_since=add_months(on, -quiet_months),
    )


@dataclass(frozen=True)
class MapState:
    """What the downloadable map shows: stages on a date, their counts and national coverage."""

    on: date
    stages: dict[int, StageOnDate]
    counts: dict[str, int]
    coverage: Coverage


def map_state(on: date, fraction: float) -> MapState:
    """The map's figures for ``on`` in one query (``stages_on`` lists every municipality)."""
    stages = stages_on(on)
    total = len(stages)
    return MapState(on, stages, stage_counts(stages),
                    Coverage(covered_count(stages), total, coverage_target(total, fraction)))


def slider_dates(first_change: Optional[date], today: date) -> list[date]:
    """The dates the slider steps through: each month end since the first change, then today."""
    if first_change is None or first_change > today:
        return [today]
    return month_ends(first_change, today)

