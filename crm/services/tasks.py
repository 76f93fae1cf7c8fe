"""Tasks ("next steps") on municipalities: creating, editing, completing, reopening and deleting
them, and the lists the pages, the digest and the exports show.

Each change is made as the acting user (``actor``) under the municipality's region rule
(``crm.services.permissions``: ambassadors their own region, admins everything, the working
group nothing), raising ``Forbidden``, and commits. Overdue is ``Task.is_overdue``: an open task
whose due date is before today in Copenhagen.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Iterable, Optional

from sqlalchemy import bindparam, case, func, or_, select
from sqlalchemy.orm import joinedload

from crm.clock import local_now
from crm.extensions import db
from crm.i18n import gettext as _
from crm.models import TASK_DONE, TASK_OPEN, Municipality, Task, User
from crm.models.mixins import utcnow
from crm.services.errors import FieldError
from crm.services.locking import commit_versioned, ensure_version, mark_updated
from crm.services.permissions import ensure_can_write
from crm.services.stages import CODES, REGION

TEXT_MAX = 2000
UPCOMING_DAYS = 7  # the start page's "coming up" window (the digest has its own setting)


def local_date(moment: Optional[datetime]) -> Optional[date]:
    """A stored (naive UTC) time as its Copenhagen date, for the timeline."""
    return local_now(moment).date() if moment is not None else None


# --- changes -------------------------------------------------------------------------------------


def ensure_can_change(task: Task, *, actor) -> None:
    """``Forbidden`` unless ``actor`` may change ``task`` (its municipality's region rule)."""
    ensure_can_write(task.municipality.region_code, user=actor)


def _clean_text(text: Optional[str]) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise FieldError(_("Skriv hvad der skal gøres."), "text")
    if len(cleaned) > TEXT_MAX:
        raise FieldError(_("Højst %(max)s tegn.", max=TEXT_MAX), "text")
    return cleaned


def _check_owner(owner_id: Optional[int]) -> Optional[int]:
    """The owner must be an active ambassador or administrator (who can act on the task)."""
    if not owner_id:
        return None
    owner = db.session.get(User, owner_id)
    if owner is None or not owner.active or owner.role not in ("ambassador", "admin"):
        raise FieldError(_("Vælg en aktiv ambassadør eller administrator."), "owner")
    return owner.id


def create_task(municipality: Municipality, text: Optional[str], owner_id: Optional[int] = None,
                due: Optional[date] = None, *, actor) -> Task:
    """A new open task on ``municipality``. Raises ``Forbidden`` or ``FieldError``. Commits."""
    ensure_can_write(municipality.region_code, user=actor)
    task = Task(municipality_code=municipality.code, text=_clean_text(text), owner_id=_check_owner(owner_id),
                due_date=due, status=TASK_OPEN, created_by_id=actor.id, updated_by_id=actor.id)
    db.session.add(task)
    db.session.commit()
    return task


def edit_task(task: Task, text: Optional[str], owner_id: Optional[int], due: Optional[date], version=None,
              *, actor) -> Task:
    """Change what, who and by when, unless someone else saved the task since ``version`` (the one
    the user's form was shown with). Raises ``Forbidden``, ``FieldError`` or ``Conflict``. Commits."""
    ensure_can_change(task, actor=actor)
    cleaned, owner = _clean_text(text), _check_owner(owner_id)
    ensure_version(task, version)
    task.text, task.owner_id, task.due_date = cleaned, owner, due
    mark_updated(task, actor)
    commit_versioned(task)
    return task


def complete_task(task: Task, *, actor) -> bool:
    """Mark done by ``actor`` now. False (nothing changed) when it is already done. Raises
    ``Forbidden``, or ``Conflict`` when someone else saved it this instant. Commits."""
    ensure_can_change(task, actor=actor)
    if task.status == TASK_DONE:
        return False
    task.status, task.done_by_id, task.done_at = TASK_DONE, actor.id, utcnow()
    mark_updated(task, actor)
    commit_versioned(task)
    return True


def reopen_task(task: Task, *, actor) -> bool:
    """Open a done task again (done by/at cleared; the audit log keeps them). False if already open.
    Raises ``Forbidden``, or ``Conflict`` when someone else saved it this instant. Commits."""
    ensure_can_change(task, actor=actor)
    if task.status == TASK_OPEN:
        return False
    task.status, task.done_by_id, task.done_at = TASK_OPEN, None, None
    mark_updated(task, actor)
    commit_versioned(task)
    return True


def delete_task(task: Task, *, actor) -> None:
    """Delete a task entered by mistake (through the ORM, so the audit log keeps a copy). Raises
    ``Forbidden``, or ``Conflict`` when someone else saved it this instant. Commits."""
    ensure_can_change(task, actor=actor)
    db.session.delete(task)
    commit_versioned(task)


# --- lists ---------------------------------------------------------------------------------------


def _by_due():
    """Order: earliest due date first, undated last, then oldest first (portable NULLS LAST)."""
    return (case((Task.due_date.is_(None), 1), else_=0), Task.due_date, Task.id)


def open_tasks(region_code: Optional[int] = None, codes: Optional[Iterable[int]] = None,
               owner_id: Optional[int] = None, due_before: Optional[date] = None) -> list[Task]:
    """Open tasks (optionally of one region, some municipalities, one owner, or due on or before a
    date), with municipality and owner loaded, earliest due first: always one query."""
    query = _open_tasks_query(region_code is not None, codes is not None, owner_id is not None,
                              due_before is not None)
    parameters = {"region_code": region_code, "codes": None if codes is None else list(codes),
                  "owner_id": owner_id, "due_before": due_before}
    return list(db.session.scalars(query, parameters))  # a variant ignores the parameters it lacks


@cache
def _open_tasks_query(one_region: bool, some_codes: bool, one_owner: bool, due_before: bool):
    """The statement behind ``open_tasks``, per variant (built once per process: building it cost
    as much as running it)."""
    query = (
        select(Task).join(Task.municipality).where(Task.status == TASK_OPEN)
        .options(joinedload(Task.municipality), joinedload(Task.owner))
        .order_by(*_by_due())
    )
    if one_region:
        query = query.where(Municipality.region_code == REGION)
    if some_codes:
        query = query.where(Task.municipality_code.in_(CODES))
    if one_owner:
        query = query.where(Task.owner_id == bindparam("owner_id"))
    if due_before:
        query = query.where(Task.due_date <= bindparam("due_before"))
    return query


def earliest_open(tasks: Iterable[Task]) -> dict[int, Task]:
    """Per municipality, its earliest open task, from tasks already sorted by ``open_tasks``."""
    earliest: dict[int, Task] = {}
    for task in tasks:
        earliest.setdefault(task.municipality_code, task)
    return earliest


def earliest_open_tasks(region_code: Optional[int] = None) -> dict[int, Task]:
    """Each municipality's earliest open task (what the list, board and exports call "next step")."""
    return earliest_open(open_tasks(region_code))


def municipality_tasks(municipality_code: int) -> list[Task]:
    """One municipality's open tasks, earliest due first (one query)."""
    return open_tasks(codes=[municipality_code])


@dataclass
class DueTasks:
    """Open tasks past their due date and those due within the next days."""

    today: date
    overdue: list[Task] = field(default_factory=list)
    upcoming: list[Task] = field(default_factory=list)


def due_tasks(today: date, days: int = UPCOMING_DAYS, region_code: Optional[int] = None,
              tasks: Optional[list[Task]] = None) -> DueTasks:
    """Overdue and upcoming (due within ``days``) open tasks, from ``tasks`` if already loaded."""
    horizon = today + timedelta(days=days)
    if tasks is None:
        tasks = open_tasks(region_code, due_before=horizon)
    due = DueTasks(today)
    for task in tasks:
        if task.due_date is None or task.due_date > horizon:
            continue
        (due.overdue if task.is_overdue(today) else due.upcoming).append(task)
    return due


SCOPES = ("mine", "region", "all")


def task_list(user, scope: str, region_code: Optional[int] = None, show_done: bool = False) -> list[Task]:
    """The "Mine opgaver" list: ``mine`` (owned by ``user``), ``region`` (the user's region, or
    ``region_code``), ``all``. Open tasks overdue first then by due date; done ones newest first."""
    query = (
        select(Task).join(Task.municipality)
        .options(joinedload(Task.municipality), joinedload(Task.owner), joinedload(Task.done_by))
    )
    if show_done:
        query = query.where(Task.status == TASK_DONE).order_by(Task.done_at.desc(), Task.id.desc()).limit(500)
    else:
        query = query.where(Task.status == TASK_OPEN).order_by(*_by_due())
    if scope == "mine":
        query = query.where(Task.owner_id == user.id)
    elif scope == "region":
        region = region_code if region_code is not None else user.region_code
        query = query.where(Municipality.region_code == region)
    # Earliest due first is overdue first: an overdue task's due date is before every other's.
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class MunicipalityTasks:
    """A municipality's open tasks, earliest due first, and its newest tasks (``timeline_tasks``)."""

    open: list[Task]
    newest: list[Task]


def municipality_task_lists(municipality_code: int, reach: int) -> MunicipalityTasks:
    """``municipality_tasks`` and ``timeline_tasks`` in one query (the municipality page shows
    both): the open tasks and the newest ``reach`` ones, with owner, creator and finisher, split
    and ordered here as those two order them in SQL."""
    tasks = db.session.scalars(_task_lists_query(), {"code": municipality_code, "reach": reach}).unique().all()
    open_tasks_ = sorted((t for t in tasks if t.status == TASK_OPEN),
                         key=lambda t: (t.due_date is None, t.due_date or date.min, t.id))  # _by_due
    # The newest ``reach`` of all are all here, and the open ones loaded besides rank below them.
    newest = sorted(tasks, key=lambda t: (t.done_at or t.created_at, t.id), reverse=True)[:reach]
    return MunicipalityTasks(open_tasks_, newest)


@cache
def _task_lists_query():
    """The statement behind ``municipality_task_lists`` (built once per process)."""
    newest = (select(Task.id).where(Task.municipality_code == bindparam("code"))
              .order_by(func.coalesce(Task.done_at, Task.created_at).desc(), Task.id.desc())
              .limit(bindparam("reach")))
    return (select(Task).where(Task.municipality_code == bindparam("code"),
                               or_(Task.status == TASK_OPEN, Task.id.in_(newest.scalar_subquery())))
            .options(joinedload(Task.owner), joinedload(Task.created_by), joinedload(Task.done_by)))


def timeline_tasks(municipality_code: int, reach: int) -> list[Task]:
    """A municipality's newest tasks for its timeline (created and done events), one query."""
    return list(db.session.scalars(_timeline_tasks_query(), {"code": municipality_code, "reach": reach}))


@cache
def _timeline_tasks_query():
    """The statement behind ``timeline_tasks`` (built once per process: building it cost as much as
    running it)."""
    newest = func.coalesce(Task.done_at, Task.created_at)
    return (select(Task).where(Task.municipality_code == bindparam("code"))
            .options(joinedload(Task.created_by), joinedload(Task.done_by))
            .order_by(newest.desc(), Task.id.desc()).limit(bindparam("reach")))
