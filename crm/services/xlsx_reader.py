"""Bounded reading of uploaded XLSX workbooks: every XLSX import reads through ``read_sheets``.

An XLSX file is a zip of XML files, and a few kilobytes can ask for hours of work: a sheet that
declares ``<dimension ref="A1:XFD1048576"/>`` (openpyxl pads every row to that width and yields
empty rows up to that height), a shared-strings table of a million tiny entries, a zip member
that inflates to gigabytes. So before openpyxl sees a file, ``check_xlsx`` looks at it cheaply
(the zip directory, then each XML member as a stream, never holding more than a chunk) and
refuses it with a message that names the limit:

* the zip: at most ``members`` members and a central directory of at most
  ``directory_bytes``; only stored or deflated members (other methods inflate without bound),
  none encrypted; each member's declared uncompressed size at most ``sheet_bytes`` (worksheets),
  ``shared_strings_bytes`` (the shared strings) or ``other_bytes`` (everything else), the sum at
  most ``total_bytes``, and no member above ``ratio`` : 1 once it is bigger than ``ratio_floor``
  (Python's zip reader never inflates past the declared size, so these numbers hold);
* every XML member: UTF-8, no ``<!DOCTYPE``/``<!ENTITY`` (entity expansion), no NUL;
* each worksheet's declared ``<dimension ref>``: at most ``rows`` rows and ``columns`` columns;
  and the ``<row>`` and ``<c>`` elements actually present: at most ``rows`` and ``cells``;
* the shared strings: the declared ``<sst count/uniqueCount>`` and the ``<si>`` entries present,
  at most ``shared_strings``; at most ``sheets`` worksheets.

Then openpyxl reads the workbook in read-only mode with the declared dimensions ignored (they can
lie), and the iteration stops at ``rows`` rows and refuses a non-empty cell beyond ``columns``.
The limits live in ``LIMITS`` (documented in the README's import section); tests pass smaller ones.
"""
from __future__ import annotations

import io
import re
import struct
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Iterator, Optional

from crm.formatting import megabytes
from crm.i18n import gettext as _


@dataclass(frozen=True)
class XlsxLimits:
    """What an uploaded workbook may hold (see the module docstring)."""

    members: int = 100
    directory_bytes: int = 64 * 1024
    sheet_bytes: int = 48 * 1024 * 1024
    shared_strings_bytes: int = 24 * 1024 * 1024
    other_bytes: int = 4 * 1024 * 1024
    total_bytes: int = 96 * 1024 * 1024
    ratio: int = 100
    ratio_floor: int = 1024 * 1024
    sheets: int = 20
    rows: int = 60_000
    columns: int = 50
    cells: int = 100_000
    shared_strings: int = 100_000


LIMITS = XlsxLimits()

CHUNK = 256 * 1024
_OVERLAP = 256  # bytes kept between chunks so no tag is cut in two
_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"
_ROW = re.compile(rb"<" + _PREFIX + rb"row[\s/>]")
_CELL = re.compile(rb"<" + _PREFIX + rb"c[\s/>]")
_SI = re.compile(rb"<" + _PREFIX + rb"si[\s/>]")
_DIMENSION = re.compile(rb"<" + _PREFIX + rb"dimension\b[^>]*?\bref\s*=\s*[\"']([^\"']{1,64})[\"']")
_SST = re.compile(rb"<" + _PREFIX + rb"sst\b([^>]{0,2000})>")
_COUNT_ATTR = re.compile(rb"\b(count|uniqueCount)\s*=\s*[\"'](\d{1,12})[\"']")
_DECLARATION = re.compile(rb"^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY", b"\x00")
_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
_EOCD = b"PK\x05\x06"


class XlsxRefused(ValueError):
    """A workbook over a limit or not readable; the message (for the user) names the problem."""


@dataclass
class Sheet:
    """One worksheet as text: its title and its non-empty rows with their 1-based row numbers."""

    title: str
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


# --- The cheap checks before parsing ----------------------------------------------------------


def _check_directory(data: bytes, limits: XlsxLimits) -> None:
    """The zip's end-of-directory record: member count and directory size, before zipfile reads it."""
    position = data.rfind(_EOCD, max(0, len(data) - 65_557))
    if position < 0 or len(data) < position + 22:
        raise XlsxRefused(_("Filen kan ikke læses som et Excel-regneark (.xlsx)."))
    entries, directory_size = struct.unpack("<HI", data[position + 10:position + 16])
    if entries > limits.members:
        raise XlsxRefused(_("Regnearket består af for mange dele (%(count)s; højst %(max)s).",
                            count=entries, max=limits.members))
    if directory_size > limits.directory_bytes:
        raise XlsxRefused(_("Regnearkets indholdsfortegnelse er for stor (højst %(max)s kB).",
                            max=limits.directory_bytes // 1024))


def _member_limit(name: str, limits: XlsxLimits) -> int:
    lowered = name.lower()
    if lowered.startswith("xl/worksheets/") and lowered.endswith(".xml"):
        return limits.sheet_bytes
    if lowered == "xl/sharedstrings.xml":
        return limits.shared_strings_bytes
    return limits.other_bytes


def _check_members(archive: zipfile.ZipFile, limits: XlsxLimits) -> list[zipfile.ZipInfo]:
    """Sizes, ratios and methods from the zip directory; returns the members."""
    members = archive.infolist()
    if len(members) > limits.members:
        raise XlsxRefused(_("Regnearket består af for mange dele (%(count)s; højst %(max)s).",
                            count=len(members), max=limits.members))
    total = 0
    sheets = 0
    for info in members:
        if info.flag_bits & 0x1:
            raise XlsxRefused(_("Regnearket er krypteret eller beskyttet med adgangskode. Gem det uden adgangskode."))
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise XlsxRefused(_("Regnearket er pakket på en måde, Excel ikke bruger. Gem det igen fra Excel."))
        limit = _member_limit(info.filename, limits)
        if info.file_size > limit:
            raise XlsxRefused(_("En del af regnearket fylder %(size)s MB udpakket; højst %(max)s MB er tilladt.",
                                size=megabytes(info.file_size), max=megabytes(limit)))
        if info.file_size > limits.ratio_floor and info.file_size > limits.ratio * max(info.compress_size, 1):
            raise XlsxRefused(_("En del af regnearket pakkes mere end %(ratio)s gange ud (en \"zip-bombe\"). "
                                "Filen er afvist.", ratio=limits.ratio))
        total += info.file_size
        if total > limits.total_bytes:
            raise XlsxRefused(_("Regnearket fylder mere end %(max)s MB udpakket.", max=megabytes(limits.total_bytes)))
        if _member_limit(info.filename, limits) == limits.sheet_bytes:
            sheets += 1
    if sheets > limits.sheets:
        raise XlsxRefused(_("Regnearket har for mange ark (%(count)s; højst %(max)s).",
                            count=sheets, max=limits.sheets))
    return members


def _dimension_size(ref: str) -> Optional[tuple[int, int]]:
    """'A1:XFD1048576' → (rows, columns) it spans; None if it cannot be read."""
    parts = ref.split(":")
    corners = []
    for part in parts[:2]:
        match = _CELL_REF.match(part.strip())
        if not match:
            return None
        letters, number = match.groups()
        column = 0
        for letter in letters.upper():
            column = column * 26 + ord(letter) - 64
        corners.append((int(number), column))
    if len(corners) == 1:
        corners.append(corners[0])
    (row1, col1), (row2, col2) = corners
    return abs(row2 - row1) + 1, abs(col2 - col1) + 1


def _scan_xml(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: XlsxLimits) -> None:
    """Stream one XML member once: refuse entities, NUL, other encodings; count rows, cells and
    shared strings and check the declared dimension and string count, stopping at the first excess."""
    rows = cells = strings = 0
    dimension_checked = sst_checked = False
    tail = b""
    first = True
    with archive.open(info) as stream:
        while True:
            chunk = stream.read(CHUNK)
            final = not chunk
            buffer = tail + chunk
            if first:
                first = False
                declared = _DECLARATION.match(buffer[:200])
                if declared and declared.group(1).lower().replace(b"-", b"").replace(b"_", b"") != b"utf8":
                    raise XlsxRefused(_("Regnearket bruger en tegnkodning, der ikke understøttes. "
                                        "Gem det igen fra Excel."))
            for marker in _FORBIDDEN:
                if marker in buffer:
                    raise XlsxRefused(_("Regnearket indeholder XML-konstruktioner, som Excel ikke skriver "
                                        "(DOCTYPE, ENTITY eller NUL-tegn). Filen er afvist."))
            cut = len(buffer) if final else max(0, len(buffer) - _OVERLAP)
            counted = buffer[:cut]
            rows += len(_ROW.findall(counted))
            cells += len(_CELL.findall(counted))
            strings += len(_SI.findall(counted))
            if not dimension_checked:
                match = _DIMENSION.search(buffer)
                if match:
                    dimension_checked = True
                    _check_dimension(match.group(1).decode("ascii", "replace"), limits)
            if not sst_checked:
                match = _SST.search(buffer)
                if match:
                    sst_checked = True
                    for _name, value in _COUNT_ATTR.findall(match.group(1)):
                        if int(value) > limits.shared_strings:
                            raise _too_many_strings(int(value), limits)
            if rows > limits.rows:
                raise XlsxRefused(_("Regnearket har mere end %(max)s rækker. Del det op.", max=limits.rows))
            if cells > limits.cells:
                raise XlsxRefused(_("Regnearket har mere end %(max)s celler. Del det op.", max=limits.cells))
            if strings > limits.shared_strings:
                raise _too_many_strings(strings, limits)
            if final:
                return
            tail = buffer[cut:]


def _too_many_strings(count: int, limits: XlsxLimits) -> XlsxRefused:
    return XlsxRefused(_("Regnearket har for mange forskellige tekster (%(count)s; højst %(max)s).",
                         count=count, max=limits.shared_strings))


def _check_dimension(ref: str, limits: XlsxLimits) -> None:
    size = _dimension_size(ref)
    if size is None:
        return  # an unreadable dimension is ignored by the reader anyway
    rows, columns = size
    if rows > limits.rows:
        raise XlsxRefused(_("Regnearket angiver %(rows)s rækker; højst %(max)s er tilladt. Del det op.",
                            rows=rows, max=limits.rows))
    if columns > limits.columns:
        raise XlsxRefused(_("Regnearket angiver %(columns)s kolonner; højst %(max)s er tilladt.",
                            columns=columns, max=limits.columns))


def check_xlsx(data: bytes, limits: XlsxLimits = LIMITS) -> None:
    """Refuse (``XlsxRefused``) a workbook over any limit, before anything parses it."""
    _check_directory(data, limits)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in _check_members(archive, limits):
                if info.filename.lower().endswith((".xml", ".rels")) and not info.is_dir():
                    _scan_xml(archive, info, limits)
    except XlsxRefused:
        raise
    except Exception as exc:  # a damaged zip raises BadZipFile, zlib.error, EOFError, struct.error…
        raise XlsxRefused(_("Filen kan ikke læses som et Excel-regneark (.xlsx): %(error)s", error=str(exc)[:200]))


# --- Reading ----------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """An XLSX cell as the text a CSV would carry (dates as YYYY-MM-DD, whole floats without .0)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _sheet_rows(worksheet, limits: XlsxLimits) -> Iterator[tuple[int, list[str]]]:
    """Non-empty rows of a read-only worksheet, with the row and column limits applied as it goes."""
    worksheet.reset_dimensions()  # the declared dimension can lie; read what is there
    for line_no, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
        if line_no > limits.rows:
            raise XlsxRefused(_("Regnearket har mere end %(max)s rækker. Del det op.", max=limits.rows))
        if len(cells) > limits.columns:
            if any(value not in (None, "") for value in cells[limits.columns:]):
                raise XlsxRefused(_("Regnearket har mere end %(max)s kolonner.", max=limits.columns))
            cells = cells[:limits.columns]
        record = [cell_text(value) for value in cells]
        if any(cell.strip() for cell in record):
            yield line_no, record


def read_sheets(data: bytes, first_only: bool = False, limits: XlsxLimits = LIMITS) -> list[Sheet]:
    """The workbook's worksheets (or only the first) as text, after ``check_xlsx``; ``XlsxRefused``
    for a file over a limit or unreadable."""
    from openpyxl import load_workbook

    check_xlsx(data, limits)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for broken files
        raise XlsxRefused(_("Filen kan ikke læses som et Excel-regneark (.xlsx): %(error)s", error=str(exc)[:200]))
    try:
        if not workbook.worksheets:
            raise XlsxRefused(_("Regnearket har ingen ark."))
        sheets = []
        for worksheet in workbook.worksheets[:1] if first_only else workbook.worksheets:
            try:
                sheets.append(Sheet(worksheet.title, list(_sheet_rows(worksheet, limits))))
            except XlsxRefused:
                raise
            except Exception as exc:
                raise XlsxRefused(_("Filen kan ikke læses som et Excel-regneark (.xlsx): %(error)s",
                                    error=str(exc)[:200]))
        return sheets
    finally:
        workbook.close()
