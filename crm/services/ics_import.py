"""Import an .ics file (e.g. exported from Outlook) as draft activities.

``read_events`` parses the file and expands recurring events within the chosen date range
(``recurring-ical-events``, its rules walked lazily: see "Bounds" below), proposing for each
occurrence an activity type (keywords in the Danish text), date, times, duration in hours and the
municipalities named in the text. The user confirms which to create; ``create_activities`` creates
them for the acting user (``actor``, who must be allowed to write their region: ``import_region``)
and commits, marked "Importeret fra kalender" by an automatic note
(crm.services.auto_notes.CALENDAR_IMPORT, shown in the reader's language).

Nothing is created twice: each activity remembers its event in ``import_key``: ``ics:<UID>`` for
a single event, ``ics:<UID>:<occurrence start>`` for an occurrence of a recurring one (UIDs too
long for the column are hashed).

Bounds: a 215-byte file with ``RRULE:FREQ=SECONDLY`` and no COUNT describes billions of
occurrences, and the parser itself costs time per line. So before parsing, a file may have at
most ``MAX_LINES`` content lines and ``MAX_COMPONENTS`` components; while expanding, every date a
recurrence rule generates (also those before the chosen range, since a rule is walked from its
start) spends one unit of ``MAX_EXPANSION`` for the whole file, and the walk stops at the end of
the range; and the walk stops at ``MAX_EVENTS`` occurrences in the range. Each bound refuses the
file with a message that names it.
"""
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Iterable, Optional, Sequence

import recurring_ical_events
from crm.clock import LOCAL_TZ
from dateutil.rrule import DAILY, YEARLY, rrule
from crm.i18n import gettext as _
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.extensions import db
from crm.models import ACTIVITY_TYPE_CODES, Activity, Municipality
from crm.services import auto_notes, period_locks
from crm.services.locking import mark_updated
from crm.services.permissions import ensure_can_write
from crm.services.reference import municipality_name_lookup

MAX_RANGE_DAYS = 3 * 366
MAX_EVENTS = 2000  # a preview longer than this is not something a person can confirm row by row
KEY_LIMIT = 300  # Activity.import_key length
MAX_LINES = 30_000  # content lines (folded continuation lines not counted); parsing costs per line
MAX_COMPONENTS = 5_000  # BEGIN: lines (events, alarms, time zones…)
MAX_EXPANSION = 100_000  # dates all recurrence rules of one file may generate, counted from their starts

# First matching rule wins, so the specific words come before the general ones.
TYPE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dialogue_meeting", ("dialogmøde", "dialogmøder", "opfølgningsmøde", "samarbejdsmøde", "styregruppemøde")),
    ("supervision", ("supervision",)),
    ("management_network", ("ledelsesnetværk", "ledernetværk")),
    ("professional_network", ("netværk", "netværksmøde", "erfa")),
    ("webinar", ("webinar", "webinarer")),
    ("conference", ("konference", "temadag", "fyraftensmøde")),
    ("course", ("kursus", "kurser", "undervisning", "undervisningsforløb", "uddannelse", "træning")),
    ("evaluation", ("evaluering", "evalueringen", "evalueringsworkshop", "dataindsamling", "interview",
                    "interviews", "kvalitetsmålingsbesøg")),
    ("workshop", ("workshop", "workshops")),
)
DEFAULT_TYPE = "other"


class IcsError(ValueError):
    """A file that cannot be read as a calendar; the message is for the user."""


@dataclass
class Proposal:
    """One event (or occurrence) as a proposed activity."""

    key: str
    title: str
    start_date: date
    end_date: Optional[date]
    start_time: Optional[time]
    end_time: Optional[time]
    hours: Optional[Decimal]
    location: Optional[str]
    description: str
    type: str
    municipality_codes: list[int] = field(default_factory=list)
    already_imported: bool = False
    locked: Optional[str] = None  # why a submitted period refuses it (``mark_locked``)


# --- Guessing from the text ------------------------------------------------------------------


def guess_type(text: str) -> str:
    """The activity type whose Danish keyword appears first in the rule order, else "other"."""
    words = set(re.findall(r"\w+", text.lower()))
    lowered = text.lower()
    for code, keywords in TYPE_KEYWORDS:
        # Whole words, or the keyword as the last part of a compound ("IPS-dialogmøde", "Temakursus").
        if any(k in words or re.search(rf"\w{re.escape(k)}(?!\w)", lowered) for k in keywords):
            return code
    return DEFAULT_TYPE


@lru_cache(maxsize=1)
def _municipality_pattern() -> tuple[re.Pattern, dict[str, int]]:
    """One regex for every municipality name and variant (longest first), and name → code."""
    lookup = municipality_name_lookup()
    names = sorted(lookup, key=len, reverse=True)
    # \w is Unicode-aware, so æ, ø and å count as letters: "Ærø" does not match inside "Ærøskøbing".
    # An optional genitive s: "Københavns Kommune".
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in names) + r")s?(?!\w)", re.IGNORECASE)
    return pattern, lookup


def guess_municipalities(text: str) -> list[int]:
    """Codes of municipalities named in ``text``, in order of first mention.

    Names must start with a capital letter, as proper nouns do in Danish, so common words
    that are also municipality names ("skive", "odder") in lower case are not taken for them.
    """
    pattern, lookup = _municipality_pattern()
    codes: list[int] = []
    for match in pattern.finditer(text):
        if not match.group(1)[0].isupper():
            continue
        code = lookup.get(match.group(1).lower())
        if code is not None and code not in codes:
            codes.append(code)
    return codes


# --- Reading the file ------------------------------------------------------------------------


def _as_local(value) -> tuple[date, Optional[time]]:
    """A DTSTART/DTEND value as (local date, local time or None for all-day)."""
    if isinstance(value, datetime):
        local = value.astimezone(LOCAL_TZ) if value.tzinfo else value  # floating times are local
        return local.date(), local.time().replace(microsecond=0)
    return value, None


def _text(component, name: str) -> str:
    value = component.get(name)
    return str(value).strip() if value is not None else ""


def event_key(uid: str, recurrence: Optional[datetime | date]) -> str:
    """The activity's ``import_key`` for an event, or one occurrence of a recurring event."""
    from crm.services.importing import stable_hash

    key = f"ics:{uid}"
    if recurrence is not None:
        local_day, local_time = _as_local(recurrence)
        key += ":" + local_day.strftime("%Y%m%d") + (local_time.strftime("T%H%M%S") if local_time else "")
    if len(key) > KEY_LIMIT:
        key = "ics:sha256:" + stable_hash(key)
    return key


def _hours(start: datetime, end: datetime) -> Optional[Decimal]:
    """Duration in hours, to two decimals; None when it makes no sense."""
    seconds = (end - start).total_seconds()
    if seconds <= 0:
        return None
    return (Decimal(seconds) / Decimal(3600)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def recurring_uids(calendar: Calendar) -> set[str]:
    """UIDs of the file's recurring events (a rule, extra dates, or a moved occurrence)."""
    return {
        _text(event, "UID") for event in calendar.walk("VEVENT")
        if any(event.get(name) is not None for name in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }


def proposal_from_event(event, recurring: bool = False) -> Proposal:
    """One VEVENT occurrence (as expanded) as a proposed activity; ``recurring`` when it belongs
    to a series (then the key names the occurrence)."""
    uid = _text(event, "UID")
    start_value = event.decoded("DTSTART")
    end_value = event.decoded("DTEND") if event.get("DTEND") is not None else None
    if end_value is None and event.get("DURATION") is not None:
        end_value = start_value + event.decoded("DURATION")
    start_day, start_time = _as_local(start_value)
    end_day, end_time, hours = None, None, None
    if end_value is not None:
        end_day, end_time = _as_local(end_value)
        if start_time is None:
            end_day -= timedelta(days=1)  # an all-day DTEND is the day after
        elif isinstance(start_value, datetime) and isinstance(end_value, datetime):
            hours = _hours(start_value, end_value)
    if end_day is not None and end_day <= start_day:
        end_day = None
    # The expander gives every occurrence a RECURRENCE-ID (single events too); only a series needs it.
    recurrence = event.get("RECURRENCE-ID") if recurring else None
    title = _text(event, "SUMMARY") or _("(uden titel)")
    description = _text(event, "DESCRIPTION")
    location = _text(event, "LOCATION")
    text = "\n".join((title, location, description))
    return Proposal(
        key=event_key(uid, recurrence.dt if recurrence is not None else start_value if recurring else None),
        title=title[:300],
        start_date=start_day,
        end_date=end_day,
        start_time=start_time,
        end_time=end_time,
        hours=hours,
        location=location[:300] or None,
        description=description,
        type=guess_type(text),
        municipality_codes=guess_municipalities(text),
    )


class _Budget:
    """How many more dates the file's recurrence rules may generate."""

    def __init__(self, limit: int):
        self.left = limit

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise IcsError(_("Filen har gentagne aftaler med for mange gentagelser (over %(max)s, fx hvert "
                             "sekund eller minut) til at kunne læses.", max=MAX_EXPANSION))


_DAY_FILTERS = ("byweekday", "bymonthday", "byyearday", "byweekno", "bymonth")


def _never_matches(rule) -> bool:
    """Whether a rule's day filters can never all hold (30 February, 31 April…): dateutil would walk
    such a rule, finding nothing, to the year 9999. Probed as a yearly rule over the last 400-year
    cycle before 9999 (the Gregorian calendar repeats every 400 years), which takes milliseconds."""
    given = getattr(rule, "_original_rule", {}) or {}
    if not any(given.get(name) for name in _DAY_FILTERS if name != "bymonth"):
        return False  # without day filters dateutil derives the day from DTSTART: always a match
    start = rule._dtstart
    shifted = start.replace(year=start.year + 400 * max(0, (9600 - start.year + 399) // 400))
    probe = rule.replace(freq=YEARLY, interval=1, count=None, until=None, dtstart=shifted)
    return next(iter(probe), None) is None


def _check_rule(rule) -> None:
    """Refuse a rule that could walk day by day for millennia without a match: a daily or finer
    rule with an interval and day filters (every 7th day on Tuesdays, from a Monday)."""
    given = getattr(rule, "_original_rule", {}) or {}
    if rule._freq >= DAILY and rule._interval > 1 and any(given.get(name) for name in _DAY_FILTERS):
        raise IcsError(_("Filen har en gentagelsesregel, der ikke understøttes (et interval sammen med "
                         "bestemte dage ved daglige eller hyppigere gentagelser)."))


class _LazyRule:
    """A dateutil rule whose ``between`` is a generator that stops at the end of the range and
    spends the budget for every date it generates (dateutil's own ``between`` builds a list of
    every occurrence up to the end first). A rule that can never match yields nothing."""

    def __init__(self, rule, budget: _Budget):
        self._rule = rule
        self._budget = budget
        self._empty = False
        if isinstance(rule, rrule):
            _check_rule(rule)
            self._empty = _never_matches(rule)

    def __getattr__(self, name):
        return getattr(self._rule, name)

    def between(self, after, before, inc: bool = False):
        if self._empty:
            return
        for moment in self._rule:
            self._budget.spend()
            if moment > before or (moment == before and not inc):
                return
            if moment > after or (moment == after and inc):
                yield moment


_CONTENT_LINE = re.compile(r"^[^ \t\r\n]", re.MULTILINE)  # a line that is not a folded continuation
_BEGIN = re.compile(r"^BEGIN:", re.MULTILINE | re.IGNORECASE)


def _check_size(text: str) -> None:
    """Refuse a file with more content lines or components than the bounds, before parsing it
    (counting stops at the bound, and holds no list of lines)."""
    for count, _match in enumerate(_BEGIN.finditer(text), start=1):
        if count > MAX_COMPONENTS:
            raise IcsError(_("Kalenderfilen har mere end %(max)s aftaler og andre dele. Eksportér en kortere "
                             "periode.", max=MAX_COMPONENTS))
    for count, _match in enumerate(_CONTENT_LINE.finditer(text), start=1):
        if count > MAX_LINES:
            raise IcsError(_("Kalenderfilen er for stor: mere end %(max)s linjer. Eksportér en kortere periode.",
                             max=MAX_LINES))


def bounded_occurrences(calendar: Calendar, start: date, end: date) -> list:
    """The occurrences (as components) of every event between ``start`` and ``end`` (exclusive),
    one series at a time, each rule walked lazily against one budget (``MAX_EXPANSION``); more
    than ``MAX_EVENTS`` stops the walk at once."""
    query = recurring_ical_events.of(calendar)
    budget = _Budget(MAX_EXPANSION)
    for series in query.series:
        recurrence = getattr(series, "recurrence", None)
        if getattr(recurrence, "rrules", None):
            recurrence.rrules = [_LazyRule(rule, budget) for rule in recurrence.rrules]
    span_start, span_end = query.to_datetime(start), query.to_datetime(end)
    occurrences = []
    for series in query.series:
        for occurrence in series.between(span_start, span_end):
            occurrences.append(occurrence)
            if len(occurrences) > MAX_EVENTS:
                raise IcsError(_("Filen har mere end %(max)s aftaler i perioden. Vælg en kortere periode.",
                                 max=MAX_EVENTS))
    return [occurrence.as_component(query.keep_recurrence_attributes) for occurrence in occurrences]


def read_events(data: bytes, start: date, end: date) -> list[Proposal]:
    """Proposals for every event in ``data`` between ``start`` and ``end`` (inclusive), by date.

    Recurring events are expanded within the range (bounded: see the module docstring). Raises
    ``IcsError`` for an unreadable file, an unreasonable range or a file over a bound.
    """
    if end < start:
        raise IcsError(_("Slutdatoen må ikke ligge før startdatoen."))
    if (end - start).days > MAX_RANGE_DAYS:
        raise IcsError(_("Vælg en periode på højst tre år."))
    try:
        text = data.decode("utf-8-sig", errors="replace")
        _check_size(text)
        calendar = Calendar.from_ical(text)
        series = recurring_uids(calendar)
        proposals = []
        for occurrence in bounded_occurrences(calendar, start, end + timedelta(days=1)):
            if not _text(occurrence, "UID") or occurrence.get("DTSTART") is None:
                continue  # without a UID an event cannot be recognised next time; skip it
            proposals.append(proposal_from_event(occurrence, _text(occurrence, "UID") in series))
    except IcsError:
        raise
    except Exception as error:  # icalendar and the expander raise many kinds for broken input
        raise IcsError(_("Filen kunne ikke læses som en kalender (.ics): %(error)s", error=str(error)[:200]))
    proposals.sort(key=lambda p: (p.start_date, p.start_time or time.min, p.title))
    _mark_imported(proposals)
    return proposals


def _mark_imported(proposals: Sequence[Proposal]) -> None:
    """Flag proposals whose event was imported before (one query per 500 keys)."""
    keys = [p.key for p in proposals]
    existing: set[str] = set()
    for offset in range(0, len(keys), 500):
        existing.update(db.session.scalars(select(Activity.import_key).where(
            Activity.import_key.in_(keys[offset:offset + 500]))))
    for proposal in proposals:
        proposal.already_imported = proposal.key in existing


# --- Creating the activities -----------------------------------------------------------------


def mark_locked(proposals: Sequence[Proposal], region_code: Optional[int], locks=None) -> None:
    """Note on each proposal dated in a submitted, locked period of ``region_code`` why it cannot be
    created (the lock state is read once)."""
    locks = locks or period_locks.load_locks()
    for proposal in proposals:
        lock = locks.lock_for(region_code, proposal.start_date)
        proposal.locked = lock.message() if lock is not None else None


def _note(proposal: Proposal) -> Optional[str]:
    """The activity's note: the event's own description (the import mark is an automatic note)."""
    return proposal.description or None


def import_region(chosen: Optional[int], *, actor) -> Optional[int]:
    """The region imported activities get: an ambassador's own, else the one ``actor`` chose
    (None: national). ``Forbidden`` unless ``actor`` may write it."""
    region = actor.region_code if actor.is_ambassador else chosen
    ensure_can_write(region, user=actor)
    return region


def create_activities(proposals: Iterable[Proposal], region_code: Optional[int], *, actor,
                      types: Optional[dict[str, str]] = None) -> tuple[list[Activity], int]:
    """Create activities of ``region_code`` for ``proposals`` not imported before, as ``actor``;
    commits once. ``Forbidden`` unless ``actor`` may write the region (every activity has it).

    ``types`` maps a proposal key to the type the user chose. Returns the created activities
    and how many were skipped as already imported (including repeats within the file). A proposal
    dated in a submitted, locked period is not created: its ``locked`` says why.
    """
    ensure_can_write(region_code, user=actor)
    types = types or {}
    proposals = list(proposals)
    _mark_imported(proposals)
    mark_locked(proposals, region_code)
    codes = {code for p in proposals for code in p.municipality_codes}
    municipalities = {m.code: m for m in db.session.scalars(
        select(Municipality).where(Municipality.code.in_(sorted(codes))))} if codes else {}
    created: list[Activity] = []
    seen: set[str] = set()
    skipped = 0
    for proposal in proposals:
        if proposal.already_imported or proposal.key in seen:
            skipped += 1
            continue
        if proposal.locked:
            continue
        seen.add(proposal.key)
        chosen = types.get(proposal.key)
        activity = Activity(
            type=chosen if chosen in ACTIVITY_TYPE_CODES else proposal.type,
            title=proposal.title, start_date=proposal.start_date, end_date=proposal.end_date,
            start_time=proposal.start_time, end_time=proposal.end_time, hours=proposal.hours,
            location=proposal.location, region_code=region_code,
            note=_note(proposal), note_kind=auto_notes.CALENDAR_IMPORT,
            import_key=proposal.key, created_by_id=actor.id,
            municipalities=[municipalities[c] for c in proposal.municipality_codes if c in municipalities],
        )
        mark_updated(activity, actor)
        db.session.add(activity)
        created.append(activity)
    try:
        db.session.commit()
    except IntegrityError:
        # The same file confirmed twice at once: the other request created them; nothing twice.
        db.session.rollback()
        return [], len(proposals)
    return created, skipped
