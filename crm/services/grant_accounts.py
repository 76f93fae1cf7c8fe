"""Half-yearly partial accounts (delregnskaber) of the regions' grants: budget against actual per
cost line, for the half-year and cumulatively from the project start, per region and for the nation;
the period's activities beside the costs; the sign-off and deadline of the final account.

One module for the page, the CSV, the XLSX, the print view and the CLI, so they cannot disagree.
Every amount is whole øre summed by the database (integers, never floats), in five statements
whatever the data: regions with their grants, cost lines, approved budgets, expenses, activities.

The rules, as the page states them:

- A region's budget for a year is its newest *approved* budget version for that year (the highest
  version number with an approval date): ``approved_budget_lines``. Unapproved and superseded
  versions count nowhere.
- Budgets are per year. The budget of a half-year is half of the year's budget per cost line:
  1st half gets half rounded down to whole øre, the 2nd half the rest, so the two halves add up to
  the year exactly.
- Cumulatively, from the project start (the region's grant's ``project_start``; a region without
  a grant, and the nation, from the earliest project start of all grants) to the half-year's last
  day: the approved budgets of the years from the start year up to the year before, plus this
  year's share to date (1st half: its half; 2nd half: the whole year); actual: expenses dated from
  the start to the half-year's last day.
- The nation is the sum of the regions, line by line.
- Consumption = actual ÷ budget in percent, rounded half up to one decimal from the exact
  integers; no budget (0): none ("–"). Remaining = budget − actual. Over budget: actual > budget.
"""
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Optional

from sqlalchemy import and_, case, extract, func, or_, select

from crm.clock import local_today
from crm.database import column_rows
from crm.formatting import add_months, format_date, half_year_period, period_label
from crm.i18n import current_locale
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.i18n import ngettext
from crm.models import AUDITOR_THRESHOLD_ORE, CostLine, Expense, Grant, Region
from crm.services import report
from crm.services.budgets import approved_budget_lines
from crm.services.export import XlsxBook, csv_bytes

SIGN_OFF_AUDITOR = "auditor"
SIGN_OFF_MANAGEMENT = "management"
SIGN_OFF_LABELS = {
    SIGN_OFF_AUDITOR: _l("Revisorpåtegnet"),
    SIGN_OFF_MANAGEMENT: _l("Ledelsespåtegnet"),
}
FINAL_ACCOUNT_MONTHS = 3  # the final account is due three months after the project's end
NATIONAL = "total"  # the national section's key (the status report's column name)

# The key figures and the cost line whose half-year actual each divides.
COURSE_COST_LINE = "courses"  # cost per course participant
SUPERVISION_COST_LINE = "activities_events"  # cost per supervision hour


# --- Exact arithmetic on whole øre ---------------------------------------------------------------


def _divide_half_up(numerator: int, denominator: int) -> int:
    """numerator ÷ denominator (denominator > 0) rounded half away from zero, in integers."""
    quotient = (2 * abs(numerator) + denominator) // (2 * denominator)
    return quotient if numerator >= 0 else -quotient


def consumption_percent(actual: int, budget: int) -> Optional[Decimal]:
    """actual ÷ budget in percent with one decimal, rounded half up from the exact integers;
    None when there is no budget (0 or less)."""
    if budget <= 0:
        return None
    return Decimal(_divide_half_up(actual * 1000, budget)).scaleb(-1)


def kroner(ore: Optional[int]) -> Optional[Decimal]:
    """Whole øre as kroner with two decimals (exact): 123456 → Decimal('1234.56')."""
    return None if ore is None else Decimal(ore).scaleb(-2)


def half_of_year(amount: int, half: int) -> int:
    """A half-year's share of a yearly amount: the 1st half rounded down, the 2nd half the rest."""
    return amount // 2 if half == 1 else amount - amount // 2


def share_to_date(amount: int, half: int) -> int:
    """The part of a yearly amount budgeted up to the end of ``half``."""
    return amount // 2 if half == 1 else amount


# --- The accounts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """Budget against actual, in whole øre."""

    budget: int = 0
    actual: int = 0

    @property
    def remaining(self) -> int:
        return self.budget - self.actual

    @property
    def percent(self) -> Optional[Decimal]:
        return consumption_percent(self.actual, self.budget)

    @property
    def over_budget(self) -> bool:
        return self.actual > self.budget

    # In kroner (exact Decimals with two decimals), as the page, the CSV and the XLSX show them.
    @property
    def budget_kr(self) -> Decimal:
        return kroner(self.budget)

    @property
    def actual_kr(self) -> Decimal:
        return kroner(self.actual)

    @property
    def remaining_kr(self) -> Decimal:
        return kroner(self.remaining)

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(self.budget + other.budget, self.actual + other.actual)


@dataclass(frozen=True)
class AccountLine:
    """One cost line (or the totals, ``code`` 'total') of a section."""

    code: str
    label: str
    period: Figures
    cumulative: Figures

    @property
    def is_total(self) -> bool:
        return self.code == NATIONAL

    @property
    def over_budget(self) -> bool:
        return self.period.over_budget or self.cumulative.over_budget


@dataclass(frozen=True)
class SignOff:
    """What the final account of a region's grant needs, and by when."""

    amount_ore: int
    project_start: date
    project_end: date
    today: date

    @property
    def amount_kr(self) -> Decimal:
        return kroner(self.amount_ore)

    @property
    def kind(self) -> str:
        return SIGN_OFF_AUDITOR if self.amount_ore >= AUDITOR_THRESHOLD_ORE else SIGN_OFF_MANAGEMENT

    @property
    def label(self) -> str:
        return str(SIGN_OFF_LABELS[self.kind])

    @property
    def deadline(self) -> date:
        return add_months(self.project_end, FINAL_ACCOUNT_MONTHS)

    @property
    def days_left(self) -> int:
        """Days from today to the deadline (0 on the day, negative once it has passed)."""
        return (self.deadline - self.today).days

    @property
    def overdue(self) -> bool:
        return self.days_left < 0

    @property
    def status(self) -> str:
        """'42 dage tilbage', 'i dag' or 'overskredet'."""
        if self.overdue:
            return _("overskredet")
        if self.days_left == 0:
            return _("i dag")
        return ngettext("%(num)s dag tilbage", "%(num)s dage tilbage", self.days_left)


@dataclass(frozen=True)
class KeyFigures:
    """The period's activities, counted as the status report counts them, and the cost of each."""

    courses: int
    course_participants: int
    supervision_sessions: int
    supervision_hours: Decimal  # one decimal, as the status report shows it
    course_cost_ore: int  # the half-year's actual on COURSE_COST_LINE
    supervision_cost_ore: int  # the half-year's actual on SUPERVISION_COST_LINE

    @property
    def per_course_participant_ore(self) -> Optional[int]:
        if not self.course_participants:
            return None
        return _divide_half_up(self.course_cost_ore, self.course_participants)

    @property
    def per_supervision_hour_ore(self) -> Optional[int]:
        tenths = int(self.supervision_hours * 10)
        if tenths <= 0:
            return None
        return _divide_half_up(self.supervision_cost_ore * 10, tenths)

    @property
    def per_course_participant_kr(self) -> Optional[Decimal]:
        return kroner(self.per_course_participant_ore)

    @property
    def per_supervision_hour_kr(self) -> Optional[Decimal]:
        return kroner(self.per_supervision_hour_ore)


@dataclass
class Section:
    """The accounts of one region (``code`` its region code) or of the nation (``code`` 'total')."""

    code: object
    name: str
    cumulative_from: Optional[date]
    lines: list[AccountLine]
    total: AccountLine
    key_figures: KeyFigures
    sign_off: Optional[SignOff] = None  # a region with a grant

    @property
    def is_national(self) -> bool:
        return self.code == NATIONAL

    @property
    def rows(self) -> list[AccountLine]:
        return [*self.lines, self.total]


@dataclass
class PartialAccounts:
    """The partial accounts of a half-year: the nation, then one section per region (east to
    west), or only the region asked for. ``sign_offs`` lists every region's (nationally)."""

    year: int
    half: int
    start: date
    end: date
    sections: list[Section]
    sign_offs: list[tuple[int, str, Optional[SignOff]]] = field(default_factory=list)
    region_code: Optional[int] = None

    @property
    def label(self) -> str:
        return period_label(self.start, self.end)

    @property
    def main(self) -> Section:
        """The section the page leads with: the region asked for, or the nation."""
        return self.sections[0]

    @property
    def region_sections(self) -> list[Section]:
        return [s for s in self.sections if not s.is_national]


def _earliest_start():
    return select(func.min(Grant.project_start)).scalar_subquery()


def _budget_sums(year: int) -> dict[tuple[int, int], tuple[int, int]]:
    """(region, cost line) → (this year's approved budget, approved budgets of the years from the
    region's start year to the year before): one grouped query."""
    budget = approved_budget_lines(year).subquery()
    start_year = extract("year", func.coalesce(Grant.project_start, _earliest_start()))
    query = (
        select(budget.c.region_code, budget.c.cost_line_id,
               func.sum(case((budget.c.year == year, budget.c.amount_ore), else_=0)),
               func.sum(case((and_(budget.c.year < year, or_(start_year.is_(None), budget.c.year >= start_year)),
                              budget.c.amount_ore), else_=0)))
        .outerjoin(Grant, Grant.region_code == budget.c.region_code)
        .group_by(budget.c.region_code, budget.c.cost_line_id)
    )
    return {(region, line): (int(this_year or 0), int(before or 0))
            for region, line, this_year, before in column_rows(query)}


def _expense_sums(start: date, end: date) -> dict[tuple[int, int], tuple[int, int]]:
    """(region, cost line) → (actual in the period, actual from the region's start to ``end``):
    one grouped query."""
    region_start = func.coalesce(Grant.project_start, _earliest_start())
    query = (
        select(Expense.region_code, Expense.cost_line_id,
               func.sum(case((Expense.spent_on >= start, Expense.amount_ore), else_=0)),
               func.sum(case((or_(region_start.is_(None), Expense.spent_on >= region_start), Expense.amount_ore),
                             else_=0)))
        .outerjoin(Grant, Grant.region_code == Expense.region_code)
        .where(Expense.spent_on <= end)
        .group_by(Expense.region_code, Expense.cost_line_id)
    )
    return {(region, line): (int(period or 0), int(cumulative or 0))
            for region, line, period, cumulative in column_rows(query)}


def _regions() -> list[tuple]:
    """(code, short name, grant amount, start, end) of every region, east to west: one query."""
    rows = column_rows(
        select(Region.code, Region.name, Grant.amount_ore, Grant.project_start, Grant.project_end)
        .outerjoin(Grant, Grant.region_code == Region.code)
    ).all()
    order = {code: index for index, code in enumerate(report.display_order(r[0] for r in rows))}
    return sorted(rows, key=lambda r: order[r[0]])


def _key_figures(activities: dict, column, actual: dict[str, int]) -> KeyFigures:
    return KeyFigures(
        courses=int(activities["courses"][column]),
        course_participants=int(activities["course_participants"][column]),
        supervision_sessions=int(activities["supervision_sessions"][column]),
        supervision_hours=Decimal(str(activities["supervision_hours"][column])).quantize(Decimal("0.1")),
        course_cost_ore=actual.get(COURSE_COST_LINE, 0),
        supervision_cost_ore=actual.get(SUPERVISION_COST_LINE, 0),
    )


def partial_accounts(year: int, half: int, region_code: Optional[int] = None,
                     today: Optional[date] = None) -> "PartialAccounts":
    """The partial accounts of ``half`` (1 or 2) of ``year``: every region and the nation, or only
    ``region_code``'s. ValueError for a bad half-year or an unknown region. Five statements."""
    start, end = half_year_period(int(year), int(half))
    today = today or local_today()
    regions = _regions()
    if region_code is not None and region_code not in {r[0] for r in regions}:
        raise ValueError(f"unknown region {region_code}")
    cost_lines = list(column_rows(
        select(CostLine.id, CostLine.code, CostLine.label_da, CostLine.label_en, CostLine.active)
        .order_by(CostLine.position, CostLine.id)))
    budgets = _budget_sums(year)
    expenses = _expense_sums(start, end)
    activities = report.activity_figures(start, end, [r[0] for r in regions])
    english = current_locale().language == "en"  # as CostLine.label decides it, without loading entities
    used = {line for _region, line in (*budgets, *expenses)}
    shown = [line for line in cost_lines if line.active or line.id in used]
    starts = [r[3] for r in regions if r[3] is not None]
    earliest = min(starts) if starts else None

    def section(code, name, cumulative_from, figures: dict[int, tuple[Figures, Figures]], sign_off=None) -> Section:
        lines = []
        for line in shown:
            period, cumulative = figures.get(line.id, (Figures(), Figures()))
            lines.append(AccountLine(line.code, line.label_en if english else line.label_da, period, cumulative))
        total = AccountLine(NATIONAL, _("I alt"), sum((l.period for l in lines), Figures()),
                            sum((l.cumulative for l in lines), Figures()))
        actual = {l.code: l.period.actual for l in lines}
        return Section(code, name, cumulative_from, lines, total, _key_figures(activities, code, actual), sign_off)

    sections, national, sign_offs = [], {}, []
    for code, name, amount, project_start, project_end in regions:
        figures = {}
        for line in shown:
            this_year, before = budgets.get((code, line.id), (0, 0))
            period_actual, cumulative_actual = expenses.get((code, line.id), (0, 0))
            figures[line.id] = (Figures(half_of_year(this_year, half), period_actual),
                                Figures(before + share_to_date(this_year, half), cumulative_actual))
            old = national.get(line.id, (Figures(), Figures()))
            national[line.id] = (old[0] + figures[line.id][0], old[1] + figures[line.id][1])
        sign_off = SignOff(amount, project_start, project_end, today) if amount is not None else None
        short = name.removeprefix("Region ").strip()
        sign_offs.append((code, short, sign_off))
        if region_code is None or region_code == code:
            sections.append(section(code, short, project_start or earliest, figures, sign_off))
    if region_code is None:
        sections.insert(0, section(NATIONAL, str(report.TOTAL_NAME), earliest, national))
    return PartialAccounts(int(year), int(half), start, end, sections, sign_offs, region_code)


# --- Files ----------------------------------------------------------------------------------------


def _percent_cell(value: Optional[Decimal]):
    return "–" if value is None else value


def _yes_no(flag: bool) -> str:
    return _("ja") if flag else _("nej")


def account_header() -> list[str]:
    """The columns of a section's table, in the page's, the CSV's and the XLSX's order."""
    return [_("Region"), _("Kode"), _("Budgetpost"),
            _("Budget halvår (kr.)"), _("Forbrug halvår (kr.)"), _("Forbrug halvår (%)"), _("Rest halvår (kr.)"),
            _("Over budget i halvåret"),
            _("Budget fra projektstart (kr.)"), _("Forbrug fra projektstart (kr.)"),
            _("Forbrug fra projektstart (%)"), _("Rest fra projektstart (kr.)"), _("Over budget fra projektstart")]


def account_row(section: Section, line: AccountLine) -> list:
    """One row of the table: amounts as exact kroner (Decimal), percentages with one decimal."""
    period, cumulative = line.period, line.cumulative
    return [section.name, line.code, line.label,
            period.budget_kr, period.actual_kr, _percent_cell(period.percent), period.remaining_kr,
            _yes_no(period.over_budget),
            cumulative.budget_kr, cumulative.actual_kr, _percent_cell(cumulative.percent), cumulative.remaining_kr,
            _yes_no(cumulative.over_budget)]


def key_figure_header() -> list[str]:
    return [_("Region"), _("Undervisningsforløb"), _("Deltagere i undervisningsforløb"), _("Supervisioner"),
            _("Supervisionstimer"), _("Udgift pr. kursusdeltager (kr.)"), _("Udgift pr. supervisionstime (kr.)")]


def key_figure_row(section: Section) -> list:
    k = section.key_figures
    return [section.name, k.courses, k.course_participants, k.supervision_sessions, k.supervision_hours,
            _dash(k.per_course_participant_kr), _dash(k.per_supervision_hour_kr)]


def _dash(value):
    return "–" if value is None else value


def sign_off_header() -> list[str]:
    return [_("Region"), _("Tilskud (kr.)"), _("Påtegning af slutregnskab"), _("Projektperiode slut"),
            _("Frist for slutregnskab"), _("Status")]


def sign_off_row(name: str, sign_off: Optional[SignOff]) -> list:
    if sign_off is None:
        return [name, None, _("Ingen bevilling registreret"), None, None, None]
    return [name, sign_off.amount_kr, sign_off.label, sign_off.project_end, sign_off.deadline,
            sign_off.status]


def accounts_to_csv(accounts: PartialAccounts) -> bytes:
    """The accounts in the Danish Excel dialect (``;``, decimal comma, dates 23-11-2026): the cost
    lines of every section with its totals row, then the key figures, then the sign-offs."""
    rows: list[list] = []
    for section in accounts.sections:
        rows += [account_row(section, line) for line in section.rows]
    rows += [[], key_figure_header()] + [key_figure_row(s) for s in accounts.sections]
    rows += [[], sign_off_header()] + [sign_off_row(name, s) for name, s in _sign_offs(accounts)]
    return csv_bytes(account_header(), rows, excel=True)


def _sign_offs(accounts: PartialAccounts) -> list[tuple[str, Optional[SignOff]]]:
    """Every region's sign-off (national accounts), or only the region's."""
    return [(name, sign_off) for code, name, sign_off in accounts.sign_offs
            if accounts.region_code in (None, code)]


AMOUNT_COLUMNS = (3, 4, 6, 8, 9, 11)
PERCENT_COLUMNS = (5, 10)


def accounts_to_xlsx(accounts: PartialAccounts) -> bytes:
    """One sheet for the nation and one per region (east to west), following the budget lines:
    amounts as numbers in kroner with a kr. format, percentages with one decimal."""
    book = XlsxBook()
    for section in accounts.sections:
        sheet = book.sheet(section.name)
        sheet.write(0, 0, _("Delregnskab %(period)s: %(name)s", period=accounts.label, name=section.name), "title")
        sheet.write_row(1, [_("Periode"), f"{format_date(accounts.start)} – {format_date(accounts.end)}"])
        sheet.write_row(2, [_("Fra projektstart"), format_date(section.cumulative_from) or _("alle poster")])
        header = account_header()
        sheet.header(4, header, [16, 18, 48] + [16] * (len(header) - 3))
        sheet.freeze(5, 3)
        for row, line in enumerate(section.rows, start=5):
            values = account_row(section, line)
            for col, value in enumerate(values):
                fmt = "kr" if col in AMOUNT_COLUMNS else "dec" if col in PERCENT_COLUMNS and value != "–" else None
                if line.is_total and fmt is None:
                    fmt = "bold"
                sheet.write(row, col, value, fmt)
        row = 5 + len(section.rows) + 1
        sheet.write_row(row, key_figure_header(), "header")
        for col, value in enumerate(key_figure_row(section)):
            sheet.write(row + 1, col, value, "kr" if col in (5, 6) and value != "–" else "dec" if col == 4 else None)
        row += 3
        sheet.write_row(row, sign_off_header(), "header")
        pairs = [(n, o) for code, n, o in accounts.sign_offs if section.is_national or code == section.code]
        for offset, (name, sign_off) in enumerate(pairs, start=1):
            for col, value in enumerate(sign_off_row(name, sign_off)):
                sheet.write(row + offset, col, value, "kr" if col == 1 else None)
    return book.to_bytes()


def accounts_filename(accounts: PartialAccounts, fmt: str) -> str:
    """delregnskab-2025-1-halvaar.xlsx, delregnskab-2025-1-halvaar-1084.csv"""
    region = f"-{accounts.region_code}" if accounts.region_code is not None else ""
    return f"delregnskab-{accounts.year}-{accounts.half}-halvaar{region}.{fmt}"


# The print view (templates/grant_accounts/print.html) and what it needs: PRINT_TEMPLATE rendered
# with print_context(accounts, printed_at) and the app's CSS only (no script): made into a PDF as is.
PRINT_TEMPLATE = "grant_accounts/print.html"


def print_context(accounts: PartialAccounts, printed_at) -> dict:
    return {"accounts": accounts, "printed_at": printed_at, **page_context()}


def page_context() -> dict:
    """Constants the page and the print view state (the rules behind the figures)."""
    return {"course_cost_line": COURSE_COST_LINE, "supervision_cost_line": SUPERVISION_COST_LINE,
            "auditor_threshold": kroner(AUDITOR_THRESHOLD_ORE)}

