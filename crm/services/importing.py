"""Generic spreadsheet import: read a CSV/XLSX file, check every row, then write all or the good rows.

Every import in the CRM (activities, stage changes, outcome figures…) is built on this module, so
that they all read files the same way and report problems the same way.

Reading
    ``read_table(data, filename) -> Table`` reads the bytes of an uploaded file:

    * CSV: UTF-8 with or without BOM (falls back to Windows-1252, what Danish Excel's plain
      "CSV (semikolonsepareret)" writes); the separator ``;``, ``,`` or tab is sniffed from the
      header line.
    * XLSX (``.xlsx``/``.xlsm``, or any file that starts like a zip): the first sheet, through the
      bounded reader ``crm.services.xlsx_reader`` (limits checked before parsing; read-only).
      Cells are turned into text the way the CSV would carry them (dates as ``YYYY-MM-DD``,
      whole floats without ``.0``), so row parsers only ever see strings.

    An unreadable file raises ``ImportFileError`` (message for the user).

Writing an importer
    Subclass ``Importer`` and set ``columns`` (the exact header; matched case- and
    space-insensitively, in any order). Implement:

    * ``parse_row(values, line_no) -> (parsed | None, [RowError])`` — ``values`` maps each column
      name to its stripped text ("" when empty). Return the parsed object (anything) and a list
      of problems; a row with any problem is not imported. Use the shared field parsers below
      (``FieldParser``) and ``self.check_region(...)`` for the write permission of the row.
    * ``row_key(parsed) -> Hashable`` — the row's identity: two rows with the same key in one file
      are duplicates, and a key already in the database means "already present" (skipped).
    * ``slot_key(parsed)`` (optional, default = ``row_key``) — a uniqueness slot: a different row
      for the same slot is a conflict (e.g. two different stages for one municipality and date).
    * ``existing_slots(slot_keys) -> {slot_key: row_key}`` — what the database already holds for
      these slots, in one (or a few chunked) queries.
    * ``conflict_message(parsed, existing_row_key) -> (column, message)`` (optional).
    * ``create(parsed) -> None`` — add the record(s) to ``db.session``; do not commit.
    * ``changes(parsed, existing_row_key) -> [Change]`` and ``update(parsed)`` (optional): a row
      whose slot is stored with other figures is "changed" (old → new listed, applied only when
      the user asks) rather than a conflict.
    * ``column_aliases`` (optional): other header names accepted for a column, e.g. the Danish
      ``{"dato": "date"}``; ``ignored_columns`` (optional): header names read past, e.g. the
      columns an export shows for information only.
    * ``refuse_file(tables) -> [RowError]`` (optional): problems that refuse the whole file before
      any row is checked (the outcome import's personal-data scan); with ``reads_every_sheet``
      every worksheet is read for it. ``new_result()`` (optional) returns a subclass of
      ``ImportResult`` that reports more.

    The importer is constructed with ``actor`` (the acting user whose region rights apply, checked
    per row through ``crm.services.permissions``; ``None`` means the command line, which acts as
    administrator).

Checking and applying
    ``result = check_file(importer, data, filename)`` → ``ImportResult`` with ``errors``
    (``RowError(line, column, message)``, line 1 = header), ``good_rows`` (rows that would be
    written), ``duplicates_already_present`` (rows skipped as already in the database),
    ``error_rows``, ``total_rows``, ``fatal`` (header/file problem: nothing can be imported).
    ``result.apply(mode, apply_changes=False)`` writes: ``ALL_OR_NOTHING`` (default) refuses with
    ``ImportRefused`` if there is any error; ``GOOD_ROWS_ONLY`` writes the good rows and skips the
    rest; changed rows are updated only with ``apply_changes``. One commit at
    the end; on failure everything is rolled back. ``report_lines(result)`` renders the report as
    Danish text lines (CLI).

Field parsers (``FieldParser(line_no, errors)``; each returns the value or None and records a
``RowError`` on bad input): ``date``, ``whole``, ``decimal``, ``region``, ``municipalities``,
``text``; plain functions ``parse_date_text``, ``parse_decimal_text`` for other callers.
"""
from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Hashable, Iterable, Mapping, Optional, Sequence

from crm.formatting import number_as_typed, parse_date
from crm.i18n import gettext as _
from crm.i18n import ngettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from crm.extensions import db
from crm.services.xlsx_reader import LIMITS as XLSX_LIMITS
from crm.services.xlsx_reader import XlsxRefused, read_sheets

ALL_OR_NOTHING = "all_or_nothing"
GOOD_ROWS_ONLY = "good_rows_only"
MODES = (ALL_OR_NOTHING, GOOD_ROWS_ONLY)

MAX_ROWS = 50_000
MAX_COLUMNS = XLSX_LIMITS.columns  # CSV as XLSX: a wider record is refused
MAX_RECORD_CHARS = 100_000  # one CSV record (a row, with any line breaks inside quotes)
# Dates outside this range are almost always typing errors (0205 for 2025…).
MIN_YEAR, MAX_YEAR = 1990, 2100
MAX_WHOLE = 1_000_000
MAX_DECIMAL = Decimal("100000")
IN_CHUNK = 500  # bound the size of IN (...) lists; SQLite and PostgreSQL both have limits


class ImportFileError(ValueError):
    """The file cannot be read at all (wrong format, empty…); the message is for the user."""


class ImportRefused(RuntimeError):
    """``apply`` would not write: errors in all-or-nothing mode, or a problem while writing."""


@dataclass(frozen=True, order=True)
class RowError:
    """One problem: file line (1 = header), column name (None: the whole row) and a Danish message."""

    line: int
    column: Optional[str]
    message: str

    def __str__(self) -> str:
        where = _("linje %(line)s", line=self.line)
        if self.column:
            where += ", " + _("kolonne %(column)s", column=self.column)
        return f"{where}: {self.message}"


@dataclass
class Table:
    """A file as text: the header cells and the data rows with their 1-based file line numbers."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    sheet: Optional[str] = None  # the worksheet's title (XLSX)


# --------------------------------------------------------------------------------------------
# Reading files


def read_table(data: bytes, filename: str = "") -> Table:
    """Read CSV or XLSX bytes into a ``Table`` (see the module docstring)."""
    return read_tables(data, filename, first_only=True)[0]


def read_tables(data: bytes, filename: str = "", first_only: bool = False) -> list[Table]:
    """Every table of a file: the CSV, or each worksheet of an XLSX workbook (the first one is the
    data; an empty sheet has an empty header). ``ImportFileError`` for a file that cannot be read
    or breaks a limit."""
    name = (filename or "").lower()
    if name.endswith(".xls"):
        raise ImportFileError(_("Gamle .xls-filer kan ikke læses. Gem filen som .xlsx eller CSV."))
    if not data or not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise ImportFileError(_("Filen er tom."))
    if name.endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        tables = _sheet_tables(data, first_only)
    else:
        tables = [_read_csv(data)]
    table = tables[0]
    if not any(cell.strip() for cell in table.header):
        raise ImportFileError(_("Filens første linje skal være en overskrift med kolonnenavne."))
    if len(table.rows) > MAX_ROWS:
        raise ImportFileError(_("Filen har mere end %(max)s rækker. Del den op.", max=MAX_ROWS))
    return tables


def _decode(data: bytes) -> str:
    """UTF-8 (BOM optional); else Windows-1252, which Danish Excel's plain CSV uses."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _sniff_delimiter(header_line: str) -> str:
    """The separator is whichever of ; , or tab occurs most often in the header line."""
    counts = {sep: header_line.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


_LINE = re.compile(r"[^\r\n]{0,%d}(?:\r\n|\r|\n)?" % (MAX_RECORD_CHARS + 1))


class _BoundedLines:
    """The CSV text line by line (without copying it), refusing a record longer than
    ``MAX_RECORD_CHARS`` before the csv module has built it (a quoted field can run over many
    lines); ``record_done`` resets the count."""

    def __init__(self, text: str):
        self.text = text
        self.position = 0
        self.chars = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.position >= len(self.text):
            raise StopIteration
        line = _LINE.match(self.text, self.position).group()
        self.position += len(line)
        self.chars += len(line)
        if self.chars > MAX_RECORD_CHARS:
            raise ImportFileError(_("En linje i filen er længere end %(max)s tegn. Er et anførselstegn ikke lukket?",
                                    max=MAX_RECORD_CHARS))
        return line

    def record_done(self) -> None:
        self.chars = 0


def _read_csv(data: bytes) -> Table:
    """CSV text → Table; line numbers are the line on which each record starts."""
    text = _decode(data)
    offset = len(text) - len(text[:MAX_RECORD_CHARS].lstrip("\r\n"))
    first_line = text[offset:offset + MAX_RECORD_CHARS].split("\n", 1)[0]
    lines = _BoundedLines(text)
    reader = csv.reader(lines, delimiter=_sniff_delimiter(first_line))
    header: Optional[list[str]] = None
    rows: list[tuple[int, list[str]]] = []
    previous_end = 0
    try:
        for record in reader:
            lines.record_done()
            start, previous_end = previous_end + 1, reader.line_num
            if len(record) > MAX_COLUMNS:
                if any(cell.strip() for cell in record[MAX_COLUMNS:]):
                    raise ImportFileError(_("Linje %(line)s har mere end %(max)s kolonner.", line=start,
                                            max=MAX_COLUMNS))
                record = record[:MAX_COLUMNS]
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = record
            else:
                rows.append((start, record))
                if len(rows) > MAX_ROWS:
                    break
    except csv.Error as exc:
        raise ImportFileError(_("CSV-filen kan ikke læses (linje %(line)s): %(error)s",
                                line=reader.line_num, error=str(exc)))
    if header is None:
        raise ImportFileError(_("Filen er tom."))
    return Table(header, rows)


def _sheet_tables(data: bytes, first_only: bool = False) -> list[Table]:
    """Worksheets → Tables (an empty sheet has an empty header), through the bounded reader."""
    try:
        sheets = read_sheets(data, first_only=first_only)
    except XlsxRefused as exc:
        raise ImportFileError(str(exc))
    tables = []
    for sheet in sheets:
        header = sheet.rows[0][1] if sheet.rows else []
        tables.append(Table(header, sheet.rows[1:], sheet.title))
    if not tables[0].header:
        raise ImportFileError(_("Filen er tom."))
    return tables


def _normalise_column(name: str) -> str:
    """Header cells match case- and space-insensitively ('Participants ' == 'participants')."""
    return re.sub(r"\s+", "", name or "").lower()


# --------------------------------------------------------------------------------------------
# Field parsers shared by importers

def parse_date_text(text: str) -> Optional[date]:
    """A typed date (``crm.formatting.parse_date``: ``DD-MM-YYYY`` also with . or /, or
    ``YYYY-MM-DD``) in the years an import accepts; None otherwise."""
    value = parse_date(text)
    return value if value is not None and MIN_YEAR <= value.year <= MAX_YEAR else None


def parse_decimal_text(text: str) -> Optional[Decimal]:
    """A decimal written with ``.`` or ``,`` (Danish Excel: decimal comma) → Decimal, or None."""
    text = text.strip().replace(" ", "").replace("\u00a0", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    elif "," in text and "." in text:
        # 1.234,5 (Danish thousands) or 1,234.5 (English thousands): the last one is the decimal.
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        text = text.replace(thousands, "").replace(decimal_sep, ".")
    if not re.fullmatch(r"[-+]?\d+(\.\d+)?", text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


class FieldParser:
    """Parses the cells of one row, collecting a ``RowError`` for each bad cell.

    ``p = FieldParser(line_no, errors)``; then ``p.date(values, "date", required=True)`` etc.
    Each method returns the parsed value, or None when the cell is empty or bad.
    """

    def __init__(self, line_no: int, errors: list[RowError]):
        self.line_no = line_no
        self.errors = errors

    def shown(self, text: str) -> str:
        """How a bad value is quoted back in a message (an importer that must not repeat what it
        reads, such as the outcome import, overrides this)."""
        return text

    def error(self, column: Optional[str], message: str) -> None:
        """Record a problem with this row."""
        self.errors.append(RowError(self.line_no, column, message))

    def _required(self, values: dict[str, str], column: str, required: bool) -> Optional[str]:
        """The cell's text, or None (after recording 'missing' if required) when empty."""
        text = (values.get(column) or "").strip()
        if "\x00" in text:  # never valid text, and PostgreSQL refuses to store it
            self.error(column, _("Feltet indeholder et ugyldigt tegn (NUL)."))
            return None
        if not text:
            if required:
                self.error(column, _("Skal udfyldes."))
            return None
        return text

    def text(self, values, column: str, required: bool = False, max_length: int = 300) -> Optional[str]:
        """Free text, at most ``max_length`` characters."""
        text = self._required(values, column, required)
        if text is not None and len(text) > max_length:
            self.error(column, _("Højst %(max)s tegn (her %(length)s).", max=max_length, length=len(text)))
            return None
        return text

    def date(self, values, column: str, required: bool = False) -> Optional[date]:
        """A date as ``YYYY-MM-DD`` or ``DD-MM-YYYY``."""
        text = self._required(values, column, required)
        if text is None:
            return None
        value = parse_date_text(text)
        if value is None:
            self.error(column, _("Ugyldig dato »%(value)s«. Skriv den som DD-MM-ÅÅÅÅ eller ÅÅÅÅ-MM-DD.",
                                 value=self.shown(text)))
        return value

    def whole(self, values, column: str, required: bool = False) -> Optional[int]:
        """A whole number ≥ 0."""
        text = self._required(values, column, required)
        if text is None:
            return None
        number = parse_decimal_text(text)
        if number is None or number != number.to_integral_value():
            self.error(column, _("»%(value)s« er ikke et helt tal.", value=self.shown(text)))
            return None
        if number < 0:
            self.error(column, _("Må ikke være negativ (%(value)s).", value=self.shown(text)))
            return None
        if number > MAX_WHOLE:
            self.error(column, _("Urimeligt stort tal (%(value)s).", value=self.shown(text)))
            return None
        return int(number)

    def decimal(self, values, column: str, required: bool = False, places: int = 2) -> Optional[Decimal]:
        """A decimal ≥ 0 with ``.`` or ``,``, rounded to ``places`` decimals."""
        text = self._required(values, column, required)
        if text is None:
            return None
        number = parse_decimal_text(text)
        if number is None:
            self.error(column, _("»%(value)s« er ikke et tal. Brug komma eller punktum som decimaltegn.",
                                 value=self.shown(text)))
            return None
        if number < 0:
            self.error(column, _("Må ikke være negativ (%(value)s).", value=self.shown(text)))
            return None
        if number > MAX_DECIMAL:
            self.error(column, _("Urimeligt stort tal (%(value)s).", value=self.shown(text)))
            return None
        return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)

    def region(self, values, column: str, known_codes: Iterable[int]) -> Optional[int]:
        """A region code 1081–1085, or empty (national) → None."""
        text = self._required(values, column, False)
        if text is None:
            return None
        code = _as_int(text)
        if code is None or code not in set(known_codes):
            self.error(column, _("Ukendt regionskode »%(value)s«. Brug 1081–1085, eller lad feltet stå tomt "
                                 "for en landsdækkende aktivitet.", value=self.shown(text)))
            return None
        return code

    def municipality(self, values, column: str, lookup: "MunicipalityLookup", required: bool = True) -> Optional[int]:
        """One municipality code (or name) → code."""
        text = self._required(values, column, required)
        if text is None:
            return None
        code = lookup.resolve(text)
        if code is None:
            self.error(column, _("Ukendt kommunekode »%(value)s«.", value=self.shown(text)))
        return code

    def municipalities(self, values, column: str, lookup: "MunicipalityLookup") -> list[int]:
        """Municipality codes (or names) separated by ``|`` → sorted unique codes."""
        text = self._required(values, column, False)
        if text is None:
            return []
        codes, unknown = set(), []
        for part in (p.strip() for p in text.split("|")):
            if not part:
                continue
            code = lookup.resolve(part)
            if code is None:
                unknown.append(part)
            else:
                codes.add(code)
        if unknown:
            self.error(column, _("Ukendt kommunekode: %(values)s. Adskil flere koder med |.",
                                 values=", ".join(self.shown(u) for u in unknown)))
        return sorted(codes)


def _as_int(text: str) -> Optional[int]:
    """'1084' or '1084.0' (from a spreadsheet) → 1084; None if not a whole number."""
    number = parse_decimal_text(text)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


class MunicipalityLookup:
    """Municipality codes and names (incl. known spelling variants) → code; loaded once per import."""

    def __init__(self):
        from crm.models import Municipality
        from crm.services.reference import municipality_name_lookup

        rows = db.session.execute(select(Municipality.code, Municipality.name, Municipality.region_code)).all()
        self.region_of = {code: region for code, _name, region in rows}
        self.name_of = {code: name for code, name, _region in rows}
        self.by_name = {name.lower(): code for code, name, _region in rows}
        self.by_name.update(municipality_name_lookup())

    def resolve(self, text: str) -> Optional[int]:
        """A code ('101', '0101') or a name ('København') → code, or None."""
        code = _as_int(text)
        if code is not None:
            return code if code in self.region_of else None
        return self.by_name.get(text.strip().lower())


def labels_in_every_language(labels: Mapping[str, Any]) -> dict[str, str]:
    """{label in lower case: code} for ``{code: lazy label}`` in every language of the app, so a
    file written in Danish imports on an English page and the other way round."""
    from flask import current_app
    from flask_babel import force_locale

    lookup: dict[str, str] = {}
    for locale in current_app.config["LANGUAGES"]:
        with force_locale(locale):
            lookup.update({str(label).lower(): code for code, label in labels.items()})
    return lookup


def stable_hash(*parts: Any) -> str:
    """A stable key for duplicate detection from a row's identifying fields."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunked(items: Sequence, size: int = IN_CHUNK) -> Iterable[Sequence]:
    """Slices of at most ``size`` items, for IN (...) queries."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --------------------------------------------------------------------------------------------
# Importers and the check/apply cycle


@dataclass(frozen=True)
class Change:
    """One field of a stored record that a re-imported row would change."""

    column: str
    old: Any
    new: Any


class Importer:
    """Base class for one kind of import; see the module docstring for what to implement."""

    columns: tuple[str, ...] = ()
    #: Other header names accepted for a column (the Danish headers), lower-case: {"dato": "date"}.
    column_aliases: dict[str, str] = {}
    #: Other header names that are read past without a word (an export's information-only columns).
    ignored_columns: tuple[str, ...] = ()
    #: Shown in reports and the UI ("aktiviteter", "faseændringer"); a lazy_gettext string.
    label: Any = ""

    #: Read every worksheet of a workbook (for ``refuse_file``), not only the first.
    reads_every_sheet = False

    def __init__(self, actor=None):
        self.actor = actor  # the acting user whose region rights apply; None: the command line (admin)

    def new_result(self) -> "ImportResult":
        """The empty check ``check_file`` fills in; an importer with more to report returns a
        subclass of ``ImportResult``."""
        return ImportResult(self)

    def refuse_file(self, tables: Sequence[Table]) -> list[RowError]:
        """Problems that refuse the whole file before any row is checked (none by default)."""
        return []

    def parse_row(self, values: dict[str, str], line_no: int) -> tuple[Optional[Any], list[RowError]]:
        raise NotImplementedError

    def row_key(self, parsed: Any) -> Hashable:
        raise NotImplementedError

    def slot_key(self, parsed: Any) -> Hashable:
        """Default: a row's slot is its identity (no conflicts beyond duplicates)."""
        return self.row_key(parsed)

    def existing_slots(self, slot_keys: Sequence[Hashable]) -> dict[Hashable, Hashable]:
        raise NotImplementedError

    def conflict_message(self, parsed: Any, existing_row_key: Hashable) -> tuple[Optional[str], str]:
        """(column, message) for a row that clashes with a different record already present."""
        return None, _("Rækken strider mod en registrering, der allerede findes.")

    def create(self, parsed: Any) -> None:
        raise NotImplementedError

    def changes(self, parsed: Any, existing_row_key: Hashable) -> list[Change]:
        """What the row would change in the record stored in its slot; none means a conflict."""
        return []

    def update(self, parsed: Any) -> None:
        """Write a changed row's figures onto the stored record; do not commit."""
        raise NotImplementedError

    def lock_place(self, parsed: Any) -> Optional[tuple[Optional[int], date, str]]:
        """(region, date, column) of a row's record when a submitted period can lock it (see
        ``crm.services.period_locks``); None (the default) for records no submission locks."""
        return None

    @property
    def locks(self):
        """The submitted periods' lock state, read once per import (one query)."""
        if getattr(self, "_locks", None) is None:
            from crm.services.period_locks import load_locks

            self._locks = load_locks()
        return self._locks

    def may_write_region(self, region_code: Optional[int]) -> bool:
        """The region rule for an imported row (a new record: national rows are allowed)."""
        if self.actor is None:
            return True
        from crm.services.permissions import can_write_region

        return can_write_region(region_code, None, user=self.actor)

    def check_region(self, parser: FieldParser, column: str, region_code: Optional[int]) -> bool:
        """Record 'region the user may not write' unless the user may write ``region_code``."""
        if self.may_write_region(region_code):
            return True
        parser.error(column, _("Du må ikke registrere for region %(region)s (du kan kun skrive i din egen "
                               "region).", region=region_code if region_code is not None else _("landsdækkende")))
        return False


@dataclass
class ParsedRow:
    """A row that parsed cleanly; ``status`` is 'new', 'present', 'changed' or 'error' after
    checking; ``changes`` lists what a changed row would change."""

    line: int
    parsed: Any
    key: Hashable
    slot: Hashable
    status: str = "new"
    changes: list[Change] = field(default_factory=list)


@dataclass
class ImportOutcome:
    """What ``apply`` did."""

    created: int
    skipped_present: int
    skipped_errors: int
    updated: int = 0
    skipped_changed: int = 0


@dataclass
class ImportResult:
    """The full check of one file; ``apply`` writes it."""

    importer: Importer
    total_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    rows: list[ParsedRow] = field(default_factory=list)
    fatal: bool = False  # file or header problem: nothing can be imported

    @property
    def good_rows(self) -> int:
        """Rows that would be written."""
        return sum(1 for row in self.rows if row.status == "new")

    @property
    def duplicates_already_present(self) -> int:
        """Rows skipped because the database already holds them."""
        return sum(1 for row in self.rows if row.status == "present")

    @property
    def changed_rows(self) -> int:
        """Rows whose record is stored with other figures (updated only on request)."""
        return sum(1 for row in self.rows if row.status == "changed")

    @property
    def error_rows(self) -> int:
        """Number of data lines with at least one problem."""
        return len({e.line for e in self.errors if e.line > 1 or not self.fatal})

    @property
    def ok(self) -> bool:
        return not self.errors and not self.fatal

    def apply(self, mode: str = ALL_OR_NOTHING, apply_changes: bool = False) -> ImportOutcome:
        """Write the new rows, and the changed ones if asked; one commit. Refuses (nothing
        written) if errors in all-or-nothing mode."""
        if mode not in MODES:
            raise ValueError(f"unknown import mode {mode!r}")
        if self.fatal:
            raise ImportRefused(_("Filen kan ikke importeres; ret først fejlene i overskriften/filen."))
        if self.errors and mode == ALL_OR_NOTHING:
            raise ImportRefused(ngettext("Filen har %(num)s fejl; intet er importeret.",
                                         "Filen har %(num)s fejl; intet er importeret.", len(self.errors)))
        new_rows = [row for row in self.rows if row.status == "new"]
        changed_rows = [row for row in self.rows if row.status == "changed"] if apply_changes else []
        try:
            for row in new_rows:
                self.importer.create(row.parsed)
            for row in changed_rows:
                self.importer.update(row.parsed)
            db.session.commit()
        except (IntegrityError, ValueError) as exc:
            # Someone else wrote the same records between the check and now: write nothing.
            db.session.rollback()
            raise ImportRefused(_("Importen blev afbrudt, intet er skrevet: %(error)s", error=str(exc).splitlines()[0]))
        except SQLAlchemyError:
            db.session.rollback()
            raise
        return ImportOutcome(
            created=len(new_rows),
            skipped_present=self.duplicates_already_present,
            skipped_errors=self.error_rows,
            updated=len(changed_rows),
            skipped_changed=self.changed_rows - len(changed_rows),
        )


def check_file(importer: Importer, data: bytes, filename: str = "") -> ImportResult:
    """Read and check the whole file; nothing is written. File problems, and the importer's
    ``refuse_file`` findings, become errors of a fatal result (the rows are not checked)."""
    result = importer.new_result()
    try:
        tables = read_tables(data, filename, first_only=not importer.reads_every_sheet)
    except ImportFileError as exc:
        result.fatal = True
        result.errors.append(RowError(1, None, str(exc)))
        return result
    refusal = importer.refuse_file(tables)
    if refusal:
        result.fatal = True
        result.total_rows = len(tables[0].rows)
        result.errors = refusal
        return result
    return check_table(importer, tables[0], result)


def _map_header(importer: Importer, header: list[str], result: ImportResult) -> dict[str, int]:
    """Column name → index; missing, unknown and repeated columns become line-1 errors."""
    wanted = {_normalise_column(c): c for c in importer.columns}
    wanted.update({_normalise_column(alias): c for alias, c in importer.column_aliases.items()})
    ignored = {_normalise_column(name) for name in importer.ignored_columns} - set(wanted)
    positions: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = _normalise_column(cell)
        if not key or key in ignored:
            continue
        if key not in wanted:
            result.errors.append(RowError(1, cell.strip(), _("Ukendt kolonne. Tilladte kolonner: %(columns)s.",
                                                             columns=", ".join(importer.columns))))
        elif wanted[key] in positions:
            result.errors.append(RowError(1, wanted[key], _("Kolonnen står der to gange.")))
        else:
            positions[wanted[key]] = index
    for column in importer.columns:
        if column not in positions:
            result.errors.append(RowError(1, column, _("Kolonnen mangler i overskriften.")))
    if result.errors:
        result.fatal = True
    return positions


def check_table(importer: Importer, table: Table, result: Optional[ImportResult] = None) -> ImportResult:
    """Check a table already read: header, each row, duplicates in the file, what is already present."""
    result = result or importer.new_result()
    positions = _map_header(importer, table.header, result)
    result.total_rows = len(table.rows)
    if result.fatal:
        return result
    width = len(table.header)
    for line_no, record in table.rows:
        row_errors: list[RowError] = []
        if len(record) > width and any(cell.strip() for cell in record[width:]):
            row_errors.append(RowError(line_no, None, _("Linjen har flere felter end overskriften "
                                                        "(er der et skilletegn i en tekst uden anførselstegn?).")))
        values = {col: (record[i].strip() if i < len(record) else "") for col, i in positions.items()}
        parsed, problems = importer.parse_row(values, line_no)
        row_errors.extend(problems)
        if row_errors or parsed is None:
            result.errors.extend(row_errors)
            continue
        result.rows.append(ParsedRow(line_no, parsed, importer.row_key(parsed), importer.slot_key(parsed)))
    # Against the database first: a clash with a stored record is the more useful message.
    _mark_existing(importer, result)
    _mark_locked(importer, result)
    _mark_duplicates_in_file(result)
    # Report row by row, each row's problems in the file's column order.
    order = {column: index for index, column in enumerate(importer.columns)}
    result.errors.sort(key=lambda e: (e.line, order.get(e.column, -1)))
    return result


def _mark_duplicates_in_file(result: ImportResult) -> None:
    """A second row with the same identity (or the same slot with other content) is an error."""
    first_by_slot: dict[Hashable, ParsedRow] = {}
    for row in result.rows:
        if row.status == "error":
            continue
        first = first_by_slot.get(row.slot)
        if first is None:
            first_by_slot[row.slot] = row
            continue
        row.status = "error"
        if first.key == row.key:
            message = _("Dobbeltrække: samme som linje %(line)s.", line=first.line)
        else:
            message = _("Strider mod linje %(line)s (samme kommune og dato, andet indhold).", line=first.line)
        result.errors.append(RowError(row.line, None, message))


def _mark_existing(importer: Importer, result: ImportResult) -> None:
    """Rows already in the database are skipped; a different record in the same slot is an error."""
    candidates = [row for row in result.rows if row.status == "new"]
    if not candidates:
        return
    existing = importer.existing_slots(list(dict.fromkeys(row.slot for row in candidates)))
    for row in candidates:
        if row.slot not in existing:
            continue
        if existing[row.slot] == row.key:
            row.status = "present"
        elif changes := importer.changes(row.parsed, existing[row.slot]):
            row.status, row.changes = "changed", changes
        else:
            row.status = "error"
            column, message = importer.conflict_message(row.parsed, existing[row.slot])
            result.errors.append(RowError(row.line, column, message))


def _mark_locked(importer: Importer, result: ImportResult) -> None:
    """A row that would create or change a record dated in a submitted, locked period is an error
    (the lock state is read once for the whole file)."""
    for row in result.rows:
        if row.status not in ("new", "changed"):
            continue
        place = importer.lock_place(row.parsed)
        if place is None:
            continue
        lock = importer.locks.lock_for(place[0], place[1])
        if lock is not None:
            row.status = "error"
            result.errors.append(RowError(row.line, place[2], lock.message()))


def report_lines(result: ImportResult) -> list[str]:
    """The check report as plain Danish lines (for the command line)."""
    lines = [_("Rækker i filen: %(total)s. Klar til import: %(good)s. Findes allerede (springes over): "
               "%(present)s. Findes med andre tal, ændret: %(changed)s. Rækker med fejl: %(bad)s.",
               total=result.total_rows, good=result.good_rows, present=result.duplicates_already_present,
               changed=result.changed_rows, bad=result.error_rows)]
    lines.extend(str(error) for error in result.errors)
    for row in result.rows:
        if row.status == "changed":
            lines.append(_("Linje %(line)s ændrer: %(changes)s", line=row.line, changes="; ".join(
                f"{change.column} {format_change_value(change.old)} → {format_change_value(change.new)}"
                for change in row.changes)))
    return lines


def format_change_value(value: Any) -> str:
    """A stored or imported value as people write it: empty as '–', decimals with a comma."""
    if value is None or value == "":
        return "–"
    if isinstance(value, Decimal):
        return number_as_typed(value)
    return str(value)


