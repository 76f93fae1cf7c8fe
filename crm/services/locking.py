"""Optimistic locking for records edited in forms (models with ``VersionedMixin``).

An edit form carries the ``version`` it was rendered with. Before saving, ``ensure_version``
compares it with the stored one: if somebody saved in between, the second editor is told who
changed the record and when, and nothing is overwritten. ``mark_updated`` stamps who saved, so
that message can name them. SQLAlchemy's ``version_id_col`` guards the tiny window between the
check and the commit (``StaleDataError``): services write with ``ensure_version`` and
``commit_versioned``, which raise ``Conflict``.
"""
from typing import Any, Optional

from crm.i18n import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from crm.extensions import db
from crm.services.errors import Conflict
from crm.models.mixins import utcnow


def _parse_version(submitted: Any) -> Optional[int]:
    """The submitted version as int, or None when missing or not a number."""
    try:
        return int(str(submitted).strip())
    except (TypeError, ValueError):
        return None


def conflict_message(obj) -> str:
    """The Danish "changed by X meanwhile" message for ``obj`` as it is stored now."""
    from crm.models import User

    # Re-read what is stored now: the record may have been changed by another session.
    db.session.refresh(obj)
    editor = db.session.get(User, obj.updated_by_id) if obj.updated_by_id else None
    who = editor.display_name if editor else _("en anden bruger")
    when = ""
    if obj.updated_at:
        from crm.formatting import format_datetime

        when = " " + _("(%(when)s)", when=format_datetime(obj.updated_at))
    return _(
        "Ændret af %(who)s i mellemtiden%(when)s. Dine ændringer er ikke gemt: "
        "se de nye værdier, ret dit input til og gem igen.",
        who=who,
        when=when,
    )


def mark_updated(obj, user) -> None:
    """Record who saved ``obj`` and when. Setting a column also forces an UPDATE of the row,
    so the version increases even when only many-to-many collections changed."""
    # No autoflush here: reading an expired ``user`` must not flush the caller's half-made change
    # (the flush, and the database's version check, belong to the caller's commit).
    with db.session.no_autoflush:
        obj.updated_by_id = getattr(user, "id", None)
        obj.updated_at = utcnow()


def ensure_version(obj, submitted_version: Any) -> None:
    """Raise ``Conflict`` (who changed it, when) unless ``submitted_version`` is the stored one.

    A missing or garbled version counts as a conflict: we cannot know what the user saw.
    """
    if _parse_version(submitted_version) != obj.version:
        raise Conflict(conflict_message(obj))


def commit_versioned(obj) -> None:
    """Commit; if another session saved ``obj`` since it was loaded, roll back and raise
    ``Conflict`` (the database's version check caught what ``ensure_version`` could not see)."""
    _unless_stale(db.session.commit, obj)


def flush_versioned(obj) -> None:
    """Flush ``obj``'s UPDATE or DELETE now, where the database checks its version, when more work
    follows in the same transaction; a stale ``obj`` rolls back and raises ``Conflict``."""
    _unless_stale(db.session.flush, obj)


def _unless_stale(write, obj) -> None:
    try:
        write()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(conflict_message(obj)) from None
