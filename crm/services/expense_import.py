"""Import of expenses from a region's finance extract (CSV/XLSX) on the generic import framework.

Columns (Danish headers, English accepted): ``dato``/``date``, ``udgiftspost``/``cost_line`` (the
code or the Danish or English label), ``beløb``/``amount`` (kroner with øre, ``1.234,50``; a credit
note negative), ``beskrivelse``/``description``, ``bilag``/``voucher``, ``region`` (code or name),
``aktivitet``/``activity_id`` (optional: the id of one of the region's activities).

A row is identified by (region, voucher, cost line): the same row again is "already present", the
same voucher on the same cost line with other figures is "changed" (shown, applied only when the
user asks). Every row is written through ``crm.services.expenses.write_expense``, the one funnel of
every expense write.
"""
from dataclasses import dataclass
from datetime import date
from typing import Hashable, Optional, Sequence

from sqlalchemy import select, tuple_

from crm.extensions import db
from crm.formatting import NumberError, format_date, money_decimal, parse_money
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.models import EXPENSE_SOURCE_IMPORT, Activity, CostLine, Expense, Region
from crm.services.errors import FieldError
from crm.services.expenses import ExpenseData, write_expense
from crm.services.importing import Change, FieldParser, Importer, RowError, chunked


@dataclass(frozen=True)
class ExpenseRow:
    """One parsed row of a finance extract."""

    region_code: int
    spent_on: date
    cost_line_id: int
    amount_ore: int
    description: str
    voucher: str
    activity_id: Optional[int]

    def data(self) -> ExpenseData:
        return ExpenseData(self.region_code, self.spent_on, self.cost_line_id, self.amount_ore, self.description,
                           self.voucher, self.activity_id)


class Amount:
    """An amount of money shown in an import's list of changes (``1234,50``)."""

    def __init__(self, ore: int):
        self.ore = ore

    def __eq__(self, other) -> bool:
        return isinstance(other, Amount) and other.ore == self.ore

    def __str__(self) -> str:
        value = money_decimal(self.ore)
        return format(value, "f").replace(".", ",")


class ExpenseImporter(Importer):
    """Expenses per region; the user must be allowed to write the row's region."""

    label = _l("udgifter")
    columns = ("date", "cost_line", "amount", "description", "voucher", "region", "activity_id")
    column_aliases = {"dato": "date", "udgiftspost": "cost_line", "beløb": "amount", "beloeb": "amount",
                      "belob": "amount", "beskrivelse": "description", "tekst": "description", "bilag": "voucher",
                      "bilagsnummer": "voucher", "aktivitet": "activity_id", "activity": "activity_id"}

    def __init__(self, actor=None):
        super().__init__(actor)
        self.cost_lines: dict[str, CostLine] = {}
        for line in db.session.scalars(select(CostLine)):
            for name in (line.code, line.label_da, line.label_en):
                self.cost_lines[name.strip().lower()] = line
        self.regions: dict[str, int] = {}
        for region in db.session.scalars(select(Region)):
            for name in (str(region.code), region.name, region.short_name):
                if name:
                    self.regions[name.strip().lower()] = region.code
        self._activities: dict[int, Optional[int]] = {}

    def _activity_region(self, activity_id: int) -> Optional[int]:
        if activity_id not in self._activities:
            self._activities[activity_id] = db.session.scalar(
                select(Activity.region_code).where(Activity.id == activity_id)) or -1
        return self._activities[activity_id]

    def parse_row(self, values: dict[str, str], line_no: int) -> tuple[Optional[ExpenseRow], list[RowError]]:
        errors: list[RowError] = []
        p = FieldParser(line_no, errors)
        spent_on = p.date(values, "date", required=True)
        cost_line_text = p.text(values, "cost_line", required=True, max_length=200)
        cost_line = self.cost_lines.get(cost_line_text.lower()) if cost_line_text else None
        if cost_line_text and cost_line is None:
            p.error("cost_line", _("Ukendt udgiftspost »%(value)s«. Brug koden eller navnet, fx %(example)s.",
                                   value=cost_line_text, example=", ".join(sorted(
                                       line.code for line in set(self.cost_lines.values())))))
        elif cost_line is not None and not cost_line.active:
            p.error("cost_line", _("Udgiftsposten %(label)s bruges ikke længere.", label=cost_line.label))
        amount = None
        amount_text = p.text(values, "amount", required=True, max_length=40)
        if amount_text:
            try:
                amount = parse_money(amount_text)
            except NumberError as error:
                p.error("amount", _("»%(value)s«: %(error)s", value=amount_text, error=str(error)))
            if amount == 0:
                p.error("amount", _("Beløbet kan ikke være 0 (en kreditnota er et negativt beløb)."))
        description = p.text(values, "description", required=True, max_length=300)
        voucher = p.text(values, "voucher", required=True, max_length=60)
        region_text = p.text(values, "region", required=True, max_length=100)
        region_code = self.regions.get(region_text.lower()) if region_text else None
        if region_text and region_code is None:
            p.error("region", _("Ukendt region »%(value)s«. Brug koden 1081–1085 eller navnet.", value=region_text))
        if region_code is not None and not self.check_region(p, "region", region_code):
            region_code = None
        activity_id = p.whole(values, "activity_id")
        if activity_id is not None and region_code is not None and self._activity_region(activity_id) != region_code:
            p.error("activity_id", _("Aktivitet %(id)s findes ikke i regionen.", id=activity_id))
        if errors:
            return None, errors
        return ExpenseRow(region_code, spent_on, cost_line.id, amount, description, voucher, activity_id), errors

    def may_write_region(self, region_code: Optional[int]) -> bool:
        """An expense always has a region; the region rule as for the form."""
        if region_code is None:
            return False
        return super().may_write_region(region_code)

    def slot_key(self, parsed: ExpenseRow) -> Hashable:
        """The expense's identity in the finance system: region, voucher and cost line."""
        return (parsed.region_code, parsed.voucher, parsed.cost_line_id)

    def row_key(self, parsed: ExpenseRow) -> Hashable:
        return (parsed.region_code, parsed.voucher, parsed.cost_line_id, parsed.spent_on, parsed.amount_ore,
                parsed.description, parsed.activity_id)

    def existing_slots(self, slot_keys: Sequence[Hashable]) -> dict[Hashable, Hashable]:
        """The stored expenses for these (region, voucher, cost line), in chunked queries."""
        found: dict[Hashable, Hashable] = {}
        for chunk in chunked(list(slot_keys)):
            query = select(Expense.region_code, Expense.voucher, Expense.cost_line_id, Expense.spent_on,
                           Expense.amount_ore, Expense.description, Expense.activity_id).where(
                tuple_(Expense.region_code, Expense.voucher, Expense.cost_line_id).in_(chunk))
            for row in db.session.execute(query):
                found[tuple(row[:3])] = tuple(row)
        return found

    def changes(self, parsed: ExpenseRow, existing_row_key: Hashable) -> list[Change]:
        """What the row changes in the stored expense with its voucher and cost line."""
        _region, _voucher, _line, spent_on, amount, description, activity_id = existing_row_key
        found = []
        if spent_on != parsed.spent_on:
            found.append(Change("date", format_date(spent_on), format_date(parsed.spent_on)))
        if amount != parsed.amount_ore:
            found.append(Change("amount", Amount(amount), Amount(parsed.amount_ore)))
        if description != parsed.description:
            found.append(Change("description", description, parsed.description))
        if activity_id != parsed.activity_id:
            found.append(Change("activity_id", activity_id, parsed.activity_id))
        return found

    def lock_place(self, parsed: ExpenseRow) -> tuple[int, date, str]:
        """An expense is locked by its region and its date (``crm.services.period_locks``)."""
        return parsed.region_code, parsed.spent_on, "date"

    def create(self, parsed: ExpenseRow) -> None:
        """A new expense through the one funnel (a refusal there is a ``FieldError``, a ValueError:
        the framework then writes nothing)."""
        write_expense(None, parsed.data(), actor=self.actor, source=EXPENSE_SOURCE_IMPORT, locks=self.locks)
        db.session.flush()

    def update(self, parsed: ExpenseRow) -> None:
        """The stored expense with the row's figures, through the one funnel."""
        expense = db.session.scalar(select(Expense).where(
            Expense.region_code == parsed.region_code, Expense.voucher == parsed.voucher,
            Expense.cost_line_id == parsed.cost_line_id))
        if expense is None:
            raise FieldError(_("Udgiften med bilag %(voucher)s er slettet imens.", voucher=parsed.voucher))
        write_expense(expense, parsed.data(), actor=self.actor, source=EXPENSE_SOURCE_IMPORT, locks=self.locks)
        db.session.flush()
