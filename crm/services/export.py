"""Tabular exports (CSV and XLSX) of what a page shows, shared by every list."""
import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Sequence

from flask import Response
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if value is None:
        return ""
    return value


def _csv_cell(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(_cell(value))
    # Spreadsheet formula injection: a cell starting with = + - @ is run by Excel.
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)):
        text = "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 CSV with BOM (so Danish Excel opens æøå correctly), comma-separated."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def add_sheet(workbook: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]):
    """Append a sheet with a bold, frozen header row and sensible column widths."""
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(v) for v in row])
    sheet.freeze_panes = "A2"
    for index, name in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(10, min(60, len(str(name)) + 4))
    for row_cells in sheet.iter_rows(min_row=2):
        for cell in row_cells:
            if isinstance(cell.value, (date, datetime)):
                cell.number_format = "DD-MM-YYYY"
    return sheet


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """An XLSX workbook with one sheet per (title, header, rows)."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, header, rows in sheets:
        add_sheet(workbook, title, header, rows)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def download(data: bytes, filename: str, fmt: str) -> Response:
    """A download response for CSV or XLSX bytes."""
    mimetype = "text/csv; charset=utf-8" if fmt == "csv" else XLSX_MIMETYPE
    return Response(
        data,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def table_response(fmt: str, basename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """What a list page returns for ``?format=csv`` or ``?format=xlsx``."""
    rows = list(rows)
    if fmt == "xlsx":
        return download(xlsx_bytes([(basename, header, rows)]), f"{basename}.xlsx", "xlsx")
    return download(csv_bytes(header, rows), f"{basename}.csv", "csv")
