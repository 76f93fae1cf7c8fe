"""Pipeline stages: recording, correcting and moving a municipality's stage, its timeline, and
the list and board rows (the stage on a date itself is crm.services.stages' rule)."""
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Optional

from sqlalchemy import String, bindparam, cast, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from crm.clock import local_today
from crm.formatting import format_date
from crm.extensions import db
from crm.i18n import gettext as _
from crm.models import (COVERED_STAGES, STAGE_CODES, STAGES, Activity, CooperationPlan, FidelityReview,
                        Municipality, Note, StageChange, activity_municipality, plan_municipality)
from crm.services import auto_notes, period_locks
from crm.services.errors import Conflict, FieldError
from crm.services.locking import commit_versioned, ensure_version, mark_updated
from crm.services.numbers import FormWarning
from crm.services.paging import Page
from crm.services.permissions import ensure_can_write
from crm.services.search import LIKE_ESCAPE, contains_pattern, prefix_pattern
from crm.services.stages import NEVER, Replay, StageOnDate, stage_on, stages_on
from crm.services.tasks import earliest_open_tasks, local_date, timeline_tasks


def backward_move_warnings(municipality_code: int, stage: str, effective_date: date) -> list:
    """A warning (to be confirmed) when ``stage`` lies earlier in the pipeline than the stage in
    effect on ``effective_date``; "Sat i bero" is beside the pipeline, so pausing or resuming
    from a pause is no move backwards."""
    before = stage_on(municipality_code, effective_date).stage
    if "paused" in (stage, before) or stage not in STAGE_CODES or before not in STAGE_CODES:
        return []
    if STAGE_CODES.index(stage) >= STAGE_CODES.index(before):
        return []
    return [FormWarning("stage", f"backwards:{municipality_code}:{before}>{stage}:{effective_date.isoformat()}", _(
        "Det er et skridt tilbage: fra »%(before)s« til »%(stage)s«. Er det rigtigt?",
        before=_stage_label(before), stage=_stage_label(stage)))]


def record_stage_change(
    municipality_code: int, stage: str, effective_date: date, note: Optional[str] = None, user=None,
    note_kind: Optional[str] = None, note_params: Optional[dict] = None, locks=None,
) -> StageChange:
    """Add a dated stage change (may be backdated). Refuses an unknown stage or a second entry
    for the same municipality and date (``FieldError``). ``note_kind``/``note_params``: an
    automatic note (crm.services.auto_notes). The caller commits (importers write many at once;
    the page's action is ``add_stage_change``)."""
    if stage not in STAGE_CODES:
        raise FieldError(_("Ukendt fase: %(stage)s", stage=stage), "stage")
    municipality = db.session.get(Municipality, municipality_code)
    if municipality is None:
        raise FieldError(_("Ukendt kommunekode: %(code)s", code=municipality_code))
    period_locks.ensure_unlocked(municipality.region_code, effective_date, actor=user, field_name="effective_date",
                                 locks=locks)
    clash = db.session.scalar(
        select(StageChange).where(
            StageChange.municipality_code == municipality_code, StageChange.effective_date == effective_date
        )
    )
    if clash is not None:
        raise FieldError(
            _("Der er allerede registreret en faseændring for denne kommune den %(date)s.",
              date=format_date(effective_date)), "effective_date"
        )
    change = StageChange(
        municipality_code=municipality_code,
        stage=stage,
        effective_date=effective_date,
        note=note or None,
        note_kind=note_kind,
        note_params=note_params,
        recorded_by_id=getattr(user, "id", None),
    )
    db.session.add(change)
    db.session.flush()
    return change


# --- Corrections, the signed-plan rule, notes, timeline and list rows -------------


def _check_stage_and_date(municipality_code: int, stage: str, effective_date: date, ignore_id=None) -> None:
    """Raise FieldError for an unknown stage or a second entry on the same municipality and date."""
    if stage not in STAGE_CODES:
        raise FieldError(_("Ukendt fase: %(stage)s", stage=stage), "stage")
    query = select(StageChange.id).where(
        StageChange.municipality_code == municipality_code, StageChange.effective_date == effective_date
    )
    if ignore_id is not None:
        query = query.where(StageChange.id != ignore_id)
    if db.session.scalar(query) is not None:
        raise FieldError(
            _("Der er allerede registreret en faseændring for denne kommune den %(date)s.",
              date=format_date(effective_date)), "effective_date"
        )


def correct_stage_change(
    change: StageChange, stage: str, effective_date: date, note: Optional[str] = None, user=None
) -> StageChange:
    """Correct a wrongly recorded entry (stage, date or note). The audit log keeps the old values;
    the same rules as for a new entry apply (``FieldError``; ``Locked`` when the old or the new date
    lies in a submitted period). The caller commits, where the database checks the version."""
    period_locks.ensure_change_allowed(period_locks.stage_change_place(change),
                                       (change.municipality.region_code, effective_date), actor=user,
                                       field_name="effective_date")
    _check_stage_and_date(change.municipality_code, stage, effective_date, ignore_id=change.id)
    change.stage = stage
    change.effective_date = effective_date
    change.note = note or None
    if user is not None:
        change.recorded_by_id = user.id
    mark_updated(change, user)
    return change


def delete_stage_change(change: StageChange) -> None:
    """Delete a wrong entry (through the ORM, so the audit log keeps a copy). The caller commits."""
    db.session.delete(change)


CODE, REACH = bindparam("code"), bindparam("reach")  # the municipality page's parameters: which, how far back


def stage_history(municipality_code: int) -> list[StageChange]:
    """A municipality's stage changes, newest first, with who recorded them (one query)."""
    return list(db.session.scalars(_stage_history_query(), {"code": municipality_code}))


@cache
def _stage_history_query():
    """The statement behind ``stage_history`` (built once per process)."""
    return (select(StageChange).where(StageChange.municipality_code == CODE)
            .options(joinedload(StageChange.recorded_by)).order_by(StageChange.effective_date.desc()))


def stage_and_spell(municipality_code: int, changes: list[StageChange], on: date) -> tuple[StageOnDate, Optional[date]]:
    """A municipality's stage on ``on`` and when its covered spell began (None: not covered then),
    replayed from its ``stage_history`` without another query: ``stage_on`` and ``covered_since``
    by the stage rule's replay form (crm.services.stages)."""
    replay = Replay([(municipality_code, c.stage, c.effective_date) for c in reversed(changes)])  # oldest first
    transitions = replay.advance(on)
    stage = replay.stages([municipality_code])[municipality_code]
    spell = next((t.on for t in reversed(transitions) if t.became_covered), None) if stage.covered else None
    return stage, spell


@dataclass(frozen=True)
class PlanStageOutcome:
    """What saving a signed plan did to one municipality's stage (``message`` is for the user)."""

    municipality_code: int
    municipality_name: str
    moved: bool
    message: str


def apply_signed_plan(plan, user=None) -> list[PlanStageOutcome]:
    """Move each municipality of a signed plan to ``plan_signed`` on the signed date.

    A municipality is left alone (and the outcome says why) when on the signed date it already
    stands at ``plan_signed`` or ``in_operation``, or when a stage change is already recorded
    after the signed date: that later history was entered deliberately and must not be rewritten
    by the plan. A different entry on the very same date is never overwritten either. Returns one
    outcome per municipality; the caller commits.
    """
    if plan.signed_date is None:
        return []
    signed = plan.signed_date
    codes = [m.code for m in plan.municipalities]
    on_date = {code: stage_on(code, signed) for code in codes}
    later = _first_change_after(codes, signed)
    locks = period_locks.load_locks()
    outcomes = []
    for municipality in plan.municipalities:
        code, name = municipality.code, municipality.name
        current = on_date[code]
        lock = locks.lock_for(municipality.region_code, signed)
        if current.stage in COVERED_STAGES:
            outcomes.append(PlanStageOutcome(code, name, False, _(
                "%(name)s stod allerede som »%(stage)s« den %(date)s; fasen er uændret.",
                name=name, stage=_stage_label(current.stage), date=_dk(signed))))
        elif code in later:
            change = later[code]
            outcomes.append(PlanStageOutcome(code, name, False, _(
                "%(name)s er ikke flyttet: der er allerede registreret en senere fase "
                "(»%(stage)s« fra %(date)s). Ret historikken på kommunens side, hvis det er forkert.",
                name=name, stage=_stage_label(change.stage), date=_dk(change.effective_date))))
        elif current.since == signed:
            outcomes.append(PlanStageOutcome(code, name, False, _(
                "%(name)s er ikke flyttet: den %(date)s er der allerede registreret »%(stage)s«. "
                "Ret posten på kommunens side, hvis planen skal gælde fra den dag.",
                name=name, stage=_stage_label(current.stage), date=_dk(signed))))
        elif lock is not None:
            outcomes.append(PlanStageOutcome(code, name, False, _(
                "%(name)s er ikke flyttet til »%(stage)s«: %(reason)s",
                name=name, stage=_stage_label("plan_signed"), reason=lock.message())))
        else:
            # The note is stored as a code, put into words in the reader's language.
            record_stage_change(code, "plan_signed", signed, None, user, note_kind=auto_notes.PLAN_SIGNED,
                                note_params={"title": plan.title, "plan_id": plan.id}, locks=locks)
            outcomes.append(PlanStageOutcome(code, name, True, _(
                "%(name)s er flyttet til »%(stage)s« pr. %(date)s.",
                name=name, stage=_stage_label("plan_signed"), date=_dk(signed))))
    return outcomes


def _first_change_after(codes: list[int], after: date) -> dict[int, StageChange]:
    """For each municipality in ``codes``, its first stage change dated after ``after`` (one query)."""
    if not codes:
        return {}
    first: dict[int, StageChange] = {}
    rows = db.session.scalars(
        select(StageChange)
        .where(StageChange.municipality_code.in_(codes), StageChange.effective_date > after)
        .order_by(StageChange.effective_date)
    )
    for change in rows:
        first.setdefault(change.municipality_code, change)
    return first


def _stage_label(code: str) -> str:
    return str(STAGES.get(code, code))


def _dk(value: date) -> str:
    return format_date(value)


@dataclass(frozen=True)
class MunicipalityRow:
    """A municipality with its stage on a date and its earliest open task ("next step"), as the
    list, the board and their exports show it; ``overdue``: that task's due date has passed."""

    municipality: Municipality
    stage: StageOnDate
    overdue: bool
    task: Optional[object] = None  # crm.models.Task


LIST_SORTS = ("code", "name", "region", "stage", "since", "due")


def municipality_rows(
    on: Optional[date] = None,
    region_code: Optional[int] = None,
    stage: Optional[str] = None,
    overdue_only: bool = False,
    search: str = "",
    sort: str = "region",
) -> list[MunicipalityRow]:
    """Municipalities with their stage on ``on`` (default today), filtered and sorted.

    Always three queries (municipalities with their region, the stages, the open tasks with
    their owners), however many municipalities, stage changes or tasks there are.
    """
    on = on or local_today()
    query = select(Municipality).options(joinedload(Municipality.region))
    if region_code is not None:
        query = query.where(Municipality.region_code == region_code)
    if search:
        query = query.where(
            or_(
                Municipality.name.ilike(contains_pattern(search), escape=LIKE_ESCAPE),
                cast(Municipality.code, String).like(prefix_pattern(search), escape=LIKE_ESCAPE),
            )
        )
    stages = stages_on(on, region_code)
    tasks = earliest_open_tasks(region_code)
    rows = []
    for m in db.session.scalars(query).unique():
        task = tasks.get(m.code)
        overdue = task is not None and task.is_overdue(on)
        rows.append(MunicipalityRow(m, stages.get(m.code, NEVER), overdue, task))
    if overdue_only:
        rows = [row for row in rows if row.overdue]
    if stage:
        rows = [row for row in rows if row.stage.stage == stage]
    return sorted(rows, key=_sort_key(sort))


def _sort_key(sort: str):
    """Key function for ``municipality_rows``; unknown sorts fall back to region then code."""
    far_future = date.max
    keys = {
        "code": lambda r: (r.municipality.code,),
        "name": lambda r: (r.municipality.name.lower(),),
        "stage": lambda r: (STAGE_CODES.index(r.stage.stage), r.municipality.name.lower()),
        "since": lambda r: (r.stage.since or date.min, r.municipality.name.lower()),
        "due": lambda r: ((r.task.due_date if r.task else None) or far_future, r.municipality.name.lower()),
    }
    return keys.get(sort, lambda r: (r.municipality.region_code, r.municipality.code))


def board_columns(region_code: int, on: Optional[date] = None) -> dict[str, list[MunicipalityRow]]:
    """One region's municipalities grouped by their stage on ``on``, in pipeline order."""
    columns: dict[str, list[MunicipalityRow]] = {code: [] for code in STAGE_CODES}
    for row in municipality_rows(on, region_code=region_code, sort="name"):
        columns[row.stage.stage].append(row)
    return columns


def move_on_board(municipality: Municipality, stage: str, on: Optional[date] = None,
                  note: Optional[str] = None, user=None) -> Optional[StageChange]:
    """Move a municipality to ``stage`` as of ``on`` (default today): the board's action.

    Returns None when it already stands there. A change already recorded for that very date is
    corrected rather than duplicated (moving a card twice on one day keeps the last move). The
    caller commits (the board's action is ``move_card``).
    """
    if stage not in STAGE_CODES:
        raise FieldError(_("Ukendt fase: %(stage)s", stage=stage), "stage")
    on = on or local_today()
    if stage_on(municipality.code, on).stage == stage:
        return None
    same_day = db.session.scalar(
        select(StageChange).where(
            StageChange.municipality_code == municipality.code, StageChange.effective_date == on
        )
    )
    if same_day is not None:
        return correct_stage_change(same_day, stage, on, note or same_day.note, user)
    return record_stage_change(municipality.code, stage, on, note, user)


@dataclass(frozen=True)
class TimelineItem:
    """One dated event on a municipality's page: kind is stage, note, plan, activity, review,
    task_created or task_done (``obj`` is the record; for an activity a row of its id, type, title
    and start date)."""

    on: Optional[date]
    kind: str
    obj: object


_KIND_ORDER = {"stage": 0, "plan": 1, "review": 2, "activity": 3, "note": 4, "task_done": 5, "task_created": 6}


TIMELINE_PAGE_SIZE = 25


def timeline(municipality_code: int, page: int = 1, page_size: int = TIMELINE_PAGE_SIZE, *,
             changes: Optional[list[StageChange]] = None, reviews: Optional[list] = None,
             newest_tasks: Optional[list] = None) -> Page:
    """Everything dated about a municipality, newest first, one page of ``TimelineItem`` at a time
    (page 1 is the newest; not counted: ``has_next`` tells whether older items exist), in six queries.

    Activities, notes and tasks pile up over the years, so each is fetched newest first and only
    as far as this page reaches; stage changes, plans and reviews are a handful per municipality.
    A task shows twice: the day it was created and the day it was done. ``changes`` (its
    ``stage_history``), ``reviews`` (its fidelity reviews) and ``newest_tasks`` (``timeline_tasks``
    to ``timeline_reach``): when the caller has read them already, one query less each."""
    page = max(1, page)
    reach = timeline_reach(page, page_size)
    if changes is None:
        changes = stage_history(municipality_code)
    items = [TimelineItem(c.effective_date, "stage", c) for c in changes]
    queries, parameters = _timeline_queries(), {"code": municipality_code, "reach": reach}
    items += [TimelineItem(n.note_date, "note", n) for n in db.session.scalars(queries["notes"], parameters)]
    items += [TimelineItem(p.signed_date or p.valid_from or _date_of(p.updated_at), "plan", p)
              for p in db.session.scalars(queries["plans"], parameters)]
    items += [TimelineItem(a.start_date, "activity", a) for a in db.session.execute(queries["activities"], parameters)]
    if reviews is None:
        reviews = db.session.scalars(queries["reviews"], parameters)
    items += [TimelineItem(r.review_date, "review", r) for r in reviews]
    if newest_tasks is None:
        newest_tasks = timeline_tasks(municipality_code, reach)
    for task in newest_tasks:
        items.append(TimelineItem(local_date(task.created_at), "task_created", task))
        if task.done_at is not None:
            items.append(TimelineItem(local_date(task.done_at), "task_done", task))
    # Newest first; undated items (a plan still being drafted) at the top; stable order per day.
    items.sort(key=lambda i: (i.on or date.max, -_KIND_ORDER[i.kind], _obj_id(i.obj)), reverse=True)
    first = (page - 1) * page_size
    return Page(items[first:first + page_size], page, page_size, more=len(items) > first + page_size)


def timeline_reach(page: int, page_size: int = TIMELINE_PAGE_SIZE) -> int:
    """How many of each growing list the timeline's ``page`` reads: one more than the page needs
    tells whether older items exist."""
    return max(1, page) * page_size + 1


@cache
def _timeline_queries() -> dict:
    """The timeline's statements, with the municipality (``code``) and how far back (``reach``) as
    parameters: built once per process, as building them cost as much as running them."""
    link = activity_municipality.c
    return {
        "notes": select(Note).where(Note.municipality_code == CODE).options(joinedload(Note.created_by))
        .order_by(Note.note_date.desc(), Note.id.desc()).limit(REACH),
        "plans": select(CooperationPlan)
        .join(plan_municipality, plan_municipality.c.plan_id == CooperationPlan.id)
        .where(plan_municipality.c.municipality_code == CODE),
        # Ordered by the link row's copy of the start date: read newest first from the index
        # (municipality_code, start_date, activity_id), only as far as the page reaches. Only the
        # columns the timeline shows, as rows: the page's longest list, where loading whole
        # records cost more than anything else here.
        "activities": select(Activity.id, Activity.type, Activity.title, Activity.start_date)
        .join(activity_municipality, link.activity_id == Activity.id)
        .where(link.municipality_code == CODE)
        .order_by(link.start_date.desc(), link.activity_id.desc()).limit(REACH),
        "reviews": select(FidelityReview).where(FidelityReview.municipality_code == CODE),
    }


def _date_of(value) -> Optional[date]:
    return value.date() if value is not None else None


def _obj_id(obj) -> int:
    return getattr(obj, "id", 0) or 0


# --- Changes from the municipality page and the board: as the acting user, one commit each -------


def ensure_can_change(municipality: Municipality, *, actor) -> None:
    """``Forbidden`` unless ``actor`` may change ``municipality``'s records (stage history, notes,
    tasks): its region's rule."""
    ensure_can_write(municipality.region_code, user=actor)


def add_stage_change(municipality: Municipality, stage: str, effective_date: date, note: Optional[str] = None,
                     *, actor) -> StageChange:
    """Record a (possibly backdated) stage change as ``actor``. Raises ``Forbidden`` or
    ``FieldError`` (see ``record_stage_change``). Commits."""
    ensure_can_change(municipality, actor=actor)
    change = record_stage_change(municipality.code, stage, effective_date, note, actor)
    db.session.commit()
    return change


def save_stage_correction(change: StageChange, stage: str, effective_date: date, note: Optional[str],
                          version=None, *, actor) -> StageChange:
    """Correct a wrongly recorded stage change as ``actor``, unless someone else saved it since
    ``version`` (the one the user's form was shown with). Raises ``Forbidden``, ``FieldError`` or
    ``Conflict`` before anything is written. Commits."""
    ensure_can_change(change.municipality, actor=actor)
    period_locks.ensure_change_allowed(period_locks.stage_change_place(change),
                                       (change.municipality.region_code, effective_date), actor=actor,
                                       field_name="effective_date")
    _check_stage_and_date(change.municipality_code, stage, effective_date, ignore_id=change.id)
    ensure_version(change, version)
    correct_stage_change(change, stage, effective_date, note, actor)
    commit_versioned(change)
    return change


def remove_stage_change(change: StageChange, version=None, *, actor) -> None:
    """Delete a wrong stage change as ``actor`` (the audit log keeps a copy), unless someone else
    saved it since ``version``. Raises ``Forbidden`` or ``Conflict``. Commits."""
    ensure_can_change(change.municipality, actor=actor)
    period_locks.ensure_unlocked(*period_locks.stage_change_place(change), actor=actor, field_name="effective_date")
    ensure_version(change, version)
    delete_stage_change(change)
    commit_versioned(change)


def move_card(municipality: Municipality, stage: str, *, actor) -> Optional[StageChange]:
    """The board's move as ``actor``: ``move_on_board`` as of today. None when it already stands
    there. Raises ``Forbidden``, ``FieldError`` (an unknown stage), or ``Conflict`` when today's
    entry was corrected or deleted by someone else in the same instant. Commits."""
    ensure_can_change(municipality, actor=actor)
    change = move_on_board(municipality, stage, user=actor)
    try:
        db.session.commit()
    except StaleDataError:  # not ``commit_versioned``: the entry may be gone, with nobody to name
        db.session.rollback()
        raise Conflict(_("Kortet blev flyttet af en anden i samme øjeblik. Se tavlen igen, og flyt det på ny, "
                         "hvis det stadig er nødvendigt.")) from None
    return change


def add_note(municipality: Municipality, note_date: date, text: str, *, actor) -> Note:
    """Add a dated note to a municipality's timeline as ``actor``. Raises ``Forbidden``. Commits."""
    ensure_can_change(municipality, actor=actor)
    note = Note(municipality_code=municipality.code, note_date=note_date, text=text.strip(), created_by_id=actor.id)
    db.session.add(note)
    db.session.commit()
    return note


def delete_note(note: Note, *, actor) -> None:
    """Delete a note as ``actor`` (the audit log keeps a copy). Raises ``Forbidden``. Commits."""
    ensure_can_change(note.municipality, actor=actor)
    db.session.delete(note)
    db.session.commit()
