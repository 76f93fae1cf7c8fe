"""Uploads waiting for their confirmation step, and their removal after an hour.

Every two-step upload (spreadsheet imports, the outcome import, the calendar import) keeps the
checked file here between the check report and the user's confirmation, and only a file that
passed the check (never one refused, e.g. for personal data):

* ``save(kind, filename, data, actor=user)`` → a random token, the only handle on the file;
* ``load(kind, token, actor=user)`` → the ``PendingUpload``; ``UnknownUpload`` when the token is
  malformed, unknown, expired, of another kind or someone else's;
* ``discard(token)`` once the file is imported.

Each upload is two files under ``UPLOAD_FOLDER/imports``: ``<token>.data`` (the bytes) and
``<token>.json`` (kind, file name and uploader); the session cookie carries nothing. A file nobody
confirms is removed once it is older than ``PENDING_UPLOAD_MAX_AGE_MINUTES`` (default 60): when the
app starts, when a new upload is saved, and by the scheduler's ``pending`` job
(``SCHEDULER_PENDING_CLEANUP_*``). Services and views hand over bytes and a file name, never a
request's file object.
"""
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from flask import current_app

log = logging.getLogger("crm.uploads")

FOLDER = "imports"
# Swept too: the calendar import kept its uploads there before this store was shared.
PENDING_FOLDERS = (FOLDER, "ics-import")
DEFAULT_MAX_AGE_MINUTES = 60
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}$")  # secrets.token_urlsafe(24)


class UnknownUpload(LookupError):
    """No pending upload for this token, kind and user (or the token is not one we issue)."""


@dataclass(frozen=True)
class PendingUpload:
    """A file kept for its confirmation step."""

    token: str
    kind: str
    filename: str
    data: bytes


def is_token(text: Optional[str]) -> bool:
    """Whether ``text`` has the shape of a token ``save`` issues (so it is safe in a file name)."""
    return bool(TOKEN_PATTERN.match(text or ""))


def _folder() -> Path:
    """Where uploads wait for their confirmation (created on first use)."""
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(kind: str, filename: str, data: bytes, *, actor) -> str:
    """Keep ``data`` for ``actor``'s confirmation of a ``kind`` upload; returns its token.
    Stale uploads (anyone's) are removed first."""
    remove_stale(current_app.config["UPLOAD_FOLDER"], max_age_seconds())
    folder = _folder()
    token = secrets.token_urlsafe(24)
    (folder / f"{token}.data").write_bytes(data)
    meta = {"kind": kind, "filename": filename, "user_id": actor.id}
    (folder / f"{token}.json").write_text(json.dumps(meta), encoding="utf-8")
    return token


def load(kind: str, token: str, *, actor) -> PendingUpload:
    """``actor``'s pending ``kind`` upload ``token``; ``UnknownUpload`` if there is none."""
    if not is_token(token):
        raise UnknownUpload(token)
    folder = _folder()
    try:
        meta = json.loads((folder / f"{token}.json").read_text(encoding="utf-8"))
        data = (folder / f"{token}.data").read_bytes()
    except (OSError, ValueError):
        raise UnknownUpload(token)
    if not isinstance(meta, dict) or meta.get("user_id") != actor.id or meta.get("kind") != kind:
        raise UnknownUpload(token)
    return PendingUpload(token, kind, meta.get("filename", ""), data)


def discard(token: str) -> None:
    """Remove a pending upload (once imported); an unknown token is a no-op."""
    if not is_token(token):
        return
    folder = _folder()
    for suffix in (".data", ".json"):
        (folder / f"{token}{suffix}").unlink(missing_ok=True)


# --- Removing unconfirmed uploads --------------------------------------------------------------


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
