"""Outcome monitoring: STAR's quarterly aggregate figures per municipality, their import, and the
shares against the programme's targets.

Only aggregate numbers are held, never data about individual citizens. Every sheet of a workbook
is read; a file that looks like it contains personal data (a column named like a CPR number or a
name, or any cell, the header included, holding a CPR number as people write it: ``ddmmyy-xxxx``,
``ddmmyyxxxx``, ``ddmmyy xxxx``, ``dd.mm.yy-xxxx``, ``dd-mm-yy-xxxx``, with a real date) is refused
outright, before any row is checked; so is a workbook with another non-empty sheet, and a column
that is not one of the documented ones (so a name column cannot slip in). Findings name the line
and column, never the value; row errors quote back only values that cannot be personal. Nothing
of a refused file is kept: the views store an upload for the confirm step only after this check.

The import is built on ``crm.services.importing``: ``check_file(OutcomeImporter(actor), data,
filename)`` checks a file (an ``OutcomeCheck``, with the personal-data refusal as the importer's
``refuse_file``) and ``apply`` writes it. Columns
``municipality,quarter,citizens,with_paid_hours,with_employment,with_education,
ever_paid_hours_or_education``; ``quarter`` as ``2025Q3`` between 2020Q1 and the quarter after the
current one. A row for a (municipality, quarter) already stored with the same figures is skipped
as already present; with different figures it updates the stored row (STAR revises figures).

Shares (see the explanation on the outcome page):

* current share = min(with_paid_hours + with_education, citizens) / citizens. STAR delivers the two
  counts separately and a citizen can be in both, so the sum (capped at the number of citizens) is
  an upper bound of "in paid hours or education"; the union cannot be derived from aggregates.
* cumulative share = ever_paid_hours_or_education / citizens.

Regions and the nation sum the municipalities' counts (in SQL) before dividing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Hashable, Optional, Sequence

from flask import current_app
from crm.clock import local_today
from openpyxl.utils import get_column_letter
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from sqlalchemy import bindparam, case, func, select, tuple_
from sqlalchemy.orm import joinedload

from crm.extensions import db
from crm.models import Municipality, OutcomeQuarter, Region
from crm.models.mixins import utcnow
from crm.services.importing import FieldParser, Importer, ImportResult, MunicipalityLookup, RowError, Table, chunked

FIRST_QUARTER = "2020Q1"
COUNT_COLUMNS = ("citizens", "with_paid_hours", "with_employment", "with_education", "ever_paid_hours_or_education")
COLUMNS = ("municipality", "quarter") + COUNT_COLUMNS
EXAMPLE_ROW = ("751", "2025Q3", "120", "38", "21", "9", "66")
_QUARTER = re.compile(r"^(\d{4})\s*[-/ ]?\s*[Qq]\s*([1-4])$")

# --- Quarters -------------------------------------------------------------------------------


def quarter_of(day: date) -> str:
    """The quarter a date falls in, e.g. 2025-08-14 → '2025Q3'."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def shift_quarter(quarter: str, steps: int) -> str:
    """The quarter ``steps`` quarters after (or before, if negative) ``quarter``."""
    year, number = int(quarter[:4]), int(quarter[5])
    index = year * 4 + number - 1 + steps
    return f"{index // 4}Q{index % 4 + 1}"


def quarter_range(today: Optional[date] = None) -> tuple[str, str]:
    """The quarters an import accepts: 2020Q1 up to the quarter after the current one."""
    return FIRST_QUARTER, shift_quarter(quarter_of(today or local_today()), 1)


def parse_quarter(text: str) -> Optional[str]:
    """'2025Q3' (also '2025 Q3', '2025-q3') → '2025Q3'; None if not a quarter."""
    match = _QUARTER.match((text or "").strip())
    return f"{match.group(1)}Q{match.group(2)}" if match else None


def quarter_label(quarter: str) -> str:
    """'2025Q3' → '3. kvt. 2025' (Danish) for headings."""
    return _("%(n)s. kvt. %(year)s", n=quarter[5], year=quarter[:4])


# --- Personal data ----------------------------------------------------------------------------

# Header words that name personal data (compared without spaces, dashes, dots or underscores).
PERSONAL_HEADER_WORDS = frozenset({
    "cpr", "cprnr", "cprnummer", "cprno", "personnummer", "personnr", "navn", "name", "names", "fornavn",
    "efternavn", "mellemnavn", "fuldtnavn", "fuldenavn", "borgernavn", "fødselsdato", "foedselsdato",
    "fodselsdato", "fødselsdag", "birth", "birthdate", "birthday", "dateofbirth", "dob", "firstname",
    "lastname", "surname", "fullname", "ssn",
})
# CPR numbers as people write them: ddmmyy-xxxx, ddmmyyxxxx, ddmmyy xxxx, dd.mm.yy-xxxx, dd-mm-yy-xxxx
# (the date's two separators alike: none, '.', '-' or '/'; then none, '-', '.' or a space).
_CPR = re.compile(r"(?<!\d)(\d{2})([./-]?)(\d{2})\2(\d{2})[-.\s]?(\d{4})(?!\d)")
# Values a row error may quote back: numbers, quarters, dates; anything else (a name) is not repeated.
_SHOWABLE = re.compile(r"[0-9QqKk .,:/+-]{1,20}")
SHEET_COLUMNS = frozenset(COLUMNS)


def _header_words(cell: str) -> set[str]:
    """A header cell's words and its compact form, lower-cased ('CPR-nr.' → {'cpr', 'nr', 'cprnr'})."""
    text = (cell or "").strip().lower()
    words = {w for w in re.split(r"[^0-9a-zæøåäöü]+", text) if w}
    compact = re.sub(r"[^0-9a-zæøåäöü]+", "", text)
    return words | ({compact} if compact else set())


def header_looks_personal(cell: str) -> bool:
    """A column named like personal data: cpr, cpr-nr, personnummer, navn, name, fødselsdato…"""
    words = _header_words(cell)
    return bool(words & PERSONAL_HEADER_WORDS) or any(w.startswith("cpr") for w in words)


def _valid_day_month(day: int, month: int, year2: int) -> bool:
    """Is DD-MM a real date in 19YY or 20YY (so 29-02 only counts in a leap year)?"""
    for century in (1900, 2000):
        try:
            date(century + year2, month, day)
            return True
        except ValueError:
            continue
    return False


def cell_looks_like_cpr(cell: str) -> bool:
    """DDMMYY-XXXX or ten digits starting with a valid date; also nine digits (a spreadsheet that
    dropped the leading zero of a CPR number stored as a number)."""
    text = (cell or "").strip()
    if re.fullmatch(r"\d{9}", text):
        text = "0" + text
    for match in _CPR.finditer(text):
        day, month, year2 = int(match.group(1)), int(match.group(3)), int(match.group(4))
        if _valid_day_month(day, month, year2):
            return True
    return False


def _column_label(table: Table, index: int, sheet_no: int) -> str:
    """How a finding names its column without repeating what the file holds: the documented column
    name, else the spreadsheet letter (A, B…), with the sheet's number after the first sheet."""
    header = table.header[index].strip() if index < len(table.header) else ""
    if sheet_no == 1 and re.sub(r"\s+", "", header).lower() in SHEET_COLUMNS:
        return re.sub(r"\s+", "", header).lower()
    letter = get_column_letter(index + 1)
    return letter if sheet_no == 1 else _("%(column)s på ark %(sheet)s", column=letter, sheet=sheet_no)


def personal_data_findings(tables: Sequence[Table]) -> list[RowError]:
    """Where the file looks like it holds personal data, in every sheet and every cell (the header
    too); the values themselves are never repeated, only the line and column."""
    findings = []
    for sheet_no, table in enumerate(tables, start=1):
        for index, cell in enumerate(table.header):
            if cell_looks_like_cpr(cell):
                findings.append(RowError(1, _column_label(table, index, sheet_no), _("Feltet ligner et CPR-nummer.")))
            elif header_looks_personal(cell):
                column = cell.strip() if sheet_no == 1 else _column_label(table, index, sheet_no)
                findings.append(RowError(1, column, _("Kolonnenavnet tyder på personoplysninger.")))
        for line_no, record in table.rows:
            for index, cell in enumerate(record):
                if cell_looks_like_cpr(cell):
                    findings.append(RowError(line_no, _column_label(table, index, sheet_no),
                                             _("Feltet ligner et CPR-nummer.")))
                elif sheet_no > 1 and header_looks_personal(cell):
                    findings.append(RowError(line_no, _column_label(table, index, sheet_no),
                                             _("Feltet tyder på personoplysninger.")))
    return findings


def other_sheet_errors(tables: Sequence[Table]) -> list[RowError]:
    """Only the first sheet may hold anything: another non-empty sheet is an error (by number)."""
    return [RowError(1, None, _("Ark %(sheet)s i regnearket har indhold. Kun det første ark må have indhold; "
                                "slet de andre ark, og upload filen igen.", sheet=sheet_no))
            for sheet_no, table in enumerate(tables, start=1) if sheet_no > 1 and (table.header or table.rows)]


def personal_data_message() -> str:
    """Why a file with personal data is refused (shown above the findings)."""
    return _("Filen er afvist, fordi den ser ud til at indeholde personoplysninger (CPR-numre eller navne). "
             "CRM'et indeholder ingen data om enkelte borgere, kun STARs samlede tal pr. kommune og kvartal. "
             "Intet fra filen er gemt. Slet kolonnerne med personoplysninger, og upload filen igen.")


# --- The importer ----------------------------------------------------------------------------


class QuietFieldParser(FieldParser):
    """Field parsing that quotes back only values that cannot be personal (numbers, quarters)."""

    def shown(self, text: str) -> str:
        return text if _SHOWABLE.fullmatch(text) else _("(værdien vises ikke)")


@dataclass(frozen=True)
class OutcomeRow:
    """One parsed row: a municipality's figures for one quarter."""

    municipality_code: int
    quarter: str
    citizens: int
    with_paid_hours: int
    with_employment: int
    with_education: int
    ever_paid_hours_or_education: int

    def counts(self) -> tuple[int, ...]:
        """The five counts in column order."""
        return tuple(getattr(self, name) for name in COUNT_COLUMNS)


def _key_of(code: int, quarter: str, counts: Sequence[int]) -> tuple:
    """A row's identity: municipality, quarter and all its figures."""
    return (code, quarter, *counts)


class OutcomeCheck(ImportResult):
    """The check of an outcome file; ``personal_data`` when it was refused for personal data."""

    @property
    def personal_data(self) -> bool:
        """The file was refused because it looks like it holds personal data."""
        return self.importer.found_personal_data

    @property
    def updates(self) -> int:
        """Good rows that will update a stored row rather than add one."""
        slots = self.importer.updates
        return sum(1 for row in self.rows if row.status == "new" and row.slot in slots)

    @property
    def additions(self) -> int:
        """Good rows that will add a new row."""
        return self.good_rows - self.updates


class OutcomeImporter(Importer):
    """STAR's quarterly figures; ambassadors import only their own region's municipalities."""

    label = _l("resultattal")
    columns = COLUMNS
    reads_every_sheet = True  # personal data or anything else on another sheet refuses the file

    def __init__(self, actor=None, today: Optional[date] = None):
        """``actor`` None means the command line (administrator); ``today`` fixes the quarter range."""
        super().__init__(actor)
        self.found_personal_data = False
        self.municipalities = MunicipalityLookup()
        self.first_quarter, self.last_quarter = quarter_range(today)
        self._seen: dict[tuple[int, str], tuple[int, tuple]] = {}  # slot → (line, key) in this file
        self._stored: dict[tuple[int, str], OutcomeQuarter] = {}
        self.updates: set[tuple[int, str]] = set()  # slots whose stored figures differ (will update)
        self.created = 0
        self.updated = 0

    def new_result(self) -> OutcomeCheck:
        return OutcomeCheck(self)

    def refuse_file(self, tables: Sequence[Table]) -> list[RowError]:
        """Personal data anywhere refuses the file (reason first, then where, never the values);
        so does another non-empty sheet."""
        findings = personal_data_findings(tables)
        if findings:
            self.found_personal_data = True
            return [RowError(1, None, personal_data_message())] + findings
        return other_sheet_errors(tables)

    def parse_row(self, values: dict[str, str], line_no: int) -> tuple[Optional[OutcomeRow], list[RowError]]:
        """Check one row: known municipality the user may write, quarter in range, counts ≥ 0 and
        none above ``citizens``, and no other row for the same municipality and quarter."""
        errors: list[RowError] = []
        p = QuietFieldParser(line_no, errors)
        code = p.municipality(values, "municipality", self.municipalities)
        if code is not None:
            self.check_region(p, "municipality", self.municipalities.region_of[code])
        quarter = self._quarter(p, values)
        counts = {name: p.whole(values, name, required=True) for name in COUNT_COLUMNS}
        citizens = counts["citizens"]
        for name in COUNT_COLUMNS[1:]:
            if citizens is not None and counts[name] is not None and counts[name] > citizens:
                p.error(name, _("%(value)s er større end antallet af borgere (citizens = %(citizens)s).",
                                value=counts[name], citizens=citizens))
        if errors:
            return None, errors
        row = OutcomeRow(code, quarter, *(counts[name] for name in COUNT_COLUMNS))
        self._check_repeat(p, row, line_no)
        return (None, errors) if errors else (row, errors)

    def _quarter(self, p: FieldParser, values: dict[str, str]) -> Optional[str]:
        """The quarter cell, normalised to '2025Q3' and within the accepted range."""
        text = p.text(values, "quarter", required=True, max_length=20)
        if text is None:
            return None
        quarter = parse_quarter(text)
        if quarter is None:
            p.error("quarter", _("Ugyldigt kvartal »%(value)s«. Skriv det som ÅÅÅÅQn, fx 2025Q3.", value=p.shown(text)))
        elif not self.first_quarter <= quarter <= self.last_quarter:
            p.error("quarter", _("Kvartalet %(value)s ligger uden for det tilladte interval %(first)s–%(last)s.",
                                 value=quarter, first=self.first_quarter, last=self.last_quarter))
            return None
        return quarter

    def _check_repeat(self, p: FieldParser, row: OutcomeRow, line_no: int) -> None:
        """A second row for the same municipality and quarter is an error (with the first line)."""
        slot, key = self.slot_key(row), self.row_key(row)
        if slot not in self._seen:
            self._seen[slot] = (line_no, key)
            return
        first_line, first_key = self._seen[slot]
        if first_key == key:
            p.error(None, _("Dobbeltrække: samme som linje %(line)s.", line=first_line))
        else:
            p.error(None, _("Strider mod linje %(line)s: samme kommune og kvartal med andre tal.", line=first_line))

    def row_key(self, parsed: OutcomeRow) -> Hashable:
        """Municipality, quarter and figures: the same row again is 'already present'."""
        return _key_of(parsed.municipality_code, parsed.quarter, parsed.counts())

    def slot_key(self, parsed: OutcomeRow) -> Hashable:
        """One row per municipality and quarter."""
        return (parsed.municipality_code, parsed.quarter)

    def existing_slots(self, slot_keys: Sequence[Hashable]) -> dict[Hashable, Hashable]:
        """Stored rows for these (municipality, quarter) pairs. Only those with the file's very
        figures are reported as present; the others are remembered and updated by ``create``."""
        found: dict[Hashable, Hashable] = {}
        for chunk in chunked(list(slot_keys)):
            query = select(OutcomeQuarter).where(
                tuple_(OutcomeQuarter.municipality_code, OutcomeQuarter.quarter).in_(chunk))
            for stored in db.session.scalars(query):
                slot = (stored.municipality_code, stored.quarter)
                stored_key = _key_of(stored.municipality_code, stored.quarter,
                                     [getattr(stored, name) for name in COUNT_COLUMNS])
                self._stored[slot] = stored
                if self._seen.get(slot, (0, None))[1] == stored_key:
                    found[slot] = stored_key
                else:
                    self.updates.add(slot)
        return found

    def create(self, parsed: OutcomeRow) -> None:
        """Add the quarter's row, or update the stored one whose figures differ (through the ORM)."""
        stored = self._stored.get(self.slot_key(parsed))
        if stored is None:
            db.session.add(OutcomeQuarter(municipality_code=parsed.municipality_code, quarter=parsed.quarter,
                                          **{name: getattr(parsed, name) for name in COUNT_COLUMNS}))
            self.created += 1
            return
        for name in COUNT_COLUMNS:
            if getattr(stored, name) != getattr(parsed, name):
                setattr(stored, name, getattr(parsed, name))
        stored.imported_at = utcnow()
        self.updated += 1


# --- Shares against the targets ---------------------------------------------------------------


def targets() -> tuple[float, float]:
    """(current, cumulative) targets in per cent, from the settings."""
    return (float(current_app.config["OUTCOME_TARGET_CURRENT_PCT"]),
            float(current_app.config["OUTCOME_TARGET_CUMULATIVE_PCT"]))


def _percent(part: int, whole: int) -> Optional[float]:
    """part/whole in per cent; None when there is nothing to divide by."""
    return 100.0 * part / whole if whole else None


# In paid hours or education now: the two counts summed, capped at the number of citizens.
CURRENT_COUNT = case(
    (OutcomeQuarter.with_paid_hours + OutcomeQuarter.with_education > OutcomeQuarter.citizens,
     OutcomeQuarter.citizens),
    else_=OutcomeQuarter.with_paid_hours + OutcomeQuarter.with_education,
)


@dataclass
class Shares:
    """Summed counts of some municipalities in one quarter, and the shares against the targets."""

    citizens: int = 0
    current: int = 0
    ever: int = 0
    municipalities: int = 0
    target_current: float = 0.0
    target_cumulative: float = 0.0

    @property
    def current_pct(self) -> Optional[float]:
        """Share in paid hours or education now, per cent."""
        return _percent(self.current, self.citizens)

    @property
    def cumulative_pct(self) -> Optional[float]:
        """Share ever in paid hours or education, per cent."""
        return _percent(self.ever, self.citizens)

    @property
    def below_current(self) -> bool:
        """Below the current-share target."""
        return self.current_pct is not None and self.current_pct < self.target_current

    @property
    def below_cumulative(self) -> bool:
        """Below the cumulative-share target."""
        return self.cumulative_pct is not None and self.cumulative_pct < self.target_cumulative

    @property
    def below_target(self) -> bool:
        """Below at least one of the two targets."""
        return self.below_current or self.below_cumulative

    def add(self, other: "Shares") -> None:
        """Add another area's counts (regions → nation)."""
        self.citizens += other.citizens
        self.current += other.current
        self.ever += other.ever
        self.municipalities += other.municipalities


def _shares(citizens, current, ever, count=1) -> Shares:
    """Summed counts (from SQL, possibly NULL) as ``Shares`` with today's targets."""
    target_current, target_cumulative = targets()
    return Shares(int(citizens or 0), int(current or 0), int(ever or 0), int(count or 0),
                  target_current, target_cumulative)


def quarters() -> list[str]:
    """Quarters with figures, newest first (one query)."""
    return list(db.session.scalars(
        select(OutcomeQuarter.quarter).distinct().order_by(OutcomeQuarter.quarter.desc())))


@dataclass
class MunicipalityOutcome:
    """One municipality's figures in a quarter, with its shares."""

    row: OutcomeQuarter
    shares: Shares

    @property
    def municipality(self) -> Municipality:
        """The municipality (loaded with the row)."""
        return self.row.municipality


def municipality_outcomes(quarter: str, region_code: Optional[int] = None) -> list[MunicipalityOutcome]:
    """Every municipality's figures for ``quarter`` (optionally one region), by region and name (one query)."""
    query = (select(OutcomeQuarter).join(Municipality, Municipality.code == OutcomeQuarter.municipality_code)
             .where(OutcomeQuarter.quarter == quarter)
             .options(joinedload(OutcomeQuarter.municipality).joinedload(Municipality.region))
             .order_by(Municipality.region_code, Municipality.name))
    if region_code is not None:
        query = query.where(Municipality.region_code == region_code)
    return [MunicipalityOutcome(row, _shares(row.citizens, min(row.with_paid_hours + row.with_education, row.citizens),
                                             row.ever_paid_hours_or_education))
            for row in db.session.scalars(query)]


@dataclass
class RegionTrend:
    """Per quarter (oldest first): each region's and the nation's shares."""

    quarters: list[str] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    by_region: dict[tuple[str, int], Shares] = field(default_factory=dict)
    nation: dict[str, Shares] = field(default_factory=dict)

    def latest(self, quarter: str) -> tuple[list[tuple[Region, Shares]], Shares]:
        """Each region's shares and the nation's in ``quarter``."""
        empty = _shares(0, 0, 0, 0)
        return ([(r, self.by_region.get((quarter, r.code), empty)) for r in self.regions],
                self.nation.get(quarter, empty))


def trend() -> RegionTrend:
    """Sums per quarter and region computed by the database (two queries: sums, regions)."""
    rows = db.session.execute(
        select(OutcomeQuarter.quarter, Municipality.region_code, func.sum(OutcomeQuarter.citizens),
               func.sum(CURRENT_COUNT), func.sum(OutcomeQuarter.ever_paid_hours_or_education),
               func.count(OutcomeQuarter.id))
        .join(Municipality, Municipality.code == OutcomeQuarter.municipality_code)
        .group_by(OutcomeQuarter.quarter, Municipality.region_code)
        .order_by(OutcomeQuarter.quarter)
    ).all()
    result = RegionTrend(regions=list(db.session.scalars(select(Region).order_by(Region.code))))
    for quarter, region_code, citizens, current, ever, count in rows:
        shares = _shares(citizens, current, ever, count)
        result.by_region[(quarter, region_code)] = shares
        if quarter not in result.nation:
            result.quarters.append(quarter)
            result.nation[quarter] = _shares(0, 0, 0, 0)
        result.nation[quarter].add(shares)
    return result


@cache
def _recent_query():
    """The statement behind ``recent_for_municipality`` (built once per process)."""
    return (select(OutcomeQuarter).where(OutcomeQuarter.municipality_code == bindparam("code"))
            .order_by(OutcomeQuarter.quarter.desc()).limit(bindparam("limit")))


def recent_for_municipality(code: int, limit: int = 4) -> list[tuple[OutcomeQuarter, Shares]]:
    """A municipality's latest quarters, newest first, with shares (one query; the page panel)."""
    rows = db.session.scalars(_recent_query(), {"code": code, "limit": limit})
    return [(r, _shares(r.citizens, min(r.with_paid_hours + r.with_education, r.citizens),
                        r.ever_paid_hours_or_education)) for r in rows]

