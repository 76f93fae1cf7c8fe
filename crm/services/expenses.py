"""Expenses booked on a region's grant: entered in the form or imported from the region's finance
extract (``crm.services.expense_import``), listed, summed and exported.

Every expense write — create, change, delete, and each imported row — goes through ONE function,
``write_expense``: it applies the region rule (``crm.services.permissions``) to the record as it is
and as it will be, checks the data, and changes the session (its callers commit). A rule that
applies to every expense write (such as a submitted half-year's lock) belongs there and nowhere else.

Money is whole øre; sums are computed by the database as integers (exact on SQLite and PostgreSQL).
"""
from dataclasses import dataclass
from datetime import date
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from crm.extensions import db
from crm.formatting import MAX_MONEY_ORE
from crm.i18n import gettext as _
from crm.models import EXPENSE_SOURCE_FORM, Activity, CostLine, Expense
from crm.services.errors import FieldError
from crm.services.locking import commit_versioned, ensure_version, flush_versioned, mark_updated
from crm.services.period_locks import PeriodLocks, ensure_change_allowed, expense_place
from crm.services.permissions import ensure_can_write_region_finances, submitted_region

FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2100, 12, 31)
MAX_DESCRIPTION, MAX_VOUCHER = 300, 60


@dataclass
class ExpenseData:
    """An expense as submitted (form or import row), already parsed; None: missing or invalid."""

    region_code: Optional[int]
    spent_on: Optional[date]
    cost_line_id: Optional[int]
    amount_ore: Optional[int]
    description: str
    voucher: str
    activity_id: Optional[int] = None


@dataclass(frozen=True)
class ExpenseFilter:
    """The expense list's filters (None: all)."""

    region_code: Optional[int] = None
    cost_line_id: Optional[int] = None
    start: Optional[date] = None
    end: Optional[date] = None


# --- The one funnel for every write -----------------------------------------------------------------

def write_expense(expense: Optional[Expense], data: Optional[ExpenseData], *, actor,
                  source: str = EXPENSE_SOURCE_FORM, locks: Optional[PeriodLocks] = None) -> Optional[Expense]:
    """THE write of an expense, for every path (form, delete, import): create (``expense`` None),
    change, or delete (``data`` None) as ``actor``.

    Checks, before anything changes: the region rule on the stored record's region and on the
    submitted one (``Forbidden``), then the data (``FieldError`` naming the form field), then the
    submitted periods' locks on the old and the new date (``Locked``; an import passes the locks it
    read once). Changes the session only; the caller commits (one expense from the form, or a whole
    import)."""
    if expense is not None:
        ensure_can_write_region_finances(expense.region_code, user=actor)
    old_place = expense_place(expense) if expense is not None else None
    if data is None:
        if expense is None:
            raise ValueError("nothing to write")
        ensure_change_allowed(old_place, None, actor=actor, field_name="spent_on", locks=locks)
        db.session.delete(expense)
        return None
    region_code = submitted_region(data.region_code, actor=actor)
    ensure_can_write_region_finances(region_code, user=actor)
    _check(expense, data, region_code)
    ensure_change_allowed(old_place, (region_code, data.spent_on), actor=actor, field_name="spent_on", locks=locks)
    if expense is None:
        expense = Expense(region_code=region_code, source=source, created_by_id=getattr(actor, "id", None))
        db.session.add(expense)
    expense.region_code = region_code
    expense.spent_on = data.spent_on
    expense.cost_line_id = data.cost_line_id
    expense.amount_ore = data.amount_ore
    expense.description = data.description.strip()
    expense.voucher = data.voucher.strip()
    expense.activity_id = data.activity_id
    mark_updated(expense, actor)
    return expense


def _check(expense: Optional[Expense], data: ExpenseData, region_code: int) -> None:
    """The data rules of an expense (``FieldError`` beside the field)."""
    if data.spent_on is None:
        raise FieldError(_("Skal udfyldes."), "spent_on")
    if not FIRST_DATE <= data.spent_on <= LAST_DATE:
        raise FieldError(_("Datoen skal ligge mellem år 2000 og 2100."), "spent_on")
    cost_line = db.session.get(CostLine, data.cost_line_id) if data.cost_line_id is not None else None
    if cost_line is None:
        raise FieldError(_("Vælg en udgiftspost fra listen."), "cost_line")
    if not cost_line.active and (expense is None or expense.cost_line_id != cost_line.id):
        raise FieldError(_("Udgiftsposten %(label)s bruges ikke længere.", label=cost_line.label), "cost_line")
    if data.amount_ore is None:
        raise FieldError(_("Skal udfyldes."), "amount")
    if data.amount_ore == 0:
        raise FieldError(_("Beløbet kan ikke være 0 (en kreditnota er et negativt beløb)."), "amount")
    if abs(data.amount_ore) >= MAX_MONEY_ORE:
        raise FieldError(_("Urimeligt stort beløb."), "amount")
    description, voucher = data.description.strip(), data.voucher.strip()
    if not description:
        raise FieldError(_("Skal udfyldes."), "description")
    if len(description) > MAX_DESCRIPTION:
        raise FieldError(_("Højst %(max)s tegn (her %(length)s).", max=MAX_DESCRIPTION, length=len(description)),
                         "description")
    if not voucher:
        raise FieldError(_("Skal udfyldes."), "voucher")
    if len(voucher) > MAX_VOUCHER:
        raise FieldError(_("Højst %(max)s tegn (her %(length)s).", max=MAX_VOUCHER, length=len(voucher)), "voucher")
    if "\x00" in description or "\x00" in voucher:
        raise FieldError(_("Feltet indeholder et ugyldigt tegn (NUL)."), "description")
    if data.activity_id is not None:
        activity = db.session.get(Activity, data.activity_id)
        if activity is None or activity.region_code != region_code:
            raise FieldError(_("Aktiviteten hører ikke til regionen."), "activity")
    with db.session.no_autoflush:
        clash = db.session.scalar(select(Expense.id).where(
            Expense.region_code == region_code, Expense.voucher == voucher, Expense.cost_line_id == cost_line.id))
    if clash is not None and (expense is None or clash != expense.id):
        raise FieldError(_("Bilag %(voucher)s er allerede bogført på udgiftsposten i regionen.", voucher=voucher),
                         "voucher")


def save_expense(expense: Optional[Expense], data: ExpenseData, version=None, *, actor) -> Expense:
    """Create or change one expense from the form, with the ``version`` the form showed. Commits."""
    if expense is not None:
        ensure_can_write_region_finances(expense.region_code, user=actor)
        ensure_version(expense, version)
    expense = write_expense(expense, data, actor=actor)
    commit_versioned(expense)
    return expense


def delete_expense(expense: Expense, version=None, *, actor) -> None:
    """Delete one expense (a mistake; a real refund is a credit note, a negative expense), with the
    ``version`` the user saw. Commits."""
    ensure_can_write_region_finances(expense.region_code, user=actor)
    ensure_version(expense, version)
    write_expense(expense, None, actor=actor)
    flush_versioned(expense)
    db.session.commit()


# --- Reading -----------------------------------------------------------------------------------------

def _filtered(query, filters: ExpenseFilter):
    if filters.region_code is not None:
        query = query.where(Expense.region_code == filters.region_code)
    if filters.cost_line_id is not None:
        query = query.where(Expense.cost_line_id == filters.cost_line_id)
    if filters.start is not None:
        query = query.where(Expense.spent_on >= filters.start)
    if filters.end is not None:
        query = query.where(Expense.spent_on <= filters.end)
    return query


def expense_query(filters: ExpenseFilter):
    """The filtered expenses, newest first, with region, cost line and activity loaded (one query)."""
    return _filtered(select(Expense), filters).options(
        joinedload(Expense.region), joinedload(Expense.cost_line), joinedload(Expense.activity),
    ).order_by(Expense.spent_on.desc(), Expense.id.desc())


def total(filters: ExpenseFilter) -> int:
    """The sum of the filtered expenses in øre, computed by the database (exact integers)."""
    return int(db.session.scalar(_filtered(select(func.coalesce(func.sum(Expense.amount_ore), 0)), filters)))


def totals_by_cost_line(filters: ExpenseFilter) -> dict[int, int]:
    """{cost_line_id: øre} of the filtered expenses, one grouped query."""
    query = _filtered(select(Expense.cost_line_id, func.sum(Expense.amount_ore)), filters).group_by(
        Expense.cost_line_id)
    return {cost_line_id: int(amount) for cost_line_id, amount in db.session.execute(query)}


def region_activity_choices(region_codes) -> list[tuple[int, str, int]]:
    """(id, label, region) of activities an expense may link to: those of the given regions (None:
    all), newest first, at most the latest 500 per call (one query)."""
    query = (select(Activity.id, Activity.title, Activity.start_date, Activity.region_code)
             .where(Activity.region_code.is_not(None))
             .order_by(Activity.start_date.desc(), Activity.id.desc()).limit(500))
    if region_codes is not None:
        query = query.where(Activity.region_code.in_(region_codes))
    return [(id_, f"{start:%d-%m-%Y} {title}"[:120], region) for id_, title, start, region in db.session.execute(query)]
