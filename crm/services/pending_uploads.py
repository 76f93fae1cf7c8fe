"""Uploads waiting for their confirmation step, and their removal after an hour.

A spreadsheet import (``UPLOAD_FOLDER/imports``) and a calendar import (``UPLOAD_FOLDER/ics-import``)
keep the checked file between the check report and the user's confirmation, and only a file that
passed the check (never one refused, e.g. for personal data). A file nobody confirms is removed
once it is older than ``PENDING_UPLOAD_MAX_AGE_MINUTES`` (default 60): when the app starts, when
a new upload is stored, and by the scheduler's ``pending`` job (``SCHEDULER_PENDING_CLEANUP_*``).
"""
import logging
import time
from pathlib import Path
from typing import Iterator, Optional

from flask import current_app

log = logging.getLogger("crm.uploads")

PENDING_FOLDERS = ("imports", "ics-import")
DEFAULT_MAX_AGE_MINUTES = 60


def max_age_seconds(config=None) -> int:
    """How long an unconfirmed upload is kept, in seconds."""
    config = config if config is not None else current_app.config
    return 60 * int(config.get("PENDING_UPLOAD_MAX_AGE_MINUTES", DEFAULT_MAX_AGE_MINUTES))


def _pending_files(upload_folder: str) -> Iterator[Path]:
    for name in PENDING_FOLDERS:
        folder = Path(upload_folder) / name
        if folder.is_dir():
            yield from (path for path in folder.iterdir() if path.is_file())


def stale_files(upload_folder: str, max_age: int, now: Optional[float] = None) -> list[Path]:
    """Pending uploads last written more than ``max_age`` seconds before ``now`` (a timestamp)."""
    limit = (time.time() if now is None else now) - max_age
    stale = []
    for path in _pending_files(upload_folder):
        try:
            if path.stat().st_mtime < limit:
                stale.append(path)
        except FileNotFoundError:
            continue  # confirmed (and removed) meanwhile
    return stale


def remove_stale(upload_folder: str, max_age: int, now: Optional[float] = None) -> int:
    """Remove the stale pending uploads; returns how many files went."""
    removed = 0
    for path in stale_files(upload_folder, max_age, now):
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue
    return removed


def clean_at_start(app) -> None:
    """At app start: remove stale pending uploads; a folder that cannot be read only logs a warning."""
    try:
        removed = remove_stale(app.config["UPLOAD_FOLDER"], max_age_seconds(app.config))
    except OSError as error:
        log.warning("Could not clean pending uploads: %s", error)
        return
    if removed:
        log.info("Removed unconfirmed uploads older than the limit: %s.", removed)
