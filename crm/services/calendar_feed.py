"""iCalendar (RFC 5545) feeds: a user's personal subscription, and one activity as a download.

What a feed holds is exactly what its user may read (``crm.services.permissions.readable_region_codes``,
never the URL): ambassadors get their own region's activities plus the national ones (no region),
and their region's open tasks (next steps) and fidelity reviews due; the working group and admins
get everything, optionally narrowed with ``?region=`` (a region code or ``national``) and ``?type=``.

Each entry has a stable UID, so calendar programs update it in place: ``activity-<id>@ips-crm``
with SEQUENCE = version - 1 (the version rises on every save), ``task-<id>@ips-crm`` (an open task with a due date), and
``fidelity-due-<code>-<yyyymmdd>@ips-crm`` (a review whose due date moves is a new event; the
old one drops out of the feed). Deleted activities simply disappear. Timed events are written in
Europe/Copenhagen with its VTIMEZONE; events without a time are all-day (VALUE=DATE). User text
goes through ``clean_text`` first: no control character or bare line break reaches the file.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Optional

from flask import current_app
from crm.clock import LOCAL_TZ
from crm.formatting import format_date
from crm.i18n import gettext as _
from icalendar import Calendar, Event
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from crm.extensions import db
from crm.models import ACTIVITY_TYPE_CODES, ACTIVITY_TYPES, TASK_OPEN, Activity, Municipality, Region, Task, User
from crm.models.mixins import utcnow
from crm.services import auto_notes
from crm.services.mail import external_url
from crm.services.permissions import readable_region_codes
from crm.services.safe_text import clean_text

UID_DOMAIN = "ips-crm"
PRODID = "-//IPS-ambassadørkorpset//IPS CRM//DA"
NATIONAL = "national"
# Feed ``type`` values besides the activity types.
NEXT_STEP = "next_step"
FIDELITY = "fidelity"
DEFAULT_DURATION = timedelta(hours=1)  # a timed activity without an end time or hours


@dataclass(frozen=True)
class FeedScope:
    """What one feed request covers: region codes allowed (None: all), plus the filters asked for."""

    region_codes: Optional[frozenset[int]]  # None = every region (working group, admin)
    include_national: bool
    types: Optional[frozenset[str]]  # None = everything

    def wants(self, kind: str) -> bool:
        return self.types is None or kind in self.types


def feed_scope(user: User, args) -> FeedScope:
    """The scope for ``user`` narrowed by query options; options the user may not use are ignored."""
    allowed = readable_region_codes(user)
    regions, national = allowed, True
    region_arg = (args.get("region") or "").strip()
    if region_arg == NATIONAL:
        regions = frozenset()
    elif region_arg.isdigit() and (allowed is None or int(region_arg) in allowed):
        regions, national = frozenset({int(region_arg)}), False
    type_args = {value for value in args.getlist("type") if value} if hasattr(args, "getlist") else set()
    known = set(ACTIVITY_TYPE_CODES) | {NEXT_STEP, FIDELITY}
    types = frozenset(type_args & known) or None
    return FeedScope(region_codes=regions, include_national=national, types=types)


# --- Queries ---------------------------------------------------------------------------------


def feed_activities(scope: FeedScope, today: date) -> list[Activity]:
    """Activities in scope from ``CALENDAR_FEED_PAST_DAYS`` ago onwards (two queries)."""
    since = today - timedelta(days=int(current_app.config.get("CALENDAR_FEED_PAST_DAYS", 365)))
    query = (
        select(Activity)
        .where(or_(Activity.end_date >= since, Activity.start_date >= since))
        .options(selectinload(Activity.municipalities), joinedload(Activity.region))
        .order_by(Activity.start_date, Activity.id)
    )
    activity_types = [t for t in ACTIVITY_TYPE_CODES if scope.wants(t)]
    if scope.types is not None:
        query = query.where(Activity.type.in_(activity_types))
    if scope.region_codes is not None:
        region_filter = Activity.region_code.in_(sorted(scope.region_codes))
        if scope.include_national:
            region_filter = or_(region_filter, Activity.region_code.is_(None))
        query = query.where(region_filter)
    elif not scope.include_national:
        query = query.where(Activity.region_code.is_not(None))
    if scope.types is not None and not activity_types:
        return []
    return list(db.session.scalars(query))


def _region_list(scope: FeedScope) -> Optional[list[int]]:
    """Regions whose municipalities are in scope; None = all, [] = none (national only)."""
    return None if scope.region_codes is None else sorted(scope.region_codes)


def feed_next_steps(scope: FeedScope) -> list[Task]:
    """Open tasks ("next steps") in scope with a due date (one query)."""
    regions = _region_list(scope)
    if not scope.wants(NEXT_STEP) or regions == []:
        return []
    query = (
        select(Task).join(Task.municipality)
        .where(Task.status == TASK_OPEN, Task.due_date.is_not(None))
        .options(joinedload(Task.municipality), joinedload(Task.owner))
        .order_by(Task.due_date, Municipality.name, Task.id)
    )
    if regions is not None:
        query = query.where(Municipality.region_code.in_(regions))
    return list(db.session.scalars(query))


def feed_reviews(scope: FeedScope, today: date) -> list:
    """Fidelity reviews due (or overdue) in scope, from ``crm.services.fidelity.due_reviews``."""
    from crm.services.fidelity import due_reviews

    regions = _region_list(scope)
    if not scope.wants(FIDELITY) or regions == []:
        return []
    within = int(current_app.config.get("CALENDAR_FIDELITY_DAYS", 365))
    if regions is None:
        return due_reviews(today, within_days=within)
    return [review for code in regions for review in due_reviews(today, within_days=within, region_code=code)]


# --- Building events --------------------------------------------------------------------------


def _utc(moment: Optional[datetime]) -> datetime:
    """A stored naive-UTC timestamp as an aware UTC one (now when missing)."""
    return (moment or utcnow()).replace(tzinfo=timezone.utc)


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LOCAL_TZ)


def _activity_times(activity: Activity) -> tuple[date | datetime, date | datetime]:
    """(DTSTART, DTEND): all-day dates (end exclusive) without a start time, else local times."""
    last_day = activity.end_date or activity.start_date
    if activity.start_time is None:
        return activity.start_date, last_day + timedelta(days=1)
    start = _local(activity.start_date, activity.start_time)
    if activity.end_time is not None:
        end = _local(last_day, activity.end_time)
    elif activity.hours:
        end = start + timedelta(hours=float(activity.hours))
    else:
        end = start + DEFAULT_DURATION
    return start, max(end, start)


def activity_description(activity: Activity, link: str) -> str:
    """The event's DESCRIPTION: type, region, municipalities, note, and the link back."""
    lines = [activity.type_label, activity.region.name if activity.region else _("Nationalt")]
    if activity.municipalities:
        lines.append(_("Kommuner: %(names)s", names=", ".join(m.name for m in activity.municipalities)))
    note = auto_notes.note_text(activity)
    if note:
        lines += ["", note]
    lines += ["", _("Se i IPS CRM: %(url)s", url=link)]
    return "\n".join(lines)


def activity_event(activity: Activity) -> Event:
    """One activity as a VEVENT."""
    link = external_url("activities.detail", activity_id=activity.id)
    event = Event()
    event.add("uid", f"activity-{activity.id}@{UID_DOMAIN}")
    event.add("dtstamp", _utc(activity.updated_at or activity.created_at))
    event.add("created", _utc(activity.created_at))
    event.add("last-modified", _utc(activity.updated_at or activity.created_at))
    event.add("sequence", max(0, (activity.version or 1) - 1))
    start, end = _activity_times(activity)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", clean_text(activity.title))
    if activity.location:
        event.add("location", clean_text(activity.location))
    event.add("description", clean_text(activity_description(activity, link)))
    event.add("url", link)
    event.add("categories", [clean_text(activity.type_label, single_line=True)])
    event.add("transp", "OPAQUE" if activity.start_time else "TRANSPARENT")
    return event


def _all_day_event(uid: str, day: date, summary: str, description: str, link: str,
                   stamp: datetime, sequence: int = 0) -> Event:
    """A one-day, all-day reminder event that does not block time in the calendar."""
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("sequence", sequence)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", clean_text(summary))
    event.add("description", clean_text(description))
    event.add("url", link)
    event.add("transp", "TRANSPARENT")
    return event


def next_step_event(task: Task) -> Event:
    """An open task ("next step") on its due date."""
    municipality = task.municipality
    link = external_url("municipalities.detail", code=municipality.code)
    lines = [task.text]
    if task.owner:
        lines.append(_("Ansvarlig: %(name)s", name=task.owner.display_name))
    lines += ["", _("Se i IPS CRM: %(url)s", url=link)]
    return _all_day_event(
        f"task-{task.id}@{UID_DOMAIN}",
        task.due_date,
        _("Næste skridt: %(name)s", name=municipality.name),
        "\n".join(line for line in lines if line is not None).strip(),
        link,
        _utc(task.updated_at),
        max(0, (task.version or 1) - 1),
    )


def review_event(review) -> Event:
    """A fidelity review due (a ``DueReview``) on its due date."""
    municipality = review.municipality
    link = external_url("municipalities.detail", code=municipality.code)
    summary = _("Fidelitetsmåling forfalder: %(name)s", name=municipality.name)
    description = _("Næste fidelitetsmåling af %(name)s forfalder %(date)s.", name=municipality.name,
                    date=format_date(review.due_date))
    return _all_day_event(
        f"fidelity-due-{municipality.code}-{review.due_date:%Y%m%d}@{UID_DOMAIN}",
        review.due_date, summary, description + "\n\n" + _("Se i IPS CRM: %(url)s", url=link), link,
        _utc(None),
    )


def new_calendar(name: str) -> Calendar:
    """An empty VCALENDAR with the properties subscribers read (name, time zone, refresh rate).

    The name is one line: icalendar writes NAME and X-WR-CALNAME unescaped."""
    name = clean_text(name, single_line=True, max_length=200)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("name", name)
    cal.add("x-wr-timezone", "Europe/Copenhagen")
    # Outlook reads X-PUBLISHED-TTL, others REFRESH-INTERVAL: poll hourly.
    cal.add("x-published-ttl", "PT1H")
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    return cal


def finish(cal: Calendar, events: Iterable[Event]) -> bytes:
    """Add ``events`` and the VTIMEZONE they need; the calendar as bytes."""
    starts = []
    for event in events:
        cal.add_component(event)
        start = event.decoded("dtstart")
        starts.append(start.date() if isinstance(start, datetime) else start)
    if starts:
        # Only the years the events span, so the VTIMEZONE stays small.
        cal.add_missing_timezones(first_date=date(min(starts).year - 1, 1, 1),
                                  last_date=date(max(starts).year + 2, 1, 1))
    return cal.to_ical()


def user_feed(user: User, args, today: Optional[date] = None) -> bytes:
    """The personal feed of ``user`` (see the module docstring for what it holds)."""
    today = today or datetime.now(LOCAL_TZ).date()
    scope = feed_scope(user, args)
    events = [activity_event(a) for a in feed_activities(scope, today)]
    events += [next_step_event(t) for t in feed_next_steps(scope)]
    events += [review_event(r) for r in feed_reviews(scope, today)]
    name = _("IPS CRM – %(name)s", name=user.display_name)
    return finish(new_calendar(name), events)


def activity_ics(activity: Activity) -> bytes:
    """One activity as a calendar file (to import or forward as an invitation)."""
    return finish(new_calendar(activity.title), [activity_event(activity)])


def region_choices() -> list[tuple[str, str]]:
    """(value, label) for the feed's region option."""
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    return [(str(r.code), r.name) for r in regions] + [(NATIONAL, _("Nationale aktiviteter"))]


def type_choices() -> list[tuple[str, str]]:
    """(value, label) for the feed's type option."""
    choices = [(code, str(label)) for code, (label, _track) in ACTIVITY_TYPES.items()]
    return choices + [(NEXT_STEP, _("Opgaver (næste skridt)")), (FIDELITY, _("Fidelitetsmålinger"))]


# --- The user's own settings on the calendar page ----------------------------------------------


def reset_feed_token(*, actor: User) -> bool:
    """Issue ``actor`` a new feed token (or the first one) and commit; the old feed URL stops
    working at once. True when a token was replaced."""
    had_token = bool(actor.calendar_token)
    actor.reset_calendar_token()
    db.session.commit()
    return had_token


def set_digest(enabled: bool, *, actor: User) -> None:
    """Turn ``actor``'s own daily digest e-mail on or off, and commit."""
    actor.digest_enabled = enabled
    db.session.commit()
