"""Automatic audit trail: every ORM insert, update and delete becomes an ``audit_log`` row.

It hooks SQLAlchemy's ``after_flush`` so no view can forget it. The actor is the signed-in user,
or for command-line work the administrator role (see ``acting_as``).
"""
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Iterator, Optional

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapper, Session

from crm.models.audit import AuditEntry
from crm.models.mixins import utcnow

# Fields whose values must never be copied into the log.
MASKED_FIELDS = {"password_hash", "calendar_token", "session_token", "totp_secret", "code_hash"}
# Bookkeeping fields that change with every update and say nothing on their own.
SKIPPED_FIELDS = {"version", "updated_at", "updated_by_id"}

_actor_override: ContextVar[Optional[tuple[Optional[int], str]]] = ContextVar("audit_actor", default=None)


@contextmanager
def acting_as(label: str, user_id: Optional[int] = None) -> Iterator[None]:
    """Attribute changes made inside the block to ``label`` (e.g. the CLI acting as admin)."""
    token = _actor_override.set((user_id, label))
    try:
        yield
    finally:
        _actor_override.reset(token)


def current_actor() -> tuple[Optional[int], str]:
    """(user id, label) of whoever is making the current change."""
    override = _actor_override.get()
    if override is not None:
        return override
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id, current_user.email
    return None, "system"


def _plain(value: Any) -> Any:
    """A JSON-safe rendering of a column value or related object."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):  # stored files: note the size only
        return f"<{len(value)} bytes>"
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    mapper = inspect(value, raiseerr=False)
    if mapper is not None and hasattr(mapper, "identity") and mapper.identity:
        return "/".join(str(part) for part in mapper.identity)
    return str(value)


def _field_value(key: str, value: Any) -> Any:
    return "***" if key in MASKED_FIELDS and value is not None else _plain(value)


def _snapshot(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {
        attr.key: _field_value(attr.key, getattr(obj, attr.key))
        for attr in state.mapper.column_attrs
        if attr.key not in SKIPPED_FIELDS and getattr(obj, attr.key) is not None
    }


def _diff(obj: Any) -> dict[str, list[Any]]:
    """Changed columns as ``[old, new]`` and changed collections as ``[removed, added]``."""
    state = inspect(obj)
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in SKIPPED_FIELDS:
            continue
        history = state.attrs[attr.key].history
        if history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old != new:
                changes[attr.key] = [_field_value(attr.key, old), _field_value(attr.key, new)]
    for rel in state.mapper.relationships:
        if not rel.uselist:
            continue
        history = state.attrs[rel.key].history
        if history.added or history.deleted:
            changes[rel.key] = [[_plain(o) for o in history.deleted], [_plain(o) for o in history.added]]
    return changes


def _entry(obj: Any, action: str, changes: dict) -> dict[str, Any]:
    user_id, actor = current_actor()
    # For new rows the identity key is not assigned until after the flush, so read the primary key.
    identity = inspect(obj).mapper.primary_key_from_instance(obj)
    return {
        "at": utcnow(),
        "user_id": user_id,
        "actor": actor,
        "entity": obj.__table__.name,
        "entity_id": "/".join(str(part) for part in identity),
        "action": action,
        "changes": changes,
    }


def _keep_old_value(target, value, oldvalue, initiator):
    return value


@event.listens_for(Mapper, "mapper_configured")
def _load_old_values_on_set(mapper: Mapper, class_) -> None:
    """Make every column load its old value before it is overwritten (even after a commit
    expired it), so the log can always show old → new."""
    for prop in mapper.column_attrs:
        event.listen(getattr(class_, prop.key), "set", _keep_old_value, active_history=True, retval=True)


@event.listens_for(Session, "after_flush")
def _record_changes(session: Session, flush_context) -> None:
    """Write one audit row per changed object, in the same transaction as the change."""
    rows = []
    for obj in session.new:
        if not isinstance(obj, AuditEntry):
            rows.append(_entry(obj, "create", _snapshot(obj)))
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) or not session.is_modified(obj):
            continue
        changes = _diff(obj)
        if changes:
            rows.append(_entry(obj, "update", changes))
    for obj in session.deleted:
        if not isinstance(obj, AuditEntry):
            rows.append(_entry(obj, "delete", _snapshot(obj)))
    if rows:
        session.connection().execute(AuditEntry.__table__.insert(), rows)
