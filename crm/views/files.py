"""File downloads: the one place a view turns a file into a response.

Services make the files (bytes from ``crm.services.export``, stored documents' paths from
``crm.services.uploads``) and know nothing of HTTP; these helpers add the mimetype and the
``Content-Disposition`` that makes the browser save it.
"""
from typing import Any, Iterable, Optional, Sequence

from flask import Response, abort, send_file

from crm.services.export import CSV_FORMATS, XLSX_MIMETYPE, table_file
from crm.services.uploads import stored_path


def send_bytes(data: bytes | str, filename: str, mimetype: str) -> Response:
    """``data`` as a file the browser saves as ``filename``."""
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def download(data: bytes, filename: str, fmt: str) -> Response:
    """A download response for CSV (either dialect) or XLSX bytes."""
    return send_bytes(data, filename, "text/csv; charset=utf-8" if fmt in CSV_FORMATS else XLSX_MIMETYPE)


def table_response(fmt: str, basename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Response:
    """What a list page returns for ``?format=csv-excel`` (Danish Excel), ``csv`` (machine) or
    ``xlsx`` (see ``crm.services.export.table_file``)."""
    data, filename = table_file(fmt, basename, header, rows)
    return download(data, filename, fmt)


def send_pdf(stored_name: Optional[str], download_name: Optional[str]) -> Response:
    """A stored PDF as a download (never shown inline), or 404 if it is missing."""
    path = stored_path(stored_name)
    if path is None:
        abort(404)
    response = send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=download_name or "dokument.pdf",
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
