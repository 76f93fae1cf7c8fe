"""The grant side's plans: the call's cost lines (admins keep them), each region's grant (admins
record it), and each region's budget per year as numbered versions.

A budget version is a draft until STAR approves it (an admin records the approval and its date).
An approved version is never edited: a revision copies it into a new draft with its own date and
reason, which STAR approves in turn. The region's budget for a year is its newest approved version
(``approved_budget``; ``approved_budgets`` gives every region's in one grouped query). Each line
carries an amount in whole øre and the note STAR's template requires.
"""
from dataclasses import dataclass, field
from datetime import date
from typing import Optional

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from crm.clock import local_today
from crm.extensions import db
from crm.formatting import MAX_MONEY_ORE, format_date
from crm.i18n import gettext as _
from crm.models import BudgetLine, BudgetVersion, CostLine, Grant, Region
from crm.services.errors import Conflict, FieldError
from crm.services.locking import commit_versioned, ensure_version, mark_updated
from crm.services.permissions import ensure_can_maintain_grants, ensure_can_write_region_finances

FIRST_YEAR, LAST_YEAR = 2000, 2100  # a budget year outside these is a typing error
MAX_NOTE = 2000


# --- Cost lines (admins) ---------------------------------------------------------------------------

@dataclass
class CostLineData:
    """What the cost-line form submits."""

    label_da: str
    label_en: str
    guidance: str = ""
    position: int = 0
    active: bool = True
    code: str = ""  # only for a new line: never changes afterwards


def cost_lines(active_only: bool = False) -> list[CostLine]:
    """The call's cost lines in their order (only the active ones, if asked)."""
    query = select(CostLine).order_by(CostLine.position, CostLine.id)
    if active_only:
        query = query.where(CostLine.active.is_(True))
    return list(db.session.scalars(query))


def save_cost_line(cost_line: Optional[CostLine], data: CostLineData, version=None, *, actor) -> CostLine:
    """Create (``cost_line`` None) or update a cost line, as an admin. The code of a new line must be
    new (lower-case letters, digits and _); the code of a stored one never changes. Commits."""
    ensure_can_maintain_grants(actor)
    if not data.label_da.strip():
        raise FieldError(_("Skal udfyldes."), "label_da")
    if not data.label_en.strip():
        raise FieldError(_("Skal udfyldes."), "label_en")
    if cost_line is None:
        code = data.code.strip().lower()
        if not code or not all(c.isascii() and (c.isalnum() or c == "_") for c in code) or len(code) > 40:
            raise FieldError(_("Skriv en kode med små bogstaver, tal og _, fx travel."), "code")
        if db.session.scalar(select(CostLine.id).where(CostLine.code == code)) is not None:
            raise FieldError(_("Koden %(code)s er allerede brugt.", code=code), "code")
        cost_line = CostLine(code=code)
        db.session.add(cost_line)
    else:
        ensure_version(cost_line, version)
    cost_line.label_da = data.label_da.strip()[:200]
    cost_line.label_en = data.label_en.strip()[:200]
    cost_line.guidance = data.guidance.strip() or None
    cost_line.position = data.position
    cost_line.active = data.active
    mark_updated(cost_line, actor)
    commit_versioned(cost_line)
    return cost_line


# --- Grants (admins record, everyone reads) -----------------------------------------------------

@dataclass
class GrantData:
    """What the grant form submits (the amount already in øre)."""

    amount_ore: Optional[int]
    project_start: Optional[date]
    project_end: Optional[date]
    reference: str = ""


def grants_by_region() -> dict[int, Grant]:
    """Every region's grant (regions without one are missing), in one query."""
    return {grant.region_code: grant for grant in db.session.scalars(select(Grant))}


def grant_for(region_code: int) -> Optional[Grant]:
    return db.session.scalar(select(Grant).where(Grant.region_code == region_code))


def save_grant(region_code: int, data: GrantData, version=None, *, actor) -> Grant:
    """Record or change a region's grant, as an admin. ``version`` is the version the form showed
    (a new grant has none). Commits."""
    ensure_can_maintain_grants(actor)
    if db.session.get(Region, region_code) is None:
        raise FieldError(_("Vælg en region fra listen."), "region")
    if data.amount_ore is None:
        raise FieldError(_("Skal udfyldes."), "amount")
    if data.amount_ore < 0:
        raise FieldError(_("Beløbet kan ikke være negativt."), "amount")
    if data.project_start is None:
        raise FieldError(_("Skal udfyldes."), "project_start")
    if data.project_end is None:
        raise FieldError(_("Skal udfyldes."), "project_end")
    if data.project_end < data.project_start:
        raise FieldError(_("Projektperioden skal slutte efter den starter."), "project_end")
    grant = grant_for(region_code)
    if grant is None:
        grant = Grant(region_code=region_code)
        db.session.add(grant)
    else:
        ensure_version(grant, version)
    grant.amount_ore = data.amount_ore
    grant.project_start, grant.project_end = data.project_start, data.project_end
    grant.reference = data.reference.strip()[:60] or None
    mark_updated(grant, actor)
    commit_versioned(grant)
    return grant


# --- Budget versions ---------------------------------------------------------------------------------

@dataclass
class LineData:
    """One submitted budget line."""

    amount_ore: Optional[int]
    note: str


@dataclass
class DraftData:
    """What the budget form submits: the version's date and reason, and a line per cost line id."""

    revised_on: Optional[date]
    reason: str
    lines: dict[int, LineData] = field(default_factory=dict)


def amount_field(cost_line_id: int) -> str:
    """The budget form's field for a line's amount (the service names it in its errors)."""
    return f"amount_{cost_line_id}"


def note_field(cost_line_id: int) -> str:
    """The budget form's field for a line's note."""
    return f"note_{cost_line_id}"


def check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise FieldError(_("Året skal ligge mellem %(first)s og %(last)s.", first=FIRST_YEAR, last=LAST_YEAR), "year")


def versions(region_code: int, year: int) -> list[BudgetVersion]:
    """The region's budget versions for the year, oldest first, with their lines (two queries)."""
    return list(db.session.scalars(
        select(BudgetVersion)
        .where(BudgetVersion.region_code == region_code, BudgetVersion.year == year)
        .options(selectinload(BudgetVersion.lines))
        .order_by(BudgetVersion.number)
    ))


def draft_of(region_code: int, year: int) -> Optional[BudgetVersion]:
    """The draft version being prepared for the region's year, if any (there is at most one)."""
    return db.session.scalar(select(BudgetVersion).where(
        BudgetVersion.region_code == region_code, BudgetVersion.year == year, BudgetVersion.approved_on.is_(None)))


def is_draft(version: BudgetVersion) -> bool:
    return version.approved_on is None


def _check_lines(data: DraftData, lines: list[CostLine]) -> dict[int, LineData]:
    """Every line of ``lines`` submitted with an amount ≥ 0 and a note (FieldError beside the first
    line missing one); the submitted lines by cost line id."""
    if data.revised_on is None:
        raise FieldError(_("Skal udfyldes."), "revised_on")
    if not data.reason.strip():
        raise FieldError(_("Skriv hvorfor budgettet laves eller ændres."), "reason")
    checked: dict[int, LineData] = {}
    for cost_line in lines:
        line = data.lines.get(cost_line.id) or LineData(None, "")
        if line.amount_ore is None:
            raise FieldError(_("Skriv et beløb (0 hvis intet)."), amount_field(cost_line.id))
        if line.amount_ore < 0:
            raise FieldError(_("Et budgetbeløb kan ikke være negativt."), amount_field(cost_line.id))
        if line.amount_ore >= MAX_MONEY_ORE:
            raise FieldError(_("Urimeligt stort beløb."), amount_field(cost_line.id))
        note = (line.note or "").strip()
        if not note:
            raise FieldError(_("STAR's budgetskabelon kræver en note til hver post."), note_field(cost_line.id))
        if len(note) > MAX_NOTE:
            raise FieldError(_("Højst %(max)s tegn (her %(length)s).", max=MAX_NOTE, length=len(note)),
                             note_field(cost_line.id))
        checked[cost_line.id] = LineData(line.amount_ore, note)
    return checked


def form_cost_lines(version: Optional[BudgetVersion]) -> list[CostLine]:
    """The cost lines a budget form shows: the active ones, and any inactive one the version uses."""
    used = {line.cost_line_id for line in version.lines} if version is not None else set()
    return [line for line in cost_lines() if line.active or line.id in used]


def save_draft(version: Optional[BudgetVersion], data: DraftData, *, region_code: int, year: int,
               actor) -> BudgetVersion:
    """Create the region's first draft for ``year`` (``version`` None) or change a draft, as the
    region's ambassador or an admin. Every line needs an amount (øre, ≥ 0) and a note. An approved
    version is never changed (``Conflict``: revise it instead). Commits."""
    if version is not None:
        region_code, year = version.region_code, version.year
    ensure_can_write_region_finances(region_code, user=actor)
    check_year(year)
    if version is not None and not is_draft(version):
        raise Conflict(_("Version %(number)s er godkendt og kan ikke ændres; lav en revision.", number=version.number))
    lines = form_cost_lines(version)
    checked = _check_lines(data, lines)
    if version is None:
        if draft_of(region_code, year) is not None:
            raise Conflict(_("Der findes allerede et udkast til budgettet for %(year)s.", year=year))
        version = BudgetVersion(region_code=region_code, year=year, number=_next_number(region_code, year),
                                created_by_id=getattr(actor, "id", None))
        db.session.add(version)
    version.revised_on = data.revised_on
    version.reason = data.reason.strip()
    by_cost_line = {line.cost_line_id: line for line in version.lines}
    for cost_line_id, line in checked.items():
        stored = by_cost_line.get(cost_line_id)
        if stored is None:
            version.lines.append(BudgetLine(cost_line_id=cost_line_id, amount_ore=line.amount_ore, note=line.note))
        else:
            stored.amount_ore, stored.note = line.amount_ore, line.note
    _commit(year)
    return version


def _next_number(region_code: int, year: int) -> int:
    current = db.session.scalar(select(func.max(BudgetVersion.number)).where(
        BudgetVersion.region_code == region_code, BudgetVersion.year == year))
    return (current or 0) + 1


def _commit(year: int) -> None:
    """Commit; two people starting the same version number at once: the second is told to reload."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(_("Budgettet for %(year)s er ændret af en anden imens. Hent siden igen.", year=year)) from None


def revise(approved: BudgetVersion, revised_on: Optional[date], reason: str, *, actor) -> BudgetVersion:
    """A revision of an approved version: a new draft (the next number) with a copy of its lines,
    dated ``revised_on`` with ``reason``, as the region's ambassador or an admin. Commits."""
    ensure_can_write_region_finances(approved.region_code, user=actor)
    if is_draft(approved):
        raise Conflict(_("Kun en godkendt version kan revideres; ret udkastet i stedet."))
    if revised_on is None:
        raise FieldError(_("Skal udfyldes."), "revised_on")
    if not reason.strip():
        raise FieldError(_("Skriv hvorfor budgettet ændres."), "reason")
    if draft_of(approved.region_code, approved.year) is not None:
        raise Conflict(_("Der findes allerede et udkast til budgettet for %(year)s.", year=approved.year))
    draft = BudgetVersion(region_code=approved.region_code, year=approved.year,
                          number=_next_number(approved.region_code, approved.year), revised_on=revised_on,
                          reason=reason.strip(), created_by_id=getattr(actor, "id", None))
    draft.lines = [BudgetLine(cost_line_id=line.cost_line_id, amount_ore=line.amount_ore, note=line.note)
                   for line in approved.lines]
    db.session.add(draft)
    _commit(approved.year)
    return draft


def approve(version: BudgetVersion, approved_on: Optional[date], *, actor) -> BudgetVersion:
    """Record STAR's approval of a draft (admins), dated ``approved_on`` (not in the future, not
    before the version's own date). Every line must have its note. Commits."""
    ensure_can_maintain_grants(actor)
    if not is_draft(version):
        raise Conflict(_("Version %(number)s er allerede godkendt (%(date)s).", number=version.number,
                         date=format_date(version.approved_on)))
    if approved_on is None:
        raise FieldError(_("Skal udfyldes."), "approved_on")
    if approved_on > local_today():
        raise FieldError(_("Godkendelsesdatoen kan ikke ligge i fremtiden."), "approved_on")
    if approved_on < version.revised_on:
        raise FieldError(_("STAR kan ikke godkende før versionens dato (%(date)s).",
                           date=format_date(version.revised_on)), "approved_on")
    if not version.lines or any(not line.note.strip() for line in version.lines):
        raise FieldError(_("Alle poster skal have en note, før budgettet kan godkendes."), "approved_on")
    version.approved_on = approved_on
    db.session.commit()
    return version


def discard_draft(version: BudgetVersion, *, actor) -> None:
    """Delete a draft that will not be sent (its region's ambassador or an admin); an approved
    version is never deleted. Commits."""
    ensure_can_write_region_finances(version.region_code, user=actor)
    if not is_draft(version):
        raise Conflict(_("Version %(number)s er godkendt og kan ikke slettes.", number=version.number))
    db.session.delete(version)
    db.session.commit()


# --- Reading: the budget, totals and differences -------------------------------------------------

def newest_approved(version_list: list[BudgetVersion]) -> Optional[BudgetVersion]:
    """The region's budget among ``version_list``: the approved version with the highest number."""
    approved = [v for v in version_list if not is_draft(v)]
    return max(approved, key=lambda v: v.number) if approved else None


def approved_budget_lines(last_year: int):
    """THE rule of which budget counts: for each region and year (up to ``last_year``) its newest
    approved version (highest number with ``approved_on`` set), and that version's lines. A select
    of (region_code, year, cost_line_id, amount_ore), for this module and the partial accounts."""
    newest = (
        select(BudgetVersion.region_code, BudgetVersion.year, func.max(BudgetVersion.number).label("number"))
        .where(BudgetVersion.approved_on.is_not(None), BudgetVersion.year <= last_year)
        .group_by(BudgetVersion.region_code, BudgetVersion.year)
        .subquery()
    )
    return (
        select(BudgetVersion.region_code, BudgetVersion.year, BudgetLine.cost_line_id, BudgetLine.amount_ore)
        .join(newest, and_(newest.c.region_code == BudgetVersion.region_code, newest.c.year == BudgetVersion.year,
                           newest.c.number == BudgetVersion.number))
        .join(BudgetLine, BudgetLine.version_id == BudgetVersion.id)
    )


def _approved_query(year: int):
    lines = approved_budget_lines(year).where(BudgetVersion.year == year).subquery()
    return select(lines.c.region_code, lines.c.cost_line_id, lines.c.amount_ore)


def approved_budgets(year: int) -> dict[int, dict[int, int]]:
    """Every region's approved budget for ``year`` — its newest approved version — as
    {region_code: {cost_line_id: øre}}, in one grouped query (regions without one are missing)."""
    budgets: dict[int, dict[int, int]] = {}
    for region_code, cost_line_id, amount in db.session.execute(_approved_query(year)):
        budgets.setdefault(region_code, {})[cost_line_id] = amount
    return budgets


def approved_budget(region_code: int, year: int) -> dict[int, int]:
    """The region's approved budget for ``year`` (its newest approved version) as
    {cost_line_id: øre}; empty when STAR has approved none yet. One query."""
    lines = approved_budget_lines(year).where(BudgetVersion.year == year,
                                              BudgetVersion.region_code == region_code).subquery()
    rows = db.session.execute(select(lines.c.region_code, lines.c.cost_line_id, lines.c.amount_ore))
    return {cost_line_id: amount for _region, cost_line_id, amount in rows}


@dataclass
class VersionView:
    """A version as the budget page shows it: amount per cost line, total, the difference from the
    version before it (per line and in total), and whether it is the budget."""

    version: BudgetVersion
    amounts: dict[int, int]
    notes: dict[int, str]
    total: int
    differences: dict[int, int]
    total_difference: Optional[int]
    is_the_budget: bool


def version_views(version_list: list[BudgetVersion]) -> list[VersionView]:
    """``version_list`` (oldest first) with totals and differences from the previous version."""
    the_budget = newest_approved(version_list)
    views, previous = [], None
    for version in version_list:
        amounts = {line.cost_line_id: line.amount_ore for line in version.lines}
        notes = {line.cost_line_id: line.note for line in version.lines}
        total = sum(amounts.values())
        differences = {}
        if previous is not None:
            for cost_line_id in set(amounts) | set(previous.amounts):
                differences[cost_line_id] = amounts.get(cost_line_id, 0) - previous.amounts.get(cost_line_id, 0)
        view = VersionView(version, amounts, notes, total, differences,
                           None if previous is None else total - previous.total, version is the_budget)
        views.append(view)
        previous = view
    return views


def budget_years(region_code: Optional[int] = None) -> list[int]:
    """Years that have a budget version (for one region, or any), newest first."""
    query = select(BudgetVersion.year).distinct().order_by(BudgetVersion.year.desc())
    if region_code is not None:
        query = query.where(BudgetVersion.region_code == region_code)
    return list(db.session.scalars(query))


def overview(year: int) -> dict[int, dict]:
    """Per region for ``year``: {region_code: {"approved": total øre or None, "draft": bool,
    "versions": count}} in one grouped query (the economy front page)."""
    rows = db.session.execute(
        select(BudgetVersion.region_code, BudgetVersion.number, BudgetVersion.approved_on,
               func.coalesce(func.sum(BudgetLine.amount_ore), 0))
        .outerjoin(BudgetLine, BudgetLine.version_id == BudgetVersion.id)
        .where(BudgetVersion.year == year)
        .group_by(BudgetVersion.id, BudgetVersion.region_code, BudgetVersion.number, BudgetVersion.approved_on)
        .order_by(BudgetVersion.number))
    result: dict[int, dict] = {}
    for region_code, _number, approved_on, total in rows:
        entry = result.setdefault(region_code, {"approved": None, "draft": False, "versions": 0})
        entry["versions"] += 1
        if approved_on is None:
            entry["draft"] = True
        else:
            entry["approved"] = int(total)  # ordered by number: the newest approved wins
    return result
