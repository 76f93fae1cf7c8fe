"""The half-yearly status report to STAR: every figure counted by the database.

One module, used alike by the page, the exports, the CLI and the frozen submissions, so they can
never disagree. ``status_report`` runs one query per metric family (stages at period end, plans
signed in the period, activities, fidelity reviews); the drill-down and the XLSX record sheets
reuse the same filters, so the records listed are exactly the records counted.
"""
import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any, Callable, Iterable, NamedTuple, Optional, Union

from crm.formatting import format_date, number_formatter, period_label
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from sqlalchemy import Date, Integer, bindparam, cast, distinct, func, literal_column, null, select, union_all

from crm.database import column_rows
from crm.extensions import db
from crm.models import (ACTIVITY_TYPES, COVERED_STAGES, DEFAULT_STAGE, MATERIAL_KINDS, STAGE_CODES, STAGES, Activity,
                        FidelityReview, Material, Municipality, Region, ReportSubmission, StageChange, material_region)
from crm.services.activity_totals import grouped_totals, range_branches, range_parameters
from crm.services.export import XlsxBook, collector_paused, csv_bytes
from crm.services import measurement_coverage, period_locks
from crm.services.paging import Page
from crm.services.stages import Day, became_covered, stage_select

# A report's columns are the regions (codes and names from the Region table), then the nation.
TOTAL = "total"
TOTAL_NAME = _l("Hele landet")
# The order the corps reads the regions on screen and on paper, east to west: the one fact about
# regions the Region table does not hold. A region not listed would follow, by code.
EAST_TO_WEST: tuple[int, ...] = (1084, 1085, 1083, 1082, 1081)
Column = Union[int, str]
Number = Union[int, float]


# --- Metric definitions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One row of the report: a stable key, its Danish label and explanation, how it is counted.

    ``family`` names the query that counts it; ``types`` are the activity types it covers and
    ``measure`` what is summed over them (count, participants or hours); ``stage`` the stage code
    of a ``stage_<code>_at_end`` row.
    """

    key: str
    label: Any
    explanation: Any
    family: str
    decimals: int = 0
    types: tuple[str, ...] = ()
    measure: str = "count"
    stage: Optional[str] = None


def _activity_metric(key, label, explanation, types, measure="count", decimals=0) -> Metric:
    """A metric counted (or summed) over activities of ``types``."""
    return Metric(key, label, explanation, "activities", decimals, tuple(types), measure)


METRICS: tuple[Metric, ...] = (
    Metric("municipalities_total", _l("Kommuner i alt"),
           _l("Antal kommuner i regionen (98 i hele landet)."), "stages"),
    Metric("plans_signed_in_period", _l("Nye samarbejdsplaner i perioden"),
           _l("Kommuner der i perioden gik fra en fase, der ikke tæller med i målet (eller ingen fase), "
              "til »Samarbejdsplan underskrevet« eller »IPS i drift«. Hver kommune tælles højst én gang."),
           "plans"),
    Metric("municipalities_covered_at_end", _l("Kommuner med samarbejdsplan ved periodens slutning"),
           _l("Kommuner i fasen »Samarbejdsplan underskrevet« eller »IPS i drift« på periodens sidste dag."),
           "stages"),
    Metric("coverage_pct_at_end", _l("Dækning ved periodens slutning (%)"),
           _l("Kommuner med samarbejdsplan ved periodens slutning i procent af kommunerne i alt, "
              "med én decimal."), "stages", decimals=1),
    *(
        Metric(f"stage_{code}_at_end", _l("Fase ved periodens slutning: %(stage)s", stage=label),
               _l("Kommuner i denne fase på periodens sidste dag ifølge fasehistorikken."), "stages",
               stage=code)
        for code, label in STAGES.items()
    ),
    _activity_metric("dialogue_meetings", _l("Dialogmøder"),
                     _l("Aktiviteter af typen dialogmøde med startdato i perioden."), ["dialogue_meeting"]),
    _activity_metric("workshops", _l("Workshops"),
                     _l("Workshops om arbejdsgange/organisering med startdato i perioden."), ["workshop"]),
    _activity_metric("courses", _l("Undervisningsforløb"),
                     _l("Undervisningsforløb med startdato i perioden."), ["course"]),
    _activity_metric("course_participants", _l("Deltagere i undervisningsforløb"),
                     _l("Summen af deltagere i disse undervisningsforløb."), ["course"], "participants"),
    _activity_metric("supervision_sessions", _l("Supervisioner"),
                     _l("Supervisioner med startdato i perioden."), ["supervision"]),
    _activity_metric("supervision_hours", _l("Supervisionstimer"),
                     _l("Summen af timer for disse supervisioner, med én decimal."), ["supervision"],
                     "hours", decimals=1),
    _activity_metric("professional_network_meetings", _l("Møder i faglige netværk"),
                     _l("Møder i faglige netværk med startdato i perioden."), ["professional_network"]),
    _activity_metric("management_network_meetings", _l("Møder i ledelsesnetværk"),
                     _l("Møder i ledelsesnetværk med startdato i perioden."), ["management_network"]),
    _activity_metric("conferences", _l("Konferencer"),
                     _l("Konferencer med startdato i perioden."), ["conference"]),
    _activity_metric("webinars", _l("Webinarer"), _l("Webinarer med startdato i perioden."), ["webinar"]),
    _activity_metric("event_participants", _l("Deltagere i konferencer og webinarer"),
                     _l("Summen af deltagere i disse konferencer og webinarer."), ["conference", "webinar"],
                     "participants"),
    Metric("materials", _l("Materialer og vejledninger"),
           _l("Materialer i materialeområdet, der blev udgivet første gang i perioden, plus aktiviteter af typen "
              "materiale/vejledning med startdato i perioden, som ikke er knyttet til et materiale (en knyttet "
              "aktivitet tælles gennem sit materiale). Et materiale tælles én gang, også når flere versioner udgives "
              "eller det senere udgår: i hver af sine regioner og én gang i hele landet (et landsdækkende materiale "
              "kun i hele landet)."), "materials"),
    Metric("fidelity_reviews", _l("Fidelitetsmålinger"),
           _l("Færdige fidelitetsmålinger (alle punkter scoret) dateret i perioden, "
              "talt i kommunens region."), "fidelity"),
    # Keys added later come after the ones above, so STAR's CSV keeps its rows and their order.
    _activity_metric("evaluation_activities", _l("Evalueringsaktiviteter"),
                     _l("Aktiviteter af typen evaluering (dataindsamling, evalueringsworkshops og -interview, "
                        "kvalitetsmålingsbesøg, der ikke er fidelitetsmålinger) med startdato i perioden."),
                     ["evaluation"]),
    Metric("quality_measurements_due", _l("Kommuner med aftale, der skal have en årlig kvalitetsmåling"),
           _l("Kommuner i fasen »Samarbejdsplan underskrevet« eller »IPS i drift« på periodens sidste dag: "
              "de skal have en kvalitetsmåling (fidelitetsmåling med ethvert måleredskab) i periodens "
              "slutår, talt i kommunens region."), "quality"),
    Metric("quality_measurements_done", _l("Heraf med årlig kvalitetsmåling"),
           _l("Af disse kommuner: dem med mindst én færdig fidelitetsmåling (alle punkter scoret) dateret fra "
              "1. januar i periodens slutår til periodens sidste dag. Hver kommune tælles højst én gang."),
           "quality"),
)
METRIC_KEYS: list[str] = [m.key for m in METRICS]
METRICS_BY_KEY: dict[str, Metric] = {m.key: m for m in METRICS}
REPORTED_ACTIVITY_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys(t for m in METRICS if m.family == "activities" for t in m.types)
)


# --- The report object -----------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """A figure that differs between a submitted report and today's count."""

    metric: Metric
    column: Column
    submitted: Number
    now: Number


@dataclass
class StatusReport:
    """Every metric's value per region code and ``'total'``, for one period."""

    start: date
    end: date
    values: dict[str, dict[Column, Number]] = field(default_factory=dict)

    metrics = METRICS

    def value(self, key: str, column: Column) -> Number:
        """One figure; ``column`` is a region code or ``'total'``."""
        return self.values[key][column]

    @property
    def columns(self) -> tuple[Column, ...]:
        """The region codes ascending, then ``'total'``: the order of the CSV and stored figures."""
        return tuple(self.values[METRIC_KEYS[0]])

    def rows(self, columns: Optional[Iterable[Column]] = None) -> list[tuple[Metric, list[Number]]]:
        """(metric, values in ``columns`` order, default ``self.columns``) in the fixed metric order."""
        columns = self.columns if columns is None else tuple(columns)
        return [(m, [self.values[m.key][c] for c in columns]) for m in METRICS]

    def shown_rows(self, columns: Iterable[Column]) -> list[tuple[Metric, list[tuple[Column, str]]]]:
        """(metric, [(column, the figure as pages show it)]) in the fixed metric order: the cells of
        the figures table. Each distinct figure is formatted once (a table repeats many: 0, 98…),
        by one formatter per number of decimals (the request's locale looked up once)."""
        columns = tuple(columns)
        shown: dict[tuple, str] = {}
        formatters: dict[int, Callable[[Number], str]] = {}
        rows = []
        for metric, values in self.rows(columns):
            cells = []
            for column, value in zip(columns, values):
                key = (type(value), value, metric.decimals)  # 1 and 1.0 are shown differently
                if key not in shown:
                    formatter = formatters.get(metric.decimals)
                    if formatter is None:
                        formatter = formatters[metric.decimals] = number_formatter(metric.decimals)
                    shown[key] = formatter(value)
                cells.append((column, shown[key]))
            rows.append((metric, cells))
        return rows

    @property
    def label(self) -> str:
        """'1. halvår 2025' or the date range."""
        return period_label(self.start, self.end)

    def to_figures(self) -> dict[str, dict[str, Number]]:
        """JSON-safe figures, as a submission stores them."""
        return {key: {str(c): self.values[key][c] for c in self.columns} for key in METRIC_KEYS}

    @classmethod
    def from_figures(cls, start: date, end: date, figures: dict) -> "StatusReport":
        """Rebuild a report from stored figures (a metric missing in old figures shows as 0)."""
        regions = sorted({int(c) for row in figures.values() for c in row if c != TOTAL})
        values = {
            key: {c: figures.get(key, {}).get(str(c), 0) for c in (*regions, TOTAL)} for key in METRIC_KEYS
        }
        return cls(start, end, values)

    def differences(self, other: "StatusReport") -> list[Difference]:
        """Figures where ``other`` (today's count) differs from this (submitted) report."""
        return [
            Difference(m, c, self.values[m.key][c], other.values[m.key][c])
            for m in METRICS
            for c in self.columns
            if _rounded(self.values[m.key][c], m) != _rounded(other.values[m.key][c], m)
        ]


def only_region(report: StatusReport, region_code: int) -> StatusReport:
    """The report cut to one region's column and the nation's (a region's saved report)."""
    columns = (region_code, TOTAL)
    return StatusReport(report.start, report.end,
                        {key: {c: row[c] for c in columns} for key, row in report.values.items()})


def _rounded(value: Number, metric: Metric) -> Number:
    """A value as shown (one decimal or whole), so float noise never shows as a difference."""
    return round(float(value), metric.decimals) if metric.decimals else int(value)


def _one_decimal(value) -> float:
    """Round half up to one decimal (as people do), returned as a float for JSON."""
    return float(Decimal(str(value or 0)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def format_value(metric: Metric, value: Number) -> str:
    """Machine format for CSV: integers plain, one-decimal metrics with a decimal point."""
    return f"{float(value):.{metric.decimals}f}" if metric.decimals else str(int(value))


# --- Columns: the regions and the nation ----------------------------------------------------


def column_names() -> dict[Column, str]:
    """The columns' headings: each region's short name by code (one query), then the nation's."""
    regions = db.session.scalars(select(Region).order_by(Region.code))
    names: dict[Column, str] = {region.code: region.short_name for region in regions}
    names[TOTAL] = str(TOTAL_NAME)
    return names


def display_order(columns: Iterable[Column]) -> tuple[Column, ...]:
    """``columns`` as the corps reads them: the regions east to west (any other after, by code),
    then the total."""
    rank = {code: index for index, code in enumerate(EAST_TO_WEST)}
    regions = sorted((c for c in columns if c != TOTAL), key=lambda c: (rank.get(c, len(rank)), c))
    return (*regions, TOTAL)


def is_region(column: Column) -> bool:
    """Is ``column`` a region's code? (No query once this session has loaded that region.)"""
    return isinstance(column, int) and db.session.get(Region, column) is not None


# --- Counting: one query per metric family ---------------------------------------------------


# The four counting statements are built once, with the period's dates as bound parameters:
# building one costs SQLAlchemy more time than SQLite needs to run it.
PERIOD_START = bindparam("start", type_=Date)
PERIOD_END = bindparam("end", type_=Date)


def status_report(start: date, end: date) -> StatusReport:
    """Count every metric for the period ``start``–``end`` (inclusive), in five queries."""
    if start > end:
        raise ValueError("start after end")
    values = _count_stages(end)
    _count_plans_signed(values, start, end)
    _count_activities(values, start, end)
    _count_materials(values, start, end)
    _count_fidelity(values, start, end)
    _count_quality_measurements(values, end)
    return StatusReport(start, end, values)


@cache
def _stage_count_query():
    """Municipalities per region and stage on ``:end``."""
    return stage_select(
        PERIOD_END, Municipality.region_code, StageChange.stage, func.count(Municipality.code)
    ).group_by(Municipality.region_code, StageChange.stage)


def _count_stages(end: date) -> dict[str, dict[Column, Number]]:
    """Every metric's figures, all 0 but municipalities in total, per stage, covered and coverage
    at ``end``: one grouped query, which also gives the columns (the municipalities' regions)."""
    counts = column_rows(_stage_count_query(), end=end).all()
    columns = (*sorted({region_code for region_code, _stage, _count in counts}), TOTAL)
    values: dict[str, dict[Column, Number]] = {key: dict.fromkeys(columns, 0) for key in METRIC_KEYS}
    for region_code, stage, count in counts:
        stage = stage or DEFAULT_STAGE
        for column in (region_code, TOTAL):
            values["municipalities_total"][column] += count
            if stage in STAGE_CODES:
                values[f"stage_{stage}_at_end"][column] += count
            if stage in COVERED_STAGES:
                values["municipalities_covered_at_end"][column] += count
    for column in columns:
        total = values["municipalities_total"][column]
        covered = values["municipalities_covered_at_end"][column]
        values["coverage_pct_at_end"][column] = _one_decimal(Decimal(covered * 100) / total) if total else 0.0
    return values


@cache
def _plans_signed_query():
    """Municipalities per region that became covered between ``:start`` and ``:end``."""
    signed = became_covered(PERIOD_START, PERIOD_END)
    return (
        select(Municipality.region_code, func.count(distinct(signed.c.municipality_code)))
        .join(Municipality, Municipality.code == signed.c.municipality_code)
        .group_by(Municipality.region_code)
    )


def _count_plans_signed(values: dict, start: date, end: date) -> None:
    """Municipalities that became covered in the period, each at most once: one grouped query."""
    row = values["plans_signed_in_period"]
    for region_code, count in column_rows(_plans_signed_query(), start=start, end=end):
        if region_code in row:
            row[region_code] += count
        row[TOTAL] += count  # a municipality lies in exactly one region: no double count


def _activity_conditions(start: Day, end: Day, types: Iterable[str]) -> list:
    """WHERE clauses for activities of ``types`` starting within the period."""
    return [Activity.start_date >= start, Activity.start_date <= end, Activity.type.in_(tuple(types))]


@cache
def _activity_count_query():
    """Count, participants and hours per region and activity type over a range given by
    ``range_parameters``: whole months from the per-month totals the database keeps, the partial
    months at the edges from ``activity`` (crm.services.activity_totals), equal to a plain GROUP BY."""
    return grouped_totals(range_branches(types=REPORTED_ACTIVITY_TYPES, sums=True), sums=True)


def _count_activities(values: dict, start: date, end: date) -> None:
    """Counts and sums per type and region in one GROUP BY. A national activity (no region)
    counts only in the total; the total sums the groups, so each activity counts once."""
    groups = column_rows(_activity_count_query(), **range_parameters(start, end)).all()
    for metric in METRICS:
        if metric.family != "activities":
            continue
        row = values[metric.key]
        for region_code, kind, count, participants, hours in groups:
            if kind not in metric.types:
                continue
            amount = {"count": count, "participants": participants, "hours": hours}[metric.measure] or 0
            for column in ((region_code, TOTAL) if region_code in row else (TOTAL,)):
                row[column] += Decimal(str(amount)) if metric.decimals else int(amount)
        if metric.decimals:
            for column in row:
                row[column] = _one_decimal(row[column])


def activity_figures(start: date, end: date, columns: Iterable[Column]) -> dict[str, dict[Column, Number]]:
    """The report's activity metrics alone (courses, participants, supervisions, hours…) per
    region code in ``columns`` and ``'total'``, counted exactly as the report counts them, in one
    query: for pages that show them beside other figures (the grant's partial accounts)."""
    columns = tuple(dict.fromkeys((*columns, TOTAL)))
    values = {m.key: dict.fromkeys(columns, 0) for m in METRICS if m.family == "activities"}
    _count_activities(values, start, end)
    return values


def _published_material_conditions(start: Day, end: Day) -> list:
    """Materials first published within the period (``published_on`` is set once, never moved)."""
    return [Material.published_on >= start, Material.published_on <= end]


def _unlinked_material_activity_conditions(start: Day, end: Day) -> list:
    """``material`` activities in the period not linked to a Material (a linked one counts through
    its material, so nothing is counted twice)."""
    return [*_activity_conditions(start, end, ("material",)), Activity.material_id.is_(None)]


@cache
def _material_count_query():
    """(what, region, count) rows: published materials per region they serve, published materials
    in all (each once), and unlinked ``material`` activities per region, from ``:start`` to ``:end``."""
    per_region = (
        select(literal_column("'region'").label("what"), material_region.c.region_code, func.count(Material.id))
        .join(material_region, material_region.c.material_id == Material.id)
        .where(*_published_material_conditions(PERIOD_START, PERIOD_END))
        .group_by(material_region.c.region_code)
    )
    nation = (
        select(literal_column("'nation'"), cast(null(), Integer), func.count(Material.id))
        .where(*_published_material_conditions(PERIOD_START, PERIOD_END))
    )
    activities = (
        select(literal_column("'activity'"), Activity.region_code, func.count(Activity.id))
        .where(*_unlinked_material_activity_conditions(PERIOD_START, PERIOD_END))
        .group_by(Activity.region_code)
    )
    return union_all(per_region, nation, activities)


def _count_materials(values: dict, start: date, end: date) -> None:
    """``materials``: published materials (in each of their regions, once in the total) plus
    unlinked ``material`` activities (in their region, once in the total): one query."""
    row = values["materials"]
    for what, region_code, count in column_rows(_material_count_query(), start=start, end=end):
        if what == "nation":
            row[TOTAL] += count
            continue
        if region_code in row:
            row[region_code] += count
        if what == "activity":
            row[TOTAL] += count


def _fidelity_conditions(start: Day, end: Day) -> list:
    """Complete reviews (a total is computed only when every item is rated) dated in the period."""
    return [FidelityReview.total.is_not(None), FidelityReview.review_date >= start,
            FidelityReview.review_date <= end]


@cache
def _fidelity_count_query():
    """Complete fidelity reviews per region from ``:start`` to ``:end``."""
    return (
        select(Municipality.region_code, func.count(FidelityReview.id))
        .join(Municipality, Municipality.code == FidelityReview.municipality_code)
        .where(*_fidelity_conditions(PERIOD_START, PERIOD_END))
        .group_by(Municipality.region_code)
    )


def _count_fidelity(values: dict, start: date, end: date) -> None:
    """Complete fidelity reviews in the period per municipality's region: one grouped query."""
    row = values["fidelity_reviews"]
    for region_code, count in column_rows(_fidelity_count_query(), start=start, end=end):
        if region_code in row:
            row[region_code] += count
        row[TOTAL] += count


YEAR_START = bindparam("year_start", type_=Date)  # 1 January of the period's last year


@cache
def _quality_count_query():
    """Due and done per region for the measurement period ``:year_start``–``:end``."""
    return measurement_coverage.counts_by_region_query(YEAR_START, PERIOD_END)


def _count_quality_measurements(values: dict, end: date) -> None:
    """Municipalities with an agreement at ``end`` and those of them measured in ``end``'s year up
    to ``end`` (``crm.services.measurement_coverage``): one grouped query."""
    for region_code, due, done in column_rows(_quality_count_query(), year_start=date(end.year, 1, 1), end=end):
        done = int(done or 0)
        for column in (region_code, TOTAL):
            if column in values["quality_measurements_due"]:
                values["quality_measurements_due"][column] += due
                values["quality_measurements_done"][column] += done


# --- The records behind each figure (drill-down, XLSX record sheets) -------------------------

# The records are named tuples: cheap to build by the thousand for the XLSX, and immutable.


class MunicipalityRecord(NamedTuple):
    """A municipality with its stage at period end (and since when)."""

    code: int
    name: str
    region_code: int
    stage: str
    since: Optional[date]


class SignedRecord(NamedTuple):
    """The stage change that made a municipality covered in the period (the first, if several)."""

    code: int
    name: str
    region_code: int
    effective_date: date
    previous_stage: Optional[str]
    stage: str
    more: int  # further qualifying changes of the same municipality in the period


class ActivityRecord(NamedTuple):
    """An activity counted, with the fields the report sums."""

    id: int
    start_date: date
    type: str
    title: str
    region_code: Optional[int]
    participants: Optional[int]
    hours: Optional[Decimal]


class MaterialRecord(NamedTuple):
    """What ``materials`` counts: a published Material (``source`` 'material', its kind, the
    regions it serves) or an unlinked ``material`` activity (``source`` 'activity', its region)."""

    source: str
    id: int
    on: date
    title: str
    kind: str
    region_codes: tuple[int, ...]


class ReviewRecord(NamedTuple):
    """A complete fidelity review counted."""

    id: int
    review_date: date
    code: int
    name: str
    region_code: int
    team: Optional[str]
    total: int


def municipality_records(end: date, region_code: Optional[int] = None,
                         stages: Optional[Iterable[str]] = None) -> list[MunicipalityRecord]:
    """Municipalities (optionally one region, optionally in ``stages``) with their stage at ``end``;
    the same join the stage counts use, in one query."""
    query = stage_select(
        end, Municipality.code, Municipality.name, Municipality.region_code, StageChange.stage,
        StageChange.effective_date,
    ).order_by(Municipality.region_code, Municipality.name)
    if region_code is not None:
        query = query.where(Municipality.region_code == region_code)
    wanted = set(stages) if stages is not None else None
    records = [MunicipalityRecord(code, name, region, stage or DEFAULT_STAGE, since)
               for code, name, region, stage, since in column_rows(query)]
    return [r for r in records if wanted is None or r.stage in wanted]


def signed_records(start: date, end: date, region_code: Optional[int] = None) -> list[SignedRecord]:
    """The municipalities counted in ``plans_signed_in_period``, one row each, in one query."""
    signed = became_covered(start, end)
    query = (
        select(signed.c.municipality_code, Municipality.name, Municipality.region_code,
               signed.c.effective_date, signed.c.previous_stage, signed.c.stage)
        .join(Municipality, Municipality.code == signed.c.municipality_code)
        .order_by(signed.c.effective_date, Municipality.name)
    )
    if region_code is not None:
        query = query.where(Municipality.region_code == region_code)
    first: dict[int, list] = {}
    for code, name, region, on, previous, stage in column_rows(query):
        if code in first:
            first[code][-1] += 1
        else:
            first[code] = [code, name, region, on, previous, stage, 0]
    return [SignedRecord(*values) for values in first.values()]


def _activity_record_select(start: date, end: date, types: Iterable[str], column: Optional[Column]):
    """The activities a figure counts: ``column`` a region code, 'total' or None (all)."""
    query = select(Activity.id, Activity.start_date, Activity.type, Activity.title, Activity.region_code,
                   Activity.participants, Activity.hours).where(*_activity_conditions(start, end, types))
    if column not in (None, TOTAL):
        query = query.where(Activity.region_code == column)
    return query.order_by(Activity.start_date, Activity.id)


def activity_records(start: date, end: date, types: Iterable[str] = REPORTED_ACTIVITY_TYPES,
                     column: Optional[Column] = None, limit: Optional[int] = None,
                     offset: int = 0) -> list[ActivityRecord]:
    """Activities counted (optionally one page of them), in one query."""
    query = _activity_record_select(start, end, types, column).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [ActivityRecord(*row) for row in column_rows(query).all()]  # one fetch, not one per row


def material_records(start: date, end: date, region_code: Optional[int] = None) -> list[MaterialRecord]:
    """The materials and unlinked ``material`` activities counted (optionally only those of one
    region), by date: two queries."""
    materials: dict[int, list] = {}
    query = (
        select(Material.id, Material.published_on, Material.title, Material.kind, material_region.c.region_code)
        .outerjoin(material_region, material_region.c.material_id == Material.id)
        .where(*_published_material_conditions(start, end))
        .order_by(Material.published_on, Material.id, material_region.c.region_code)
    )
    for material_id, on, title, kind, code in column_rows(query):
        record = materials.setdefault(material_id, ["material", material_id, on, title, kind, ()])
        if code is not None:
            record[-1] += (code,)
    records = [MaterialRecord(*values) for values in materials.values()]
    activities = (
        select(Activity.id, Activity.start_date, Activity.title, Activity.region_code)
        .where(*_unlinked_material_activity_conditions(start, end)).order_by(Activity.start_date, Activity.id)
    )
    records += [MaterialRecord("activity", id_, on, title, "material", (code,) if code else ())
                for id_, on, title, code in column_rows(activities)]
    if region_code is not None:
        records = [r for r in records if region_code in r.region_codes]
    return sorted(records, key=lambda r: (r.on, r.source, r.id))


def material_record_label(record: MaterialRecord) -> str:
    """'Materiale: Vejledning' for a Material, the activity type's label for an activity."""
    if record.source == "material":
        return _("Materiale: %(kind)s", kind=MATERIAL_KINDS.get(record.kind, record.kind))
    return str(ACTIVITY_TYPES["material"][0])


def review_records(start: date, end: date, region_code: Optional[int] = None) -> list[ReviewRecord]:
    """Complete fidelity reviews counted, in one query."""
    query = (
        select(FidelityReview.id, FidelityReview.review_date, Municipality.code, Municipality.name,
               Municipality.region_code, FidelityReview.team, FidelityReview.total)
        .join(Municipality, Municipality.code == FidelityReview.municipality_code)
        .where(*_fidelity_conditions(start, end))
        .order_by(FidelityReview.review_date, FidelityReview.id)
    )
    if region_code is not None:
        query = query.where(Municipality.region_code == region_code)
    return [ReviewRecord(*row) for row in column_rows(query)]


@dataclass
class Drilldown:
    """The records behind one figure. ``kind``: municipalities, signed, activities, materials or reviews.
    Activities come one ``page`` at a time (its items are the records); the others are short lists."""

    metric: Metric
    column: Column
    kind: str
    records: list
    page: Optional[Page] = None
    total_records: int = 0
    amount: Number = 0  # activities: the figure itself (count, participants or hours summed)


DRILLDOWN_PAGE_SIZE = 100


def drilldown(key: str, column: Column, start: date, end: date, page: int = 1) -> Drilldown:
    """The records behind ``key`` in ``column`` (a region code or 'total') for the period.

    Raises KeyError for an unknown metric or column. At most two queries (and one to look the
    region up, unless this session has loaded it).
    """
    metric = METRICS_BY_KEY[key]
    if column != TOTAL and not is_region(column):
        raise KeyError(column)
    region = None if column == TOTAL else column
    if metric.family == "stages":
        stages = None
        if metric.stage:
            stages = [metric.stage]
        elif metric.key != "municipalities_total":
            stages = COVERED_STAGES
        records = municipality_records(end, region, stages)
        return Drilldown(metric, column, "municipalities", records, total_records=len(records))
    if metric.family == "plans":
        records = signed_records(start, end, region)
        return Drilldown(metric, column, "signed", records, total_records=len(records))
    if metric.family == "quality":
        records = municipality_records(end, region, COVERED_STAGES)
        if metric.key == "quality_measurements_done":
            done = {r.code for r in measurement_coverage.coverage(end.year, end, region).rows if r.done}
            records = [r for r in records if r.code in done]
        return Drilldown(metric, column, "municipalities", records, total_records=len(records))
    if metric.family == "fidelity":
        records = review_records(start, end, region)
        return Drilldown(metric, column, "reviews", records, total_records=len(records))
    if metric.family == "materials":
        records = material_records(start, end, region)
        return Drilldown(metric, column, "materials", records, total_records=len(records))
    counted = _activity_record_select(start, end, metric.types, column).order_by(None).subquery()
    total, participants, hours = db.session.execute(
        select(func.count(), func.sum(counted.c.participants), func.sum(counted.c.hours))
    ).one()
    total = total or 0
    amount = {"count": total, "participants": int(participants or 0),
              "hours": _one_decimal(hours)}[metric.measure]
    pages = max(1, -(-total // DRILLDOWN_PAGE_SIZE))
    page = min(max(1, page), pages)
    records = activity_records(start, end, metric.types, column, DRILLDOWN_PAGE_SIZE,
                               (page - 1) * DRILLDOWN_PAGE_SIZE)
    return Drilldown(metric, column, "activities", records, Page(records, page, DRILLDOWN_PAGE_SIZE, total),
                     total, amount)


# --- Exports ---------------------------------------------------------------------------------

def report_to_csv(report: StatusReport) -> bytes:
    """``metric,1081,1082,1083,1084,1085,total``, one row per metric key, UTF-8."""
    header = ["metric"] + [str(c) for c in report.columns]
    rows = [[m.key] + [format_value(m, v) for v in values] for m, values in report.rows()]
    return csv_bytes(header, rows)


def report_to_excel_csv(report: StatusReport) -> bytes:
    """The same table in the Danish Excel dialect (``;``, decimal comma), for people; the machine
    CSV above stays STAR's format."""
    return report_csv_to_excel(report_to_csv(report))


def report_csv_to_excel(data: bytes) -> bytes:
    """A machine report CSV (as made now or frozen in a submission) in the Danish Excel dialect:
    the same rows, figures as numbers with a decimal comma. Only the dialect changes."""
    header, *rows = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    return csv_bytes(header, [[key] + [_figure(text) for text in figures] for key, *figures in rows], excel=True)


def _figure(text: str) -> Union[int, Decimal, str]:
    """'12' → 12, '12.5' → Decimal('12.5') (its digits kept), anything else as it is."""
    try:
        return Decimal(text) if "." in text else int(text)
    except (ValueError, ArithmeticError):
        return text


def _figures_sheet(book: XlsxBook, report: StatusReport, names: dict[Column, str]) -> None:
    """The report table: key, Danish label, the regions (screen order), the nation."""
    sheet = book.sheet(_("Statusrapport"))
    sheet.write(0, 0, _("Statusrapport til STAR: %(period)s", period=report.label), "title")
    sheet.write_row(1, [_("Periode"), f"{format_date(report.start)} – {format_date(report.end)}"])
    columns = display_order(report.columns)
    sheet.header(3, [_("Nøgle"), _("Nøgletal")] + [names[c] for c in columns], [32, 52] + [14] * len(columns))
    sheet.freeze(4, 2)
    for row, (metric, values) in enumerate(report.rows(columns), start=4):
        sheet.write_row(row, [metric.key, metric.label])
        for col, value in enumerate(values, start=2):
            sheet.write(row, col, value, "dec" if metric.decimals else "int")


def _definitions_sheet(book: XlsxBook) -> None:
    """Every metric's key, label and definition, so the file explains itself."""
    sheet = book.sheet(_("Definitioner"))
    sheet.header(0, [_("Nøgle"), _("Nøgletal"), _("Definition")], [32, 52, 100])
    sheet.write_rows(1, ((m.key, m.label, m.explanation) for m in METRICS), (None, None, "wrap"))


RECORD_HEADER = (_l("Nøgletal"), _l("Dato"), _l("Kommune/titel"), _l("Kode/id"), _l("Fase/type"),
                 _l("Forrige fase"), _l("Deltagere/score"), _l("Timer"))
RECORD_WIDTHS = (30, 12, 48, 9, 30, 24, 11, 8)
RECORD_FORMATS = (None, "date")  # the date column: dates, written by XlsxWriter as date cells


def _record_rows(report: StatusReport) -> dict[Optional[int], list[tuple]]:
    """Every record counted, grouped by region (None: national activities and materials), in seven
    queries. A material serving several regions is listed on each of their sheets.

    Each row: metric key, date (or None), name or title, code or id, stage or type,
    previous stage, participants (or fidelity score), hours (float). Labels come from dicts built
    once, so each of the thousands of activity rows costs a few lookups.
    """
    rows: dict[Optional[int], list[tuple]] = {code: [] for code in report.columns if code != TOTAL}
    rows[None] = []
    # A report of one region (``only_region``) lists that region's records and the national ones.
    nowhere: list[tuple] = []
    stage_label = {code: str(label) for code, label in STAGES.items()}
    no_stage = _("(ingen fase)")
    for r in signed_records(report.start, report.end):
        rows.get(r.region_code, nowhere).append((
            "plans_signed_in_period", r.effective_date, r.name, r.code,
            stage_label.get(r.stage, r.stage),
            stage_label.get(r.previous_stage, r.previous_stage) if r.previous_stage else no_stage, None, None))
    for r in municipality_records(report.end):
        rows.get(r.region_code, nowhere).append((f"stage_{r.stage}_at_end", r.since, r.name, r.code,  # since None: no stage yet
                                    stage_label.get(r.stage, r.stage), None, None, None))
    metric_for_type = {t: m.key for m in METRICS if m.family == "activities" and m.measure == "count"
                       for t in m.types}
    type_label = {code: str(label) for code, (label, _track) in ACTIVITY_TYPES.items()}
    national = rows[None]
    for a in activity_records(report.start, report.end):
        rows.get(a.region_code, nowhere if a.region_code else national).append((
            metric_for_type[a.type], a.start_date, a.title, a.id, type_label.get(a.type, a.type),
            None, a.participants, None if a.hours is None else float(a.hours)))
    for m in material_records(report.start, report.end):
        for code in m.region_codes or (None,):
            rows.get(code, nowhere if code else national).append(("materials", m.on, m.title, m.id, material_record_label(m),
                                             None, None, None))
    for r in review_records(report.start, report.end):
        rows.get(r.region_code, nowhere).append(("fidelity_reviews", r.review_date, r.name, r.code, r.team,
                                    None, r.total, None))
    quality = measurement_coverage.coverage(report.end.year, report.end)
    for r in quality.rows:
        rows.get(r.region_code, nowhere).append(("quality_measurements_due", None, r.name, r.code, None, None, None, None))
    for r in quality.rows:
        if r.done:
            rows.get(r.region_code, nowhere).append(("quality_measurements_done", None, r.name, r.code, None, None, None, None))
    return rows


def _records_sheets(book: XlsxBook, report: StatusReport, names: dict[Column, str]) -> None:
    """One sheet per region (screen order) and one for national activities, listing the records."""
    grouped = _record_rows(report)
    names = {**names, None: str(_("Landsdækkende"))}
    for code in display_order(report.columns)[:-1] + (None,):
        sheet = book.sheet(names[code])
        sheet.header(0, RECORD_HEADER, RECORD_WIDTHS)
        sheet.write_rows(1, grouped[code], RECORD_FORMATS)


def report_to_xlsx(report: StatusReport) -> bytes:
    """The report as a formatted workbook: figures, definitions, and the records per region
    (written by crm.services.export, like every XLSX: text as text, never a formula)."""
    with collector_paused():
        book = XlsxBook()
        names = column_names()
        _figures_sheet(book, report, names)
        _definitions_sheet(book)
        _records_sheets(book, report, names)
        return book.to_bytes()


def report_filename(report: StatusReport, fmt: str) -> str:
    """statusrapport-2025-01-01-2025-06-30.csv"""
    return f"statusrapport-{report.start.isoformat()}-{report.end.isoformat()}.{fmt}"


# --- Frozen submissions ----------------------------------------------------------------------


def submit_report(start: date, end: date, note: Optional[str] = None, *, actor) -> ReportSubmission:
    """Freeze today's figures and files for the period as sent to STAR, submitted by ``actor``
    (None: a script); commits. From then on the records dated in the period are locked
    (``crm.services.period_locks``); any reopening of the period is locked again."""
    report = status_report(start, end)
    submission = ReportSubmission(
        period_start=start,
        period_end=end,
        figures=report.to_figures(),
        csv_data=report_to_csv(report),
        xlsx_data=report_to_xlsx(report),
        note=(note or "").strip() or None,
        submitted_by_id=getattr(actor, "id", None),
    )
    db.session.add(submission)
    period_locks.relock_on_submit(start, end, actor=actor)  # submitting again locks the period again
    db.session.commit()
    return submission


def submitted_report(submission: ReportSubmission) -> StatusReport:
    """The report exactly as it was submitted."""
    return StatusReport.from_figures(submission.period_start, submission.period_end, submission.figures)


def submissions() -> list[ReportSubmission]:
    """All submissions, newest first, with who submitted (one query; files not loaded)."""
    from sqlalchemy.orm import joinedload

    return list(db.session.scalars(
        select(ReportSubmission).options(joinedload(ReportSubmission.submitted_by))
        .order_by(ReportSubmission.submitted_at.desc(), ReportSubmission.id.desc())
    ))


def latest_submission_for(start: date, end: date,
                          among: Optional[list[ReportSubmission]] = None) -> Optional[ReportSubmission]:
    """The newest submission of exactly this period (from ``among`` if given: no extra query)."""
    if among is not None:
        return next((s for s in among if (s.period_start, s.period_end) == (start, end)), None)
    return db.session.scalar(
        select(ReportSubmission)
        .where(ReportSubmission.period_start == start, ReportSubmission.period_end == end)
        .order_by(ReportSubmission.submitted_at.desc(), ReportSubmission.id.desc()).limit(1)
    )

