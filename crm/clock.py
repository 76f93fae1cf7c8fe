"""The one clock: timestamps are stored as naive UTC and shown, printed and exported in Danish time.

Every time shown or printed goes through ``format_datetime`` below (``|dkdatetime`` in templates),
which converts with ``to_local``, so summer and winter time are handled in one place
(Europe/Copenhagen, from the tz database in ``tzdata``); "today" is ``local_today``, the Danish date,
whatever the server's own time zone.
"""
from datetime import date, datetime, time, timezone
from typing import Optional
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Copenhagen")

__all__ = ["LOCAL_TZ", "utcnow", "to_local", "local_now", "local_today", "format_date", "format_datetime",
           "format_time"]


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


# --- The one formatter per kind (templates use them as |dkdate, |dkdatetime, |dktime) --------------


def format_date(value: Optional[date]) -> str:
    """Dates as 23-11-2026, the way Danish users write them (formatted by hand: strftime is slow)."""
    if value is None:
        return ""
    return f"{value.day:02d}-{value.month:02d}-{value.year:04d}"


def format_datetime(value: Optional[datetime]) -> str:
    """A stored (naive UTC) timestamp in Danish local time: 23-11-2026 14:05 (the one formatter of
    a time; ``crm.clock.to_local`` handles summer and winter time)."""
    if value is None:
        return ""
    local = to_local(value)
    return f"{local.day:02d}-{local.month:02d}-{local.year:04d} {local.hour:02d}:{local.minute:02d}"


def format_time(value: Optional[time]) -> str:
    """A wall-clock time of day (already Danish time, e.g. an activity's start) as 14:05."""
    if value is None:
        return ""
    return f"{value.hour:02d}:{value.minute:02d}"
