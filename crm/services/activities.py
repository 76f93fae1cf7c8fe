"""Activities: the rules for logging them, the filtered list, export rows, and the spreadsheet import.

Views parse input and call these functions; nothing here needs an HTTP request. The write
functions take the acting user (``actor``), check the region rule themselves and commit.
"""
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Hashable, Iterable, Mapping, Optional, Sequence

from crm.formatting import format_date, number_as_typed
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import joinedload, selectinload

from crm.extensions import db
from crm.models import (
    ACTIVITY_TYPE_CODES,
    ACTIVITY_TYPE_WORDS,
    ACTIVITY_TYPES,
    TRACKS,
    Activity,
    Municipality,
    PsychiatricCentre,
    Region,
    activity_municipality,
    types_in_track,
)
from crm.services import auto_notes, period_locks
from crm.services.export import csv_text
from crm.services.importing import (
    Change,
    FieldParser,
    Importer,
    MunicipalityLookup,
    RowError,
    labels_in_every_language,
    chunked,
    stable_hash,
)
from crm.services.errors import FieldError
from crm.services.locking import commit_versioned, ensure_version, mark_updated
from crm.services.numbers import FormWarning
from crm.services.permissions import can_write_region, ensure_can_change_activity, ensure_can_write

NATIONAL = "national"  # filter value for activities without a region
SPLIT_ORGANISATION = ("participants_municipality", "participants_psychiatry", "participants_other")
SPLIT_LEVEL = ("participants_staff", "participants_managers")
COUNT_FIELDS = ("participants",) + SPLIT_ORGANISATION + SPLIT_LEVEL + ("sessions",)
MAX_HOURS = 9999  # the column holds up to 999 999.99; anything near that is a typing error
# Allowed but unusual: saved only after the user confirms ("12,5" read as 125 must not slip through).
MAX_PLAUSIBLE_HOURS_PER_DAY = 12  # a single supervision over 12 hours is a typing error until confirmed
MAX_PLAUSIBLE_PARTICIPANTS = 5000
# Types whose extra field matters: a course's sessions, a material's link.
SESSION_TYPES = frozenset({"course"})
LINK_REQUIRED_TYPES = frozenset({"material"})


# --------------------------------------------------------------------------------------------
# Validation rules (used by the form; the import has its own narrower columns)


def validation_errors(data: Mapping[str, Any]) -> dict[str, str]:
    """Field name → Danish message for the rules that span several fields.

    ``data`` holds the activity's values by model field name (None when empty).
    """
    errors: dict[str, str] = {}
    start, end = data.get("start_date"), data.get("end_date")
    if start and end and end < start:
        errors["end_date"] = _("Slutdatoen må ikke ligge før startdatoen.")
    start_time, end_time = data.get("start_time"), data.get("end_time")
    if start_time and end_time and (not end or end == start) and end_time <= start_time:
        errors["end_time"] = _("Sluttidspunktet skal ligge efter starttidspunktet.")
    for name in COUNT_FIELDS:
        value = data.get(name)
        if value is not None and value < 0:
            errors[name] = _("Skal være et tal fra 0 og op.")
    hours = data.get("hours")
    if hours is not None and hours < 0:
        errors["hours"] = _("Skal være et tal fra 0 og op.")
    elif hours is not None and hours > MAX_HOURS:
        errors["hours"] = _("Højst %(max)s timer.", max=MAX_HOURS)
    errors.update(_split_errors(data))
    errors.update(_type_errors(data))
    return errors


def plausibility_warnings(data: Mapping[str, Any], municipality_codes: Sequence[int] = ()) -> list[FormWarning]:
    """Values that are allowed but unusual, to be confirmed before saving: more than
    ``MAX_PLAUSIBLE_HOURS_PER_DAY`` hours a day (or a course session), more than
    ``MAX_PLAUSIBLE_PARTICIPANTS`` participants, municipalities outside the activity's region."""
    warnings = []
    hours, start, end = data.get("hours"), data.get("start_date"), data.get("end_date")
    days = (end - start).days + 1 if start and end and end >= start else 1
    limit = MAX_PLAUSIBLE_HOURS_PER_DAY * max(days, data.get("sessions") or 1)
    if hours is not None and hours > limit:
        message = (_("Over %(max)s timer på én dag. Er det rigtigt (fx 12,5 og ikke 125)?", max=limit) if limit ==
                   MAX_PLAUSIBLE_HOURS_PER_DAY else _("Over %(max)s timer i alt. Er det rigtigt?", max=limit))
        warnings.append(FormWarning("hours", f"hours:{number_as_typed(hours)}>{limit}", message))
    participants = data.get("participants")
    if participants is not None and participants > MAX_PLAUSIBLE_PARTICIPANTS:
        warnings.append(FormWarning("participants", f"participants:{participants}", _(
            "Over %(max)s deltagere. Er det rigtigt?", max=MAX_PLAUSIBLE_PARTICIPANTS)))
    outside = municipalities_outside_region(data.get("region_code"), municipality_codes)
    if outside:
        region = db.session.get(Region, data["region_code"])
        warnings.append(FormWarning(
            "municipality_codes", "outside:%s:%s" % (data["region_code"], ",".join(str(m.code) for m in outside)),
            _("%(names)s ligger uden for %(region)s. Er det rigtigt?",
              names=", ".join(m.name for m in outside), region=region.name)))
    return warnings


def municipalities_outside_region(region_code: Optional[int], codes: Sequence[int]) -> list[Municipality]:
    """The chosen municipalities that lie outside the activity's region (none for a national one)."""
    if region_code is None or not codes:
        return []
    return list(db.session.scalars(
        select(Municipality).where(Municipality.code.in_(list(codes)), Municipality.region_code != region_code)
        .order_by(Municipality.name)))


def _split_errors(data: Mapping[str, Any]) -> dict[str, str]:
    """Neither the organisation split nor the level split may exceed the total."""
    errors: dict[str, str] = {}
    total = data.get("participants")
    for fields_, label in ((SPLIT_ORGANISATION, _l("organisation")), (SPLIT_LEVEL, _l("niveau"))):
        parts = [data.get(name) or 0 for name in fields_]
        if not any(data.get(name) is not None for name in fields_):
            continue
        first_given = next(name for name in fields_ if data.get(name) is not None)
        if total is None:
            errors[first_given] = _("Angiv også det samlede antal deltagere.")
        elif sum(parts) > total:
            errors[first_given] = _(
                "Fordelingen på %(what)s (%(sum)s) er større end det samlede antal deltagere (%(total)s).",
                what=label, sum=sum(parts), total=total,
            )
    return errors


def _type_errors(data: Mapping[str, Any]) -> dict[str, str]:
    """Fields that belong to one type: a course's sessions, a material's link."""
    errors: dict[str, str] = {}
    kind = data.get("type")
    if data.get("sessions") is not None and kind not in SESSION_TYPES:
        errors["sessions"] = _("Antal gange bruges kun ved undervisningsforløb.")
    if kind in SESSION_TYPES and data.get("sessions") == 0:
        errors["sessions"] = _("Et forløb har mindst én gang.")
    if kind in LINK_REQUIRED_TYPES and not data.get("link"):
        errors["link"] = _("Angiv et link til materialet.")
    return errors


# --------------------------------------------------------------------------------------------
# Writing


def ensure_can_change(activity: Activity, *, actor) -> None:
    """``Forbidden`` unless ``actor`` may edit or delete the stored ``activity``."""
    ensure_can_change_activity(activity, user=actor)


def save_activity(activity: Optional[Activity], values: Mapping[str, Any], municipality_codes: Sequence[int],
                  centre_ids: Sequence[int], version: Any = None, *, actor) -> Activity:
    """Create (``activity`` None) or update an activity from parsed values as ``actor``; commits.

    Raises ``Forbidden`` when the actor may not change the stored activity or write the region
    the values name, ``FieldError`` for a rule spanning fields (the form shows those beside their
    fields first), and ``Conflict`` when someone saved the activity since ``version`` was shown
    (then nothing is saved).
    """
    if activity is not None:
        ensure_can_change(activity, actor=actor)
    ensure_can_write(values.get("region_code"), user=actor)  # the region it will have
    errors = validation_errors(values)
    if errors:  # the form shows them all beside their fields; a caller without one gets the first
        field_name, message = next(iter(errors.items()))
        raise FieldError(message, field_name)
    period_locks.ensure_change_allowed(
        period_locks.activity_place(activity) if activity is not None else None,
        (values.get("region_code"), values.get("start_date")), actor=actor, field_name="start_date")
    if activity is None:
        activity = Activity(created_by_id=getattr(actor, "id", None))
        db.session.add(activity)
    else:
        ensure_version(activity, version)
    for name, value in values.items():
        setattr(activity, name, value)
    if values.get("type") not in SESSION_TYPES:
        activity.sessions = None
    activity.municipalities = _load(Municipality, Municipality.code, municipality_codes)
    activity.centres = _load(PsychiatricCentre, PsychiatricCentre.id, centre_ids)
    mark_updated(activity, actor)
    commit_versioned(activity)
    return activity


def _load(model, key_column, keys: Sequence) -> list:
    """Rows of ``model`` whose key is in ``keys`` (one query)."""
    if not keys:
        return []
    return list(db.session.scalars(select(model).where(key_column.in_(list(keys)))))


def delete_activity(activity: Activity, *, actor) -> None:
    """Delete an activity as ``actor`` (its municipality/centre links go with it); commits.
    ``Forbidden`` unless the actor may change it."""
    ensure_can_change(activity, actor=actor)
    period_locks.ensure_unlocked(*period_locks.activity_place(activity), actor=actor, field_name="start_date")
    db.session.delete(activity)
    db.session.commit()


COPIED_FIELDS = (
    "type", "title", "location", "hours", "region_code", "start_time", "end_time", "participants",
    *SPLIT_ORGANISATION, *SPLIT_LEVEL, "sessions", "link", "note",
)


def copy_values(activity: Activity, *, actor) -> dict[str, Any]:
    """What "log a similar activity" pre-fills: everything but the dates (the user sets those),
    in the actor's own region when they may not log one in the source's."""
    values = {name: getattr(activity, name) for name in COPIED_FIELDS}
    if not can_write_region(values["region_code"], user=actor):
        values["region_code"] = actor.region_code
    values["municipality_codes"] = [m.code for m in activity.municipalities]
    values["centre_ids"] = [c.id for c in activity.centres]
    return values


# --------------------------------------------------------------------------------------------
# The filtered list


@dataclass
class ActivityFilters:
    """The list filters, already parsed; bad query values are ignored (left None)."""

    type: Optional[str] = None
    track: Optional[int] = None
    region: Optional[str] = None  # a region code as text, or NATIONAL
    municipality: Optional[int] = None
    date_from: Optional[date] = None
    date_to: Optional[date] = None
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: Mapping[str, str], region_codes: Optional[set[int]] = None) -> "ActivityFilters":
        """Parse query arguments; unknown values are dropped (and named in ``ignored``).

        ``region_codes``: the known regions, if the caller has them loaded already (saves a query).
        """
        from crm.services.importing import parse_date_text

        filters = cls()
        kind = (args.get("type") or "").strip()
        if kind:
            filters.type = kind if kind in ACTIVITY_TYPE_CODES else filters._ignore("type")
        filters.track = filters._int_in(args, "track", set(TRACKS))
        region = (args.get("region") or "").strip()
        if region:
            known = region_codes if region_codes is not None else _region_codes()
            valid = region == NATIONAL or (region.isdigit() and int(region) in known)
            filters.region = region if valid else filters._ignore("region")
        filters.municipality = filters._int_in(args, "municipality", None)
        for name in ("date_from", "date_to"):
            text = (args.get(name) or "").strip()
            if text:
                setattr(filters, name, parse_date_text(text) or filters._ignore(name))
        return filters

    def _ignore(self, name: str) -> None:
        self.ignored.append(name)
        return None

    def _int_in(self, args: Mapping[str, str], name: str, allowed: Optional[set]) -> Optional[int]:
        text = (args.get(name) or "").strip()
        if not text:
            return None
        if text.isdigit() and (allowed is None or int(text) in allowed):
            return int(text)
        return self._ignore(name)

    def as_args(self) -> dict[str, str]:
        """The active filters as query arguments (for pagination and export links)."""
        values = {
            "type": self.type, "track": self.track, "region": self.region, "municipality": self.municipality,
            "date_from": format_date(self.date_from) if self.date_from else None,
            "date_to": format_date(self.date_to) if self.date_to else None,
        }
        return {k: str(v) for k, v in values.items() if v is not None}


def _region_codes() -> set[int]:
    return set(db.session.scalars(select(Region.code)))


def _region_name_lookup() -> dict[str, int]:
    """Region names as the export writes them ("Region Hovedstaden"), also without "Region ",
    lower-cased → code."""
    lookup: dict[str, int] = {}
    for code, name in db.session.execute(select(Region.code, Region.name)):
        lookup[name.lower()] = code
        lookup[re.sub(r"^region\s+", "", name.lower())] = code
    return lookup


# What the list page shows (``list_query``); nothing else is read (a page of 50 rows
# of 25 columns and four relationships cost more to build than to render).
LIST_COLUMNS = (Activity.id, Activity.type, Activity.title, Activity.start_date, Activity.end_date,
                Activity.region_code, Activity.participants, Activity.hours)


@dataclass(frozen=True)
class ListedActivity:
    """One row of the activity list as plain values: what the list shows, no ORM object (building
    50 activities with their region and municipalities cost more than rendering them)."""

    id: int
    type: str
    title: str
    start_date: date
    end_date: Optional[date]
    region_code: Optional[int]
    participants: Optional[int]
    hours: Optional[Decimal]
    region_name: Optional[str]  # None: a national activity
    municipality_names: tuple[str, ...] = ()

    @property
    def region_short_name(self) -> Optional[str]:
        """'Hovedstaden' for 'Region Hovedstaden', as ``Region.short_name``."""
        return None if self.region_name is None else self.region_name.removeprefix("Region ").strip()


def list_query(filters: "ActivityFilters") -> Select:
    """The list's columns and the region's name, filtered and ordered as ``filtered_query``."""
    return (filtered_query(filters).with_only_columns(*LIST_COLUMNS, Region.name)
            .outerjoin(Region, Region.code == Activity.region_code))


def listed_activities(rows: Sequence) -> list[ListedActivity]:
    """``list_query``'s rows with each activity's municipality names (by name, as
    ``Activity.municipalities``): one statement, also for no rows, so the page's count is constant."""
    names: dict[int, list[str]] = {}
    linked = (select(activity_municipality.c.activity_id, Municipality.name)
              .join(Municipality, Municipality.code == activity_municipality.c.municipality_code)
              .where(activity_municipality.c.activity_id.in_([row[0] for row in rows])).order_by(Municipality.name))
    for activity_id, name in db.session.execute(linked):
        names.setdefault(activity_id, []).append(name)
    return [ListedActivity(*row, municipality_names=tuple(names.get(row[0], ()))) for row in rows]


def export_options() -> tuple:
    return (selectinload(Activity.municipalities), selectinload(Activity.centres),
            joinedload(Activity.region), joinedload(Activity.created_by))


def filtered_query(filters: ActivityFilters, options: tuple = ()) -> Select:
    """Activities matching the filters, newest first, with ``options`` (what the caller shows) eager-loaded."""
    query = select(Activity).options(*options).order_by(Activity.start_date.desc(), Activity.id.desc())
    if filters.type:
        query = query.where(Activity.type == filters.type)
    if filters.track:
        codes = types_in_track(filters.track)
        # "Andet" (no fixed track) is included in no track filter; it has its own type filter.
        query = query.where(Activity.type.in_(codes))
    if filters.region == NATIONAL:
        query = query.where(Activity.region_code.is_(None))
    elif filters.region:
        query = query.where(Activity.region_code == int(filters.region))
    if filters.municipality:
        involved = select(activity_municipality.c.activity_id).where(
            activity_municipality.c.municipality_code == filters.municipality
        )
        query = query.where(Activity.id.in_(involved))
    if filters.date_from:
        # An activity spanning weeks counts while it runs: it ends on or after the start of the range.
        query = query.where(or_(Activity.start_date >= filters.date_from, Activity.end_date >= filters.date_from))
    if filters.date_to:
        query = query.where(Activity.start_date <= filters.date_to)
    return query


EXPORT_HEADER = (  # literal _l() calls, so Babel extracts each title
    _l("Startdato"), _l("Slutdato"), _l("Type"), _l("Spor"), _l("Titel"), _l("Region"),
    _l("Kommuner"), _l("Psykiatriske centre"), _l("Sted"), _l("Timer"), _l("Deltagere"),
    _l("Heraf kommune"), _l("Heraf psykiatri"), _l("Heraf andre"), _l("Heraf medarbejdere"),
    _l("Heraf ledere"), _l("Antal gange"), _l("Link"), _l("Note"), _l("Registreret af"),
)
# The import column each export column is read back as (None: shown for information, read past),
# so an exported file, saved by Excel or not, imports back unchanged.
EXPORT_READ_BACK_AS = ("date", None, "type", None, "title", "region", "municipalities", None, None, "hours",
                       "participants", None, None, None, None, None, None, None, "note", None)
NATIONAL_LABEL = _l("Landsdækkende")


def export_header() -> list[str]:
    """Column titles of the export (translated)."""
    return [str(title) for title in EXPORT_HEADER]


def export_rows(activities: Sequence[Activity]) -> list[list[Any]]:
    """One row per activity, in the order of ``export_header``."""
    rows = []
    for a in activities:
        rows.append([
            a.start_date, a.end_date, a.type_label, str(TRACKS[a.track]) if a.track else "", a.title,
            a.region.name if a.region else str(NATIONAL_LABEL),
            ", ".join(m.name for m in a.municipalities), ", ".join(c.name for c in a.centres), a.location,
            a.hours, a.participants, a.participants_municipality, a.participants_psychiatry,
            a.participants_other, a.participants_staff, a.participants_managers, a.sessions, a.link,
            auto_notes.note_text(a),
            a.created_by.display_name if a.created_by else "",
        ])
    return rows


# --------------------------------------------------------------------------------------------
# Import


@dataclass(frozen=True)
class ActivityRow:
    """One parsed row of an activity file."""

    start_date: date
    type: str
    title: str
    region_code: Optional[int]
    municipality_codes: tuple[int, ...]
    participants: Optional[int]
    hours: Optional[Decimal]
    note: Optional[str]

    @property
    def figures(self) -> tuple:
        """What a re-import may change on the activity it matches: (participants, hours, note)."""
        return self.participants, self.hours, self.note


def _type_lookup() -> dict[str, str]:
    """Type codes, their Danish and English labels and the everyday Danish words (lower-cased)
    → code, so any of them may be written, whatever the language of the page."""
    lookup = {code: code for code in ACTIVITY_TYPE_CODES}
    lookup.update(labels_in_every_language({code: label for code, (label, _track) in ACTIVITY_TYPES.items()}))
    lookup.update(ACTIVITY_TYPE_WORDS)
    return lookup


def import_key(row: ActivityRow) -> str:
    """A stable hash of the fields that identify an activity (date, type, title, region, municipalities)."""
    return identity_key(row.start_date, row.type, row.title, row.region_code, row.municipality_codes)


def identity_key(start_date: date, kind: str, title: str, region_code: Optional[int],
                 municipality_codes: Sequence[int]) -> str:
    """``import_key`` from the fields themselves (municipality codes sorted), for stored activities too."""
    title = re.sub(r"\s+", " ", title).strip().casefold()
    codes = "|".join(str(c) for c in municipality_codes)
    return "import:" + stable_hash(start_date.isoformat(), kind, title, region_code or "", codes)


class ActivityImporter(Importer):
    """``date,type,title,region,municipalities,participants,hours,note``; region rule per row."""

    label = _l("aktiviteter")
    columns = ("date", "type", "title", "region", "municipalities", "participants", "hours", "note")
    column_aliases = {"dato": "date", "titel": "title", "kommuner": "municipalities", "kommune": "municipalities",
                      "deltagere": "participants", "timer": "hours", "bemærkning": "note"}
    changeable = ("participants", "hours", "note")

    def __init__(self, actor=None):
        super().__init__(actor)
        self.municipalities = MunicipalityLookup()
        self.region_codes = _region_codes()
        self.types = _type_lookup()
        self._municipality_objects: Optional[dict[int, Municipality]] = None
        # The list export's own headers, in every language: read back, or read past.
        exported = labels_in_every_language(dict(enumerate(EXPORT_HEADER)))
        self.column_aliases = {**type(self).column_aliases,
                               **{title: EXPORT_READ_BACK_AS[i] for title, i in exported.items()
                                  if EXPORT_READ_BACK_AS[i]}}
        self.ignored_columns = tuple(title for title, i in exported.items() if not EXPORT_READ_BACK_AS[i])
        self.region_by_name = _region_name_lookup()
        self.national_words = set(labels_in_every_language({"": NATIONAL_LABEL}))
        self._dates: set[date] = set()  # the rows' dates, to find activities logged on the page
        self._matched_ids: dict[str, int] = {}  # identity key → such an activity

    def read_back(self, values: dict[str, str]) -> dict[str, str]:
        """What the export writes in place of the import's codes, as the import's own cells: a
        region's name (or "Landsdækkende") as its code (or empty), municipalities separated by
        commas as by ``|``, and text the export protected with a leading ``'`` without it."""
        region = values.get("region", "")
        if region.lower() in self.national_words:
            region = ""
        else:
            region = str(self.region_by_name.get(region.lower(), region))
        municipalities = values.get("municipalities", "")
        if "|" not in municipalities:
            municipalities = municipalities.replace(",", "|")
        return {**values, "region": region, "municipalities": municipalities,
                "title": csv_text(values.get("title", "")), "note": csv_text(values.get("note", ""))}

    def parse_row(self, values: dict[str, str], line_no: int) -> tuple[Optional[ActivityRow], list[RowError]]:
        """Check one row's cells and the user's right to write its region."""
        values = self.read_back(values)
        errors: list[RowError] = []
        p = FieldParser(line_no, errors)
        start = p.date(values, "date", required=True)
        if start is not None:
            self._dates.add(start)
        type_text = p.text(values, "type", required=True, max_length=60)
        kind = self.types.get(type_text.lower()) if type_text else None
        if type_text and kind is None:
            p.error("type", _("Ukendt aktivitetstype »%(value)s«. Brug en af: %(codes)s.",
                              value=type_text, codes=", ".join(ACTIVITY_TYPE_CODES)))
        title = p.text(values, "title", required=True, max_length=300)
        region = p.region(values, "region", self.region_codes)
        if region is not None or not values.get("region"):  # a bad code is already reported
            self.check_region(p, "region", region)
        codes = p.municipalities(values, "municipalities", self.municipalities)
        participants = p.whole(values, "participants")
        hours = p.decimal(values, "hours")
        note = p.text(values, "note", max_length=5000)
        if errors:
            return None, errors
        return ActivityRow(start, kind, title, region, tuple(codes), participants, hours, note), errors

    def lock_place(self, parsed: ActivityRow) -> tuple[Optional[int], date, str]:
        """An activity is locked by its region (national: none) and its start date; a changed row
        keeps both (they are part of its identity), so its old and new place are the same."""
        return parsed.region_code, parsed.start_date, "date"

    def row_key(self, parsed: ActivityRow) -> Hashable:
        """The activity's identity and its figures: the same row again is 'already present'."""
        return (import_key(parsed), *parsed.figures)

    def slot_key(self, parsed: ActivityRow) -> Hashable:
        """One activity per identity (date, type, title, region, municipalities)."""
        return import_key(parsed)

    def existing_slots(self, slot_keys: Sequence[Hashable]) -> dict[Hashable, Hashable]:
        """Stored activities with these import keys, with their figures (chunked IN queries); then,
        for the keys not found, activities logged on the page (or from a calendar) on the file's
        dates whose date, type, title, region and municipalities are the row's, so an exported
        file imports back as "already present" rather than twice."""
        found: dict[Hashable, Hashable] = {}
        for chunk in chunked(list(slot_keys)):
            query = select(Activity.import_key, Activity.participants, Activity.hours, Activity.note).where(
                Activity.import_key.in_(chunk))
            for key, *figures in db.session.execute(query):
                found[key] = (key, *figures)
        missing = set(slot_keys) - set(found)
        if missing:
            for activity_id, key, figures in self._logged_elsewhere(missing):
                if key not in found:
                    found[key] = (key, *figures)
                    self._matched_ids[key] = activity_id
        return found

    def _logged_elsewhere(self, keys: set) -> Iterable[tuple[int, str, tuple]]:
        """(id, identity key, figures) of every activity on the file's dates (one logged on the page
        has no import key; one imported and then renamed keeps its old one)."""
        query = select(Activity.id, Activity.start_date, Activity.type, Activity.title, Activity.region_code,
                       Activity.participants, Activity.hours, Activity.note)
        for chunk in chunked(sorted(self._dates)):
            rows = db.session.execute(query.where(Activity.start_date.in_(chunk))).all()
            codes: dict[int, list[int]] = {row.id: [] for row in rows}
            for ids in chunked(list(codes)):
                links = select(activity_municipality.c.activity_id, activity_municipality.c.municipality_code).where(
                    activity_municipality.c.activity_id.in_(ids))
                for activity_id, code in db.session.execute(links):
                    codes[activity_id].append(code)
            for row in rows:
                key = identity_key(row.start_date, row.type, row.title, row.region_code, sorted(codes[row.id]))
                if key in keys:
                    yield row.id, key, (row.participants, row.hours, row.note)

    def changes(self, parsed: ActivityRow, existing_row_key: Hashable) -> list[Change]:
        """The figures that differ from the stored activity's, old → new."""
        return [Change(column, old, new) for column, old, new
                in zip(self.changeable, existing_row_key[1:], parsed.figures) if old != new]

    def update(self, parsed: ActivityRow) -> None:
        """Put the file's figures on the stored activity (audited like any edit)."""
        key = import_key(parsed)
        if key in self._matched_ids:
            activity = db.session.get(Activity, self._matched_ids[key])
        else:
            activity = db.session.scalar(select(Activity).where(Activity.import_key == key))
        activity.participants, activity.hours, activity.note = parsed.figures

    def create(self, parsed: ActivityRow) -> None:
        """Add the activity; the framework commits once for the whole file."""
        if self._municipality_objects is None:
            self._municipality_objects = {m.code: m for m in db.session.scalars(select(Municipality))}
        db.session.add(Activity(
            type=parsed.type, title=parsed.title, start_date=parsed.start_date, region_code=parsed.region_code,
            participants=parsed.participants, hours=parsed.hours, note=parsed.note,
            created_by_id=getattr(self.actor, "id", None), import_key=import_key(parsed),
            municipalities=[self._municipality_objects[c] for c in parsed.municipality_codes],
        ))
