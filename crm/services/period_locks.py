"""A submitted period locks its data: the one rule, and the administrators' reopening.

A record of region R dated D is **locked** when a ``ReportSubmission``'s period contains D and the
period is not reopened for R (an open ``PeriodReopening``: ``relocked_at`` empty). Lockable
records and the (region, date) that decides:

* stage changes: the municipality's region, ``effective_date``;
* activities: the activity's region, ``start_date``. A national activity (no region) counts in the
  report's national total, so it is locked too; its lock is reopened as "Landsdækkende" (a
  reopening with ``region_code`` None);
* fidelity reviews: the municipality's region, ``review_date``;
* expenses: ``region_code``, ``spent_on``.

Everyone is locked out, administrators and the command line included: an administrator reopens
the period for the region first (and the audit log then keeps every change made while open).
Submitting the same period again re-locks every reopening of it.

A change must be allowed on both its old and its new (region, date): moving a record into or out
of a locked period is refused too (``ensure_change_allowed``). The refusal is ``Locked`` (a
``FieldError`` naming the date field). ``load_locks()`` reads the whole lock state in one query;
an import or a page checks many rows against the one ``PeriodLocks``.
"""
from dataclasses import dataclass, field
from functools import cache
from datetime import date, datetime
from typing import Iterable, Optional

from sqlalchemy import String, and_, cast, select
from sqlalchemy.orm import aliased, joinedload

from crm.clock import to_local, utcnow
from crm.extensions import db
from crm.formatting import format_date, period_label
from crm.i18n import gettext as _
from crm.models import (Activity, AuditEntry, Expense, FidelityReview, Municipality, PeriodReopening, Region,
                        ReportSubmission, StageChange, User)
from crm.services.errors import FieldError, Locked
from crm.services.permissions import ensure_can_reopen_periods

#: The tables whose records a submission locks (for the audit entries made while a lock was open).
LOCKABLE_ENTITIES = ("activity", "expense", "fidelity_review", "stage_change")
NATIONAL = "national"  # a reopening form's value for the activities without region


@dataclass(frozen=True)
class Lock:
    """The submission that locks a (region, date): its period, when and by whom it was sent."""

    submission_id: int
    period_start: date
    period_end: date
    submitted_at: datetime
    submitted_by: Optional[str]

    @property
    def label(self) -> str:
        """'1. halvår 2026'."""
        return period_label(self.period_start, self.period_end)

    @property
    def submitted_on(self) -> str:
        """The local date it was submitted, 23-11-2026."""
        return format_date(to_local(self.submitted_at).date())

    def notice(self) -> str:
        """A short line for pages: 'Perioden 1. halvår 2026 er låst (indsendt 23-11-2026 af …).'"""
        return _("Perioden %(period)s er låst (indsendt %(date)s af %(who)s).", period=self.label,
                 date=self.submitted_on, who=self.submitted_by or _("kommandolinjen"))

    def message(self) -> str:
        """Why a change is refused, since when, and who can unlock it."""
        return _("Posten er låst af indsendelsen af %(period)s, indsendt %(date)s af %(who)s. "
                 "Kun en administrator kan genåbne perioden for regionen (på indsendelsens side); "
                 "også administratorer skal genåbne først.", period=self.label, date=self.submitted_on,
                 who=self.submitted_by or _("kommandolinjen"))


@dataclass
class PeriodLocks:
    """The lock state at one moment: every submission, and the (period, region) pairs reopened."""

    submissions: list[Lock] = field(default_factory=list)  # oldest first
    reopened: set[tuple[date, date, Optional[int]]] = field(default_factory=set)

    def lock_for(self, region_code: Optional[int], day: Optional[date]) -> Optional[Lock]:
        """The (first) submission that locks a record of ``region_code`` dated ``day``, or None."""
        if day is None:
            return None
        for lock in self.submissions:
            if lock.period_start <= day <= lock.period_end and \
                    (lock.period_start, lock.period_end, region_code) not in self.reopened:
                return lock
        return None

    def is_locked(self, region_code: Optional[int], day: Optional[date]) -> bool:
        return self.lock_for(region_code, day) is not None

    def ensure_unlocked(self, region_code: Optional[int], day: Optional[date], field_name: Optional[str] = None) -> None:
        """``Locked`` (beside ``field_name``) when a record of ``region_code`` dated ``day`` is locked."""
        lock = self.lock_for(region_code, day)
        if lock is not None:
            raise Locked(lock.message(), field_name)


def load_locks() -> PeriodLocks:
    """The lock state in one query: the submissions, each with the regions its period is open for."""
    locks = PeriodLocks()
    seen: set[int] = set()
    for sub_id, start, end, at, user, reopening_id, region_code in db.session.execute(_locks_query()):
        if sub_id not in seen:
            seen.add(sub_id)
            locks.submissions.append(Lock(sub_id, start, end, at, user.display_name if user else None))
        if reopening_id is not None:
            locks.reopened.add((start, end, region_code))
    return locks


@cache
def _locks_query():
    """The statement behind ``load_locks`` (built once per process: many pages read the lock state)."""
    return (
        select(ReportSubmission.id, ReportSubmission.period_start, ReportSubmission.period_end,
               ReportSubmission.submitted_at, User, PeriodReopening.id, PeriodReopening.region_code)
        .outerjoin(User, User.id == ReportSubmission.submitted_by_id)
        .outerjoin(PeriodReopening, and_(PeriodReopening.period_start == ReportSubmission.period_start,
                                         PeriodReopening.period_end == ReportSubmission.period_end,
                                         PeriodReopening.relocked_at.is_(None)))
        .order_by(ReportSubmission.submitted_at, ReportSubmission.id)
    )


def lock_for(region_code: Optional[int], day: Optional[date], locks: Optional[PeriodLocks] = None) -> Optional[Lock]:
    """The submission locking a record of ``region_code`` dated ``day`` (None: not locked)."""
    return (locks or load_locks()).lock_for(region_code, day)


def ensure_unlocked(region_code: Optional[int], day: Optional[date], *, actor, field_name: Optional[str] = None,
                    locks: Optional[PeriodLocks] = None) -> None:
    """Raise ``Locked`` when a record of ``region_code`` dated ``day`` may not be created, changed or
    deleted because a submission locks it. ``actor`` is the acting user; no role is exempt (an
    administrator reopens first). The one check every write of a lockable record goes through
    (expenses included: ``ensure_unlocked(expense.region_code, expense.spent_on, actor=…)``)."""
    (locks or load_locks()).ensure_unlocked(region_code, day, field_name)


Place = tuple[Optional[int], Optional[date]]


def ensure_change_allowed(old: Optional[Place], new: Optional[Place], *, actor, field_name: Optional[str] = None,
                          locks: Optional[PeriodLocks] = None) -> None:
    """A create (``old`` None), change or delete (``new`` None) must be allowed on both the record's
    old and new (region, date): moving a record into or out of a locked period is refused too."""
    locks = locks or load_locks()
    for place in (old, new):
        if place is not None:
            ensure_unlocked(place[0], place[1], actor=actor, field_name=field_name, locks=locks)


# --- The places of the lockable records ---------------------------------------------------


def stage_change_place(change: StageChange) -> Place:
    return change.municipality.region_code, change.effective_date


def municipality_region(code: int) -> Optional[int]:
    """The region of municipality ``code`` (None when there is no such municipality)."""
    return db.session.scalar(select(Municipality.region_code).where(Municipality.code == code))


def activity_place(activity: Activity) -> Place:
    return activity.region_code, activity.start_date


def review_place(review: FidelityReview) -> Place:
    return review.municipality.region_code, review.review_date


def expense_place(expense: Expense) -> Place:
    return expense.region_code, expense.spent_on


# --- Reopening and re-locking -------------------------------------------------------------------


def _region_or_national(value) -> Optional[int]:
    """A reopening form's region: a region code, or ``NATIONAL`` for the activities without region."""
    if value == NATIONAL:
        return None
    try:
        code = int(value)
    except (TypeError, ValueError):
        code = None
    if code is None or db.session.get(Region, code) is None:
        raise FieldError(_("Vælg en region fra listen."), "region")
    return code


def open_reopening(submission: ReportSubmission, region_code: Optional[int]) -> Optional[PeriodReopening]:
    """The open reopening of ``submission``'s period for ``region_code``, if any."""
    return db.session.scalar(
        select(PeriodReopening).where(
            PeriodReopening.period_start == submission.period_start,
            PeriodReopening.period_end == submission.period_end,
            PeriodReopening.region_code.is_(None) if region_code is None
            else PeriodReopening.region_code == region_code,
            PeriodReopening.relocked_at.is_(None)))


def reopen_period(submission: ReportSubmission, region, reason: Optional[str], *, actor) -> PeriodReopening:
    """Open ``submission``'s period for one region (a code, or ``NATIONAL``) with a required reason,
    as ``actor`` (administrators only: ``Forbidden``). ``FieldError`` for a missing reason or region,
    or when the period is already open for the region. Audited; commits."""
    ensure_can_reopen_periods(actor)
    region_code = _region_or_national(region)
    reason = (reason or "").strip()
    if not reason:
        raise FieldError(_("Skriv hvorfor perioden genåbnes."), "reason")
    if open_reopening(submission, region_code) is not None:
        raise FieldError(_("Perioden er allerede genåbnet for denne region."), "region")
    reopening = PeriodReopening(submission_id=submission.id, period_start=submission.period_start,
                                period_end=submission.period_end, region_code=region_code, reason=reason,
                                opened_by_id=actor.id, opened_at=utcnow())
    db.session.add(reopening)
    db.session.commit()
    return reopening


def relock(reopening: PeriodReopening, *, actor) -> PeriodReopening:
    """Lock a reopened period again as ``actor`` (administrators only). Audited; commits."""
    ensure_can_reopen_periods(actor)
    if reopening.relocked_at is None:
        reopening.relocked_at = utcnow()
        reopening.relocked_by_id = actor.id
        db.session.commit()
    return reopening


def relock_on_submit(start: date, end: date, *, actor) -> None:
    """Submitting a period again locks it again: every open reopening of it is closed (the caller
    commits with the new submission)."""
    for reopening in db.session.scalars(select(PeriodReopening).where(
            PeriodReopening.period_start == start, PeriodReopening.period_end == end,
            PeriodReopening.relocked_at.is_(None))):
        reopening.relocked_at = utcnow()
        reopening.relocked_by_id = getattr(actor, "id", None)


def reopenings_of(submission: ReportSubmission) -> list[PeriodReopening]:
    """Every reopening of the submission's period, newest first, with who opened and re-locked it
    (one query)."""
    return list(db.session.scalars(
        select(PeriodReopening)
        .where(PeriodReopening.period_start == submission.period_start,
               PeriodReopening.period_end == submission.period_end)
        .options(joinedload(PeriodReopening.opened_by), joinedload(PeriodReopening.relocked_by),
                 joinedload(PeriodReopening.region))
        .order_by(PeriodReopening.opened_at.desc(), PeriodReopening.id.desc())))


# --- What was changed while a lock was open ---------------------------------------------------------


def _entry_region(entry: AuditEntry, live_region, region_of_municipality: dict[int, int]):
    """The region of the record an audit entry is about: the live record's, else (a deleted record)
    the region or municipality in the entry's own values."""
    if live_region is not None:
        return live_region
    values = entry.changes or {}

    def value(name):
        item = values.get(name)
        if isinstance(item, dict):
            return item.get("old", item.get("new"))
        if isinstance(item, (list, tuple)) and item:
            return item[0]
        return item

    if entry.entity in ("activity", "expense"):
        return value("region_code")
    code = value("municipality_code")
    return region_of_municipality.get(code) if code is not None else None


def changes_while_open(reopenings: Iterable[PeriodReopening]) -> dict[int, list[AuditEntry]]:
    """For each reopening (by id), the audit entries of its region's lockable records made while it
    was open, oldest first: one query for the entries (with their records' regions), one for the
    municipalities' regions. The entries' dates decide nothing here: any change to the region's
    lockable records while open is shown."""
    reopenings = list(reopenings)
    if not reopenings:
        return {}
    now = utcnow()
    windows = [(r.id, r.opened_at, r.relocked_at or now, r.region_code) for r in reopenings]
    start = min(w[1] for w in windows)
    end = max(w[2] for w in windows)
    stage_m, review_m = aliased(Municipality), aliased(Municipality)
    query = (
        select(AuditEntry, Activity.region_code, stage_m.region_code, review_m.region_code, Expense.region_code)
        .outerjoin(Activity, and_(AuditEntry.entity == "activity", AuditEntry.entity_id == cast(Activity.id, String)))
        .outerjoin(StageChange, and_(AuditEntry.entity == "stage_change",
                                     AuditEntry.entity_id == cast(StageChange.id, String)))
        .outerjoin(stage_m, stage_m.code == StageChange.municipality_code)
        .outerjoin(FidelityReview, and_(AuditEntry.entity == "fidelity_review",
                                        AuditEntry.entity_id == cast(FidelityReview.id, String)))
        .outerjoin(review_m, review_m.code == FidelityReview.municipality_code)
        .outerjoin(Expense, and_(AuditEntry.entity == "expense", AuditEntry.entity_id == cast(Expense.id, String)))
        .where(AuditEntry.entity.in_(LOCKABLE_ENTITIES), AuditEntry.at >= start, AuditEntry.at <= end)
        .options(joinedload(AuditEntry.user))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    rows = db.session.execute(query).all()
    region_of_municipality: dict[int, int] = {}
    if any(a is None and s is None and r is None and e is None for _entry, a, s, r, e in rows):
        region_of_municipality = dict(db.session.execute(select(Municipality.code, Municipality.region_code)).all())
    found: dict[int, list[AuditEntry]] = {w[0]: [] for w in windows}
    for entry, a, s, r, e in rows:
        region = _entry_region(entry, next((x for x in (a, s, r, e) if x is not None), None), region_of_municipality)
        for reopening_id, opened, closed, region_code in windows:
            if opened <= entry.at <= closed and region == region_code:
                found[reopening_id].append(entry)
    return found


__all__ = ["Lock", "PeriodLocks", "load_locks", "lock_for", "ensure_unlocked", "ensure_change_allowed",
           "reopen_period", "relock", "relock_on_submit", "reopenings_of", "changes_while_open", "NATIONAL",
           "LOCKABLE_ENTITIES"]
