"""The one clock: timestamps are stored as naive UTC and shown, printed and exported in Danish time.

"Now" and "today" are Danish (Europe/Copenhagen, from the tz database in ``tzdata``), whatever the
server's own time zone: ``local_now``, ``local_today``; ``to_local`` converts a stored timestamp.
Writing a date or time for people is ``crm.formatting`` (``format_datetime`` converts to
``LOCAL_TZ``, so summer and winter time are handled there in one place).
"""
from datetime import date, datetime, timezone
from typing import Optional
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Copenhagen")

__all__ = ["LOCAL_TZ", "utcnow", "to_local", "local_now", "local_today"]


def utcnow() -> datetime:
    """Naive UTC now (the same on SQLite and PostgreSQL); pass the callable, not its value."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_local(value: datetime) -> datetime:
    """A stored timestamp (naive means UTC) as an aware Copenhagen time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(LOCAL_TZ)


def local_now(now: Optional[datetime] = None) -> datetime:
    """The current (or the given stored) time in Copenhagen."""
    return to_local(now if now is not None else utcnow())


def local_today() -> date:
    """Today's date in Denmark (not the server's, which may run on UTC)."""
    return local_now().date()

