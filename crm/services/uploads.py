"""Uploaded PDF documents (signed cooperation plans): checked, stored outside the database, served
only to signed-in users as a download (``crm.views.files.send_pdf``).

Files are stored under ``UPLOAD_FOLDER`` with a random name; the user's file name is kept only
for display and as the download name. Nothing the user sends ever becomes part of a path.
"""
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from flask import current_app
from crm.formatting import megabytes
from crm.i18n import gettext as _
from werkzeug.datastructures import FileStorage

PDF_MAGIC = b"%PDF-"
STORED_SUFFIX = ".pdf"


class UploadError(ValueError):
    """An upload that breaks a rule; the message is for the user."""


@dataclass(frozen=True)
class StoredFile:
    """Where an upload was stored (random name) and what the user called it."""

    stored_name: str
    original_name: str


def _upload_dir() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _max_bytes() -> int:
    return int(current_app.config.get("MAX_UPLOAD_BYTES", 10 * 1024 * 1024))


def check_filename(filename: Optional[str]) -> str:
    """The user's file name if acceptable: no path parts, ends in .pdf; else UploadError."""
    name = (filename or "").strip()
    if not name:
        raise UploadError(_("Vælg en PDF-fil."))
    if "/" in name or "\\" in name or ".." in name or "\x00" in name:
        raise UploadError(_("Filnavnet må ikke indeholde en sti (/, \\ eller ..). Omdøb filen og prøv igen."))
    if not name.lower().endswith(".pdf"):
        raise UploadError(_("Kun PDF-filer (.pdf) kan uploades."))
    if len(name) > 200:
        raise UploadError(_("Filnavnet er for langt (højst 200 tegn)."))
    return name


def read_pdf(upload: FileStorage) -> tuple[str, bytes]:
    """Check an uploaded file (name, size, PDF signature) and return (name, content)."""
    name = check_filename(upload.filename)
    limit = _max_bytes()
    # Read one byte past the limit: enough to know it is too big without reading it all.
    content = upload.stream.read(limit + 1)
    if len(content) > limit:
        raise UploadError(
            _("Filen er for stor. Den største tilladte størrelse er %(mb)s MB.", mb=megabytes(limit))
        )
    if not content:
        raise UploadError(_("Filen er tom."))
    if not content.startswith(PDF_MAGIC):
        raise UploadError(_("Filen er ikke en PDF-fil (indholdet starter ikke som en PDF)."))
    return name, content


def store_pdf(upload: FileStorage) -> StoredFile:
    """Check and store an uploaded PDF under a random name; UploadError if it is not acceptable."""
    name, content = read_pdf(upload)
    stored_name = secrets.token_hex(16) + STORED_SUFFIX
    path = _upload_dir() / stored_name
    # "x": never overwrite an existing file, however unlikely a clash of 128 random bits is.
    with open(path, "xb") as handle:
        handle.write(content)
    return StoredFile(stored_name, name)


def stored_path(stored_name: Optional[str]) -> Optional[Path]:
    """The path of a stored file, only if the name is one we generate (never a user's path)."""
    if not stored_name or os.path.basename(stored_name) != stored_name or not stored_name.endswith(STORED_SUFFIX):
        return None
    path = _upload_dir() / stored_name
    return path if path.is_file() else None


def remove_stored(stored_name: Optional[str]) -> None:
    """Delete a stored file (when its record is deleted or the document replaced)."""
    path = stored_path(stored_name)
    if path is not None:
        path.unlink(missing_ok=True)

