"""The stage of a municipality on a date: the one rule the pipeline, the dashboard, the status
report and the fidelity due dates rest on, and the STAR figures with them.

The rule: on a date a municipality stands in the stage of its latest change dated on or before
that date, since that change's date; with no change by then it stands in ``DEFAULT_STAGE`` since
None. Only ``effective_date`` counts, never the order changes were recorded in, so a backdated
change takes effect from its date. A municipality has at most one change per date (a unique
constraint; moving it twice on one day corrects the first move), so there are no ties. A pause or
a step back is a change like any other.

A change *makes a municipality covered* when it enters a covered stage from an uncovered one or
from no change at all; a municipality covered again after a pause is made covered again.

The rule comes in two forms that must agree (tests/test_stages.py holds them equal over random
histories): SQL, for counts and lists on one date (``stage_select``, ``stages_on``,
``became_covered``, ``covered_since``), and a replay over the history loaded once
(``load_history``, ``Replay``, ``replay_stages_on``), for pages that need many dates.
"""
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from functools import cache
from operator import itemgetter
from typing import Iterable, NamedTuple, Optional, Union

from sqlalchemy import Date, and_, bindparam, func, or_, select
from sqlalchemy.sql.elements import BindParameter

from crm.database import column_rows
from crm.extensions import db
from crm.models import COVERED_STAGES, DEFAULT_STAGE, Municipality, StageChange

Day = Union[date, BindParameter]  # statements built once compare with a bound parameter
Codes = Union[list[int], BindParameter]  # municipality codes: a list, or an expanding parameter
History = list[tuple[int, str, date]]  # (municipality code, stage, effective date), oldest first
_effective_date = itemgetter(2)


@dataclass(frozen=True)
class StageOnDate:
    """A municipality's stage on a date, and since when (None: never recorded)."""

    stage: str
    since: Optional[date]

    @property
    def covered(self) -> bool:
        return self.stage in COVERED_STAGES


NEVER = StageOnDate(DEFAULT_STAGE, None)


# --- The SQL form ----------------------------------------------------------------------------

# The statements behind stages_on and covered_since are built once, with these parameters:
# building one costs SQLAlchemy more time than the database needs to run it. The other services'
# statements built once (anchoring, fidelity, measurement coverage, tasks, dashboard) name the
# day, the municipalities and the region with these same parameters.
ON = bindparam("on", type_=Date)
CODES = bindparam("codes", expanding=True)
REGION = bindparam("region_code")


def _latest_change_dates(on: Day, codes: Optional[Codes] = None):
    """Subquery: each municipality's (of ``codes``, if given) last change date on or before ``on``."""
    query = (
        select(StageChange.municipality_code.label("code"),
               func.max(StageChange.effective_date).label("effective_date"))
        .where(StageChange.effective_date <= on)
        .group_by(StageChange.municipality_code)
    )
    if codes is not None:
        query = query.where(StageChange.municipality_code.in_(codes))
    return query.subquery()


def stage_select(on: Day, *columns, codes: Optional[Codes] = None):
    """SELECT ``columns`` FROM every municipality (or only ``codes``) outer-joined to the
    ``StageChange`` in force on ``on``: its ``stage`` is NULL when none is (``DEFAULT_STAGE``)."""
    latest = _latest_change_dates(on, codes)
    query = (
        select(*columns)
        .select_from(Municipality)
        .outerjoin(latest, latest.c.code == Municipality.code)
        .outerjoin(StageChange, and_(StageChange.municipality_code == latest.c.code,
                                     StageChange.effective_date == latest.c.effective_date))
    )
    return query if codes is None else query.where(Municipality.code.in_(codes))


def stages_on(on: date, region_code: Optional[int] = None,
              codes: Optional[Iterable[int]] = None) -> dict[int, StageOnDate]:
    """Every municipality's stage on ``on`` (optionally one region, or only ``codes``), in one query."""
    parameters = {"on": on, "region_code": region_code, "codes": None if codes is None else list(codes)}
    query = _stages_on_query(region_code is not None, codes is not None)
    return {
        code: StageOnDate(stage or DEFAULT_STAGE, since)
        for code, stage, since in db.session.execute(query, parameters)  # a variant ignores what it lacks
    }


@cache
def _stages_on_query(one_region: bool, some_codes: bool):
    """The statement behind ``stages_on``, per variant (built once per process)."""
    query = stage_select(ON, Municipality.code, StageChange.stage, StageChange.effective_date,
                         codes=CODES if some_codes else None)
    return query.where(Municipality.region_code == REGION) if one_region else query


def stage_on(municipality, on: date) -> StageOnDate:
    """One municipality's stage on ``on``; ``municipality`` is a Municipality or its code."""
    code = getattr(municipality, "code", municipality)
    return stages_on(on, codes=[code]).get(code, NEVER)


def changes_with_previous(end: Optional[Day] = None, codes: Optional[Codes] = None):
    """SELECT every change (dated up to ``end``, of ``codes``, if given): id, municipality_code,
    effective_date, stage and previous_stage, the stage it replaced (NULL: none before it)."""
    query = select(
        StageChange.id,
        StageChange.municipality_code,
        StageChange.effective_date,
        StageChange.stage,
        func.lag(StageChange.stage)
        .over(partition_by=StageChange.municipality_code, order_by=StageChange.effective_date)
        .label("previous_stage"),
    )
    if end is not None:
        query = query.where(StageChange.effective_date <= end)
    if codes is not None:
        query = query.where(StageChange.municipality_code.in_(codes))
    return query


def became_covered(start: Optional[Day], end: Day, codes: Optional[Codes] = None):
    """Subquery of the changes dated ``start``–``end`` (from the first, if ``start`` is None) that
    made a municipality (of ``codes``, if given) covered: id, municipality_code, effective_date,
    stage and previous_stage (NULL: no change before it).

    The previous stage is taken over each municipality's whole history up to ``end``, so a change
    early in the period still sees the stage before the period.
    """
    history = changes_with_previous(end, codes).subquery()
    since = [] if start is None else [history.c.effective_date >= start]
    return (
        select(history)
        .where(
            *since,
            history.c.stage.in_(COVERED_STAGES),
            or_(history.c.previous_stage.is_(None), history.c.previous_stage.not_in(COVERED_STAGES)),
        )
        .subquery()
    )


# Above this many codes, ``covered_since`` reads every municipality and keeps the wanted ones: an
# IN list of dozens of codes (three times in the statement) cost PostgreSQL more to bind and plan
# than the few hundred stage changes of the whole country cost to read (2.7 → 1.7 ms).
FEW_CODES = 10


def covered_since(codes: Iterable[int], on: date) -> dict[int, date]:
    """For those of ``codes`` covered on ``on``: when their covered spell began, i.e. their latest
    change on or before ``on`` that made them covered (signed → in operation is one spell; a pause
    ends it). One query."""
    codes = list(codes)
    if not codes:
        return {}
    if len(codes) <= FEW_CODES:
        return dict(db.session.execute(_covered_since_query(True), {"on": on, "codes": codes}).all())
    wanted = set(codes)
    return {code: since for code, since in db.session.execute(_covered_since_query(False), {"on": on})
            if code in wanted}


@cache
def _covered_since_query(some_codes: bool):
    """The statement behind ``covered_since``, for ``CODES`` or for every municipality (built once
    per process per variant)."""
    codes = CODES if some_codes else None
    entered = became_covered(None, ON, codes)
    return (
        stage_select(ON, Municipality.code, func.max(entered.c.effective_date), codes=codes)
        .join(entered, entered.c.municipality_code == Municipality.code)
        .where(StageChange.stage.in_(COVERED_STAGES))
        .group_by(Municipality.code)
    )


# --- The replay form -------------------------------------------------------------------------


def load_history() -> History:
    """Every stage change as (municipality code, stage, date), oldest first: one query."""
    return [(code, stage, on) for code, stage, on in column_rows(_history_query()).all()]


@cache
def _history_query():
    """The statement behind ``load_history`` (built once per process)."""
    return (select(StageChange.municipality_code, StageChange.stage, StageChange.effective_date)
            .order_by(StageChange.effective_date, StageChange.municipality_code))


class Transition(NamedTuple):
    """One change as the replay applies it: the stage before (None: no change before it) and after."""

    code: int
    before: Optional[str]
    stage: str
    on: date

    @property
    def became_covered(self) -> bool:
        """Did this change make the municipality covered?"""
        return self.stage in COVERED_STAGES and self.before not in COVERED_STAGES


class Replay:
    """Walks a history (oldest first, as ``load_history`` returns it) forward through time."""

    def __init__(self, history: History):
        self._history = history
        self._next = 0  # the first change not applied yet
        self._latest: dict[int, tuple[str, date]] = {}  # code -> (stage, since) as far as replayed

    def advance(self, on: date) -> list[Transition]:
        """Apply every change dated on or before ``on`` not applied yet, and return them in order."""
        applied: list[Transition] = []
        self._apply(on, applied)
        return applied

    def move_to(self, on: date) -> None:
        """Apply every change dated on or before ``on`` not applied yet."""
        self._apply(on, None)

    def _apply(self, on: date, applied: Optional[list[Transition]]) -> None:
        """The replay step, kept lean: the dashboard runs it for every change and many dates."""
        history, latest = self._history, self._latest
        stop = bisect_right(history, on, lo=self._next, key=_effective_date)
        for code, stage, day in history[self._next:stop]:
            if applied is not None:
                before = latest.get(code)
                applied.append(Transition(code, before[0] if before else None, stage, day))
            latest[code] = (stage, day)
        self._next = stop

    def stages(self, codes: Iterable[int]) -> dict[int, StageOnDate]:
        """The stage of each of ``codes`` on the date replayed to."""
        latest = self._latest
        return {code: StageOnDate(*latest[code]) if code in latest else NEVER for code in codes}


def replay_stages_on(history: History, codes: Iterable[int], on: date) -> dict[int, StageOnDate]:
    """Each of ``codes``' stage on ``on``, replayed from ``history`` without another query."""
    replay = Replay(history)
    replay.move_to(on)
    return replay.stages(codes)
