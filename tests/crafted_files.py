"""Crafted upload files that cost far more to parse than their size suggests.

Used by the tests (each import path refuses or bounds them) and by ``bench/crafted_uploads.py``
(time and memory of each, up to the upload limit). Every builder returns bytes and streams what it
compresses, so building even the largest file holds little memory.
"""
import io
import zipfile

from openpyxl import Workbook

SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
SHEET_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def plain_xlsx(rows=(("municipality", "quarter"), ("751", "2025Q3"))) -> bytes:
    """A small ordinary workbook (openpyxl), the base the crafted ones are made from."""
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _rewrite(base: bytes, replace: dict[str, object], add: dict[str, object] = None,
             method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """``base`` with some members replaced or added; a value is bytes or an iterable of chunks."""
    source = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        members = {info.filename: None for info in source.infolist()}
        members.update({name: None for name in (add or {})})
        for name in members:
            content = (replace or {}).get(name, (add or {}).get(name))
            if content is None:
                target.writestr(name, source.read(name))
                continue
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = method
            with target.open(info, "w", force_zip64=False) as handle:
                for chunk in ([content] if isinstance(content, bytes) else content):
                    handle.write(chunk)
    return out.getvalue()


def _sheet_xml(dimension: str, rows_xml: bytes = b"") -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet ' + SHEET_NS.encode()
            + b'><dimension ref="' + dimension.encode() + b'"/><sheetData>'
            + b'<row r="1"><c r="A1" t="inlineStr"><is><t>municipality</t></is></c></row>'
            + rows_xml + b"</sheetData></worksheet>")


def xlsx_dimension_bomb() -> bytes:
    """~5 KB: one real row, but the sheet declares A1:XFD1048576 (16 384 × 1 048 576 cells)."""
    return _rewrite(plain_xlsx(), {SHEET: _sheet_xml("A1:XFD1048576")})


def xlsx_shared_strings_bomb(count: int = 1_000_000) -> bytes:
    """A shared-strings table of ``count`` tiny entries (tens of KB compressed), declared honestly
    or not at all (``count`` attribute left out)."""
    def chunks():
        yield (b'<?xml version="1.0" encoding="UTF-8"?>\n<sst ' + SHEET_NS.encode() + b">")
        block = b"<si><t>x</t></si>" * 10_000
        for _ in range(count // 10_000):
            yield block
        yield b"</sst>"
    return _with_strings(chunks())


def _with_strings(content) -> bytes:
    """The plain workbook with a shared-strings table that the workbook really uses (content type,
    relationship, and the sheet's cells pointing at its first entry)."""
    base = plain_xlsx()
    source = zipfile.ZipFile(io.BytesIO(base))
    types = source.read("[Content_Types].xml").replace(b"</Types>", (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        b'spreadsheetml.sharedStrings+xml" /></Types>'))
    rels = source.read("xl/_rels/workbook.xml.rels").replace(b"</Relationships>", (
        b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
        b'Target="sharedStrings.xml" Id="rId9" /></Relationships>'))
    sheet = _sheet_xml("A1:A2", b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>')
    return _rewrite(base, {"[Content_Types].xml": types, "xl/_rels/workbook.xml.rels": rels, SHEET: sheet},
                    add={STRINGS: content})


def xlsx_declared_strings(declared: int) -> bytes:
    """A tiny shared-strings table that declares ``declared`` entries."""
    xml = (b'<?xml version="1.0" encoding="UTF-8"?>\n<sst ' + SHEET_NS.encode()
           + b' count="%d" uniqueCount="%d"><si><t>x</t></si></sst>' % (declared, declared))
    return _with_strings(xml)


def xlsx_zip_bomb(megabytes: int = 200) -> bytes:
    """The sheet member inflates to ``megabytes`` MB of spaces (about 1 000 : 1)."""
    def chunks():
        yield _sheet_xml("A1:A1")[:-len(b"</sheetData></worksheet>")]
        block = b" " * (1024 * 1024)
        for _ in range(megabytes):
            yield block
        yield b"</sheetData></worksheet>"
    return _rewrite(plain_xlsx(), {SHEET: chunks()})


def xlsx_many_rows(rows: int = 200_000, dimension: str = "A1:A1") -> bytes:
    """A sheet whose declared dimension is small but which holds ``rows`` (empty) rows."""
    def chunks():
        yield _sheet_xml(dimension)[:-len(b"</sheetData></worksheet>")]
        for start in range(2, rows + 2, 10_000):
            yield b"".join(b'<row r="%d"/>' % n for n in range(start, min(start + 10_000, rows + 2)))
        yield b"</sheetData></worksheet>"
    return _rewrite(plain_xlsx(), {SHEET: chunks()})


def xlsx_wide_row(cells: int = 2_000_000) -> bytes:
    """One row with ``cells`` empty cells."""
    def chunks():
        yield _sheet_xml("A1:A2")[:-len(b"</sheetData></worksheet>")] + b'<row r="2">'
        for _ in range(cells // 10_000):
            yield b"<c/>" * 10_000
        yield b"</row></sheetData></worksheet>"
    return _rewrite(plain_xlsx(), {SHEET: chunks()})


def xlsx_entities() -> bytes:
    """The "billion laughs": nested entities in the sheet XML."""
    doctype = (b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10) for i in range(8)) + b"]>")
    xml = (b'<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + b"<worksheet " + SHEET_NS.encode()
           + b'><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&i;</t></is></c></row></sheetData></worksheet>')
    return _rewrite(plain_xlsx(), {SHEET: xml})


def xlsx_bzip2_member() -> bytes:
    """The sheet packed with bzip2 (which Python inflates without a bound per read)."""
    return _rewrite(plain_xlsx(), {SHEET: _sheet_xml("A1:A1")}, method=zipfile.ZIP_BZIP2)


def xlsx_many_members(count: int = 5_000) -> bytes:
    """A workbook with ``count`` extra tiny members."""
    return _rewrite(plain_xlsx(), {}, add={f"customXml/item{i}.xml": b"<a/>" for i in range(count)})


def ics_secondly(dtstart: str = "20260301T090000Z", extra: str = "") -> bytes:
    """215 bytes: an event repeating every second for ever."""
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nBEGIN:VEVENT\r\nUID:bomb@example.org\r\n"
            f"DTSTART:{dtstart}\r\nDTEND:{dtstart[:-2]}1Z\r\nRRULE:FREQ=SECONDLY{extra}\r\n"
            "SUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()


def ics_many_events(count: int = 50_000) -> bytes:
    """``count`` tiny events."""
    events = "".join(f"BEGIN:VEVENT\r\nUID:e{i}\r\nDTSTART:20260301T090000Z\r\nEND:VEVENT\r\n" for i in range(count))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{events}END:VCALENDAR\r\n".encode()


def ics_many_lines(lines: int = 1_000_000) -> bytes:
    """One event with ``lines`` tiny properties."""
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20260301T090000Z\r\n"
            + "X-A:b\r\n" * lines + "END:VEVENT\r\nEND:VCALENDAR\r\n").encode()


def csv_wide_record(fields: int = 3_000_000) -> bytes:
    """A header line with millions of fields."""
    return b"municipality," + b"ab," * fields + b"\n751,2025Q3\n"


def csv_multiline_record(fields: int = 1_000_000) -> bytes:
    """One record of many small quoted fields each holding a line break (no line is long)."""
    return b"municipality,quarter\n" + b'"a\nb",' * fields + b"\n"


def pdf_oversized(limit: int) -> bytes:
    """A "PDF" one byte over the upload limit."""
    return b"%PDF-1.4\n" + b"0" * (limit - 8)
