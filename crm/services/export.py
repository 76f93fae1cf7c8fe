"""Every CSV and XLSX file the CRM writes: the list exports, the status report (page, CLI, frozen
submissions, half-year mail), the fidelity review and the import templates. Nothing else in
``crm/`` writes either format.

Exports are data, never code. What a cell holds follows the Python type of the value, never what
its text looks like:

- ``str`` (and anything else not listed below) is text. XLSX: a text cell, so
  ``=HYPERLINK("http://evil.example","x")`` is those characters, never a formula, error value or
  link; characters XML cannot carry (control characters, CR) go in as OOXML ``_xHHHH_`` escapes,
  which Excel shows as the original; text is cut at Excel's 32 767 characters per cell. CSV: a
  field whose first character is ``= + - @``, tab, CR or NUL gets a leading single quote
  (OWASP's CSV-injection advice; ASVS 5.0 1.2.10 adds NUL), in every field, header included. The
  quote stays visible in the cell: that is the price of never running it.
- ``int``, ``float``, ``Decimal`` (not ``bool``) are numbers. XLSX: a number cell. CSV: the digits
  as Python writes them (``-2.5``; a ``Decimal`` through ``float``, as before), never prefixed: a
  negative number is data and Excel reads it as a number, not a formula. Text that merely looks
  like a number (a title ``-1``) is text and is prefixed like any other.
- ``date``/``datetime``: XLSX a date cell shown 23-11-2026; CSV ISO 8601 (2026-11-23).
- ``None``: an empty cell or field.

CSV comes in two dialects, with the same neutralisation of text in both:

- machine (``format=csv``, the default of ``csv_bytes``): ``,``, ISO dates, decimal point
  (``12.5``): the documented formats (the status report's ``metric,1081,…,total``, the CLI).
- Danish Excel (``format=csv-excel``, ``csv_bytes(..., excel=True)``), the button people click:
  ``;``, dates ``23-11-2026`` (timestamps ``23-11-2026 14:05`` in Danish time), decimal comma
  (``12,5``), no thousands separator, so Danish Excel opens it in columns with numbers as numbers,
  and the activity import reads it back unchanged.

XLSX is written by one library, XlsxWriter, with its string-guessing switched off
(``strings_to_formulas``/``_urls``/``_numbers``) and every cell written by a typed call
(``write_string``/``write_number``), so no path depends on the switches alone. openpyxl only reads
uploaded workbooks: written with openpyxl (write-only mode, cells typed as text), the status report
at 100 000 activities took 1.09 s CPU against XlsxWriter's 0.61 s in the same run, over the 1 s target.

CSV is UTF-8 with a BOM (so Danish Excel opens æøå correctly), comma-separated, quoted where needed
(``csv.QUOTE_MINIMAL``), CRLF line ends; ``delimiter`` is a parameter for other dialects.
"""
import csv
import gc
import io
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Iterator, Optional, Sequence

import xlsxwriter

from crm.formatting import format_date, format_datetime

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_EXCEL = "csv-excel"  # the Danish Excel dialect, as ``?format=`` says it
CSV_FORMATS = ("csv", CSV_EXCEL)
EXPORT_FORMATS = ("csv", CSV_EXCEL, "xlsx")  # what a list page's ``?format=`` accepts

# A CSV text field starting with one of these is read as a formula (or, for tab/CR/NUL, can hide one).
CSV_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
NUMBER_TYPES = (int, float, Decimal)

# XlsxWriter must never guess a type from a string; the typed write calls below don't ask it to.
WORKBOOK_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                    "strings_to_numbers": False}
FORMATS = {
    "title": {"bold": True, "font_size": 14},
    "header": {"bold": True, "bg_color": "#DCE6F0", "bottom": 1, "text_wrap": True, "valign": "top"},
    "int": {"num_format": "0"},
    "dec": {"num_format": "0.0"},
    "kr": {"num_format": '#,##0.00 "kr."'},  # an amount in kroner (the grant's accounts)
    "bold": {"bold": True},
    "date": {"num_format": "dd-mm-yyyy"},
    "wrap": {"text_wrap": True, "valign": "top"},
}
SHEET_TITLE_MAX = 31  # Excel's limit


def is_number(value: Any) -> bool:
    """A value written as a number (bool is not one, though Python says it is an int)."""
    return isinstance(value, NUMBER_TYPES) and not isinstance(value, bool)


# --- CSV ------------------------------------------------------------------------------------------


def csv_field(value: Any) -> str:
    """One CSV field by the rules above: numbers as digits, dates ISO, text neutralised."""
    if value is None:
        return ""
    if is_number(value):
        return str(float(value) if isinstance(value, Decimal) else value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    if text.startswith(CSV_FORMULA_TRIGGERS):
        return "'" + text
    return text


def csv_text(field: str) -> str:
    """A text field as ``csv_field`` wrote it, back to the text (the import's inverse): the quote
    put before ``= + - @``, tab, CR or NUL is taken off again; any other field is left as it is."""
    if field[:1] == "'" and field[1:2] and field[1:2] in CSV_FORMULA_TRIGGERS:
        return field[1:]
    return field


def excel_csv_field(value: Any) -> str:
    """One field of the Danish Excel dialect: decimal comma, dates 23-11-2026, timestamps in Danish
    time; text (and None) exactly as ``csv_field`` writes it, neutralisation included."""
    if is_number(value):
        return csv_field(value).replace(".", ",")
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    return csv_field(value)


def csv_bytes(header: Sequence[Any], rows: Iterable[Sequence[Any]], *, delimiter: Optional[str] = None,
              excel: bool = False) -> bytes:
    """UTF-8 CSV with BOM and CRLF: the header, then the rows. Machine dialect (``,``, every field
    through ``csv_field``) or, with ``excel``, the Danish one (``;``, ``excel_csv_field``)."""
    field = excel_csv_field if excel else csv_field
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter or (";" if excel else ","))
    writer.writerow([field(v) for v in header])
    for row in rows:
        writer.writerow([field(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- XLSX -----------------------------------------------------------------------------------------


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run a large workbook's writing without Python's cyclic garbage collector.

    XlsxWriter keeps one small tuple per cell until the file is closed: a report's ~60 000 cells
    made the collector pass over everything already alive (the app, SQLAlchemy's metadata) again
    and again, a third of the status report XLSX's time. None of them forms a reference cycle;
    reference counting frees them all, and the collector runs as before afterwards (left off
    only if it was already off).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class XlsxBook:
    """A workbook written in memory. ``sheet()`` adds sheets in order; ``to_bytes()`` finishes it."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._workbook = xlsxwriter.Workbook(self._buffer, WORKBOOK_OPTIONS)
        self.formats = {name: self._workbook.add_format(properties) for name, properties in FORMATS.items()}

    def sheet(self, title: str) -> "XlsxSheet":
        """A new sheet; the title is cut at Excel's 31 characters."""
        return XlsxSheet(self, self._workbook.add_worksheet(str(title)[:SHEET_TITLE_MAX]))

    def to_bytes(self) -> bytes:
        """Close the workbook and return the file."""
        self._workbook.close()
        return self._buffer.getvalue()


class XlsxSheet:
    """One sheet: every cell written by the type of its value (see the module docstring).

    Rows and columns count from 0; ``fmt`` names one of ``FORMATS`` (or None).
    """

    def __init__(self, book: XlsxBook, worksheet) -> None:
        self._formats = book.formats
        self._worksheet = worksheet

    def _format(self, name: Optional[str]):
        return self._formats[name] if name else None

    def write(self, row: int, col: int, value: Any, fmt: Optional[str] = None) -> None:
        """One cell: text as text, numbers as numbers, dates as dates (23-11-2026), None empty."""
        self._write(row, col, value, self._format(fmt))

    def _write(self, row: int, col: int, value: Any, cell_format) -> None:
        worksheet = self._worksheet
        if value is None:
            if cell_format is not None:
                worksheet.write_blank(row, col, None, cell_format)
        elif is_number(value):
            worksheet.write_number(row, col, float(value) if isinstance(value, Decimal) else value, cell_format)
        elif isinstance(value, (date, datetime)):
            on = value.date() if isinstance(value, datetime) else value  # a date cell: the day only
            worksheet.write_datetime(row, col, on, cell_format or self._formats["date"])
        else:
            worksheet.write_string(row, col, str(value), cell_format)

    def write_row(self, row: int, values: Sequence[Any], fmt: Optional[str] = None) -> None:
        """A row of cells from column 0, all in one format (or none)."""
        cell_format = self._format(fmt)
        for col, value in enumerate(values):
            self._write(row, col, value, cell_format)

    def write_rows(self, first_row: int, rows: Iterable[Sequence[Any]], formats: Sequence[Optional[str]] = ()) -> None:
        """Many rows from ``first_row``, ``formats[i]`` for column i. Plain ``str``, ``int`` and
        ``float`` take the shortest path (the report's record sheets write ~90 000 cells)."""
        worksheet = self._worksheet
        write_string, write_number, write = worksheet.write_string, worksheet.write_number, self._write
        column_formats = [self._format(name) for name in formats]
        for row, values in enumerate(rows, first_row):
            for col, value in enumerate(values):
                cell_format = column_formats[col] if col < len(column_formats) else None
                kind = type(value)
                if kind is str:
                    write_string(row, col, value, cell_format)
                elif kind is int or kind is float:
                    write_number(row, col, value, cell_format)
                elif value is not None:
                    write(row, col, value, cell_format)

    def header(self, row: int, names: Iterable[Any], widths: Optional[Iterable[int]] = None) -> None:
        """A bold, shaded header row with the rows below it frozen, and column widths (default:
        the name's length + 4, between 10 and 60)."""
        names = [str(name) for name in names]
        if widths is None:
            widths = [max(10, min(60, len(name) + 4)) for name in names]
        for col, (name, width) in enumerate(zip(names, widths)):
            self._worksheet.write_string(row, col, name, self._formats["header"])
            self._worksheet.set_column(col, col, width)
        self.freeze(row + 1, 0)

    def freeze(self, row: int, col: int) -> None:
        """Keep the rows above ``row`` and the columns left of ``col`` in view."""
        self._worksheet.freeze_panes(row, col)


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[Any], Iterable[Sequence[Any]]]]) -> bytes:
    """A workbook with one sheet per (title, header, rows): header frozen, cells typed by value."""
    book = XlsxBook()
    for title, header, rows in sheets:
        sheet = book.sheet(title)
        sheet.header(0, header)
        sheet.write_rows(1, rows)
    return book.to_bytes()


# --- Tables as files ------------------------------------------------------------------------------


def table_file(fmt: str, basename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> tuple[bytes, str]:
    """A list page's table as (file, file name) for ``fmt`` ``csv-excel`` (Danish Excel), ``csv``
    (machine) or ``xlsx``; both CSV dialects are named ``basename.csv``."""
    rows = list(rows)
    if fmt == "xlsx":
        return xlsx_bytes([(basename, header, rows)]), f"{basename}.xlsx"
    return csv_bytes(header, rows, excel=fmt == CSV_EXCEL), f"{basename}.csv"
