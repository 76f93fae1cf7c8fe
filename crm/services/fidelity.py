"""IPS fidelity reviews: scales per instrument version, totals and bands, due dates, and the
national view.

Every review belongs to one instrument version (``crm.models.instrument``): its items (scale,
weight) and bands are records, loaded here as a ``Scale`` (``scale_of``). IPS-25 version 1 is
the published 25-item scale; the functions without a version (``scale_items``, ``bands``,
``compute_total``, ``band_for``) describe it, from the bundled reference files
``crm/data/fidelity_scale.csv`` and ``fidelity_bands.csv`` (the data migration created version 1
from the same files). A review's ``total`` is always computed here from its ratings: the
weighted sum of all its version's items when every item has an allowed score (for IPS-25: the sum
of all 25 scores 1–5), and NULL otherwise (a draft). Only complete reviews count anywhere.

A municipality whose stage today is ``plan_signed`` or ``in_operation`` is due for a review
12 months after its last complete review or 12 months after it entered its current covered
spell (the plan was signed), whichever is later. Other municipalities are never due.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache
from typing import Iterable, Mapping, NamedTuple, Optional

from flask import has_request_context
from flask_babel import get_locale
from crm.clock import local_today
from crm.formatting import add_months
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from sqlalchemy import Date, and_, bindparam, case, func, literal_column, null, select, union_all
from sqlalchemy.orm import joinedload, selectinload

from crm.database import column_rows
from crm.extensions import db
from crm.models import (COVERED_STAGES, FIDELITY_ITEM_COUNT, IPS25_CODE, VERSION_ACTIVE, VERSION_DRAFT,
                        FidelityRating, FidelityReview, Instrument, InstrumentBand, InstrumentItem,
                        InstrumentVersion, Municipality, StageChange)
from crm.services import period_locks
from crm.services.errors import FieldError
from crm.services.locking import commit_versioned, ensure_version, mark_updated
from crm.services.permissions import ensure_can_write
from crm.services.stages import (CODES, ON, REGION, StageOnDate, became_covered, covered_since, stage_on, stage_select,
                                 stages_on)

MIN_SCORE, MAX_SCORE = 1, 5
MIN_TOTAL, MAX_TOTAL = FIDELITY_ITEM_COUNT * MIN_SCORE, FIDELITY_ITEM_COUNT * MAX_SCORE
REVIEW_INTERVAL_MONTHS = 12
DUE_WITHIN_DAYS = 60

# Section names as the scale groups the items; Danish msgids (English from the catalog).
SECTIONS: dict[str, object] = {
    "Staffing": _l("Bemanding"),
    "Organization": _l("Organisation"),
    "Services": _l("Ydelser"),
}
# Stable codes for the published bands (keyed by their English names in fidelity_bands.csv).
BAND_CODES = {
    "Exemplary fidelity": "exemplary",
    "Good fidelity": "good",
    "Fair fidelity": "fair",
    "Not supported employment": "not_ips",
}


def _english() -> bool:
    """True when the signed-in user reads English (outside a request: Danish)."""
    return has_request_context() and str(get_locale() or "da").startswith("en")


@dataclass(frozen=True)
class ScaleItem:
    """An item of a scale, e.g. IPS-25's key 'Services-4' (section 'Services', number 4).

    ``allowed`` (empty: every whole number ``min_score``–``max_score``) and ``weight`` come from
    the instrument version; IPS-25 rates 1–5 with weight 1.
    """

    key: str
    section: str
    number: int
    name_en: str
    name_da: str
    min_score: int = MIN_SCORE
    max_score: int = MAX_SCORE
    allowed: tuple[int, ...] = ()
    weight: int = 1
    id: Optional[int] = field(default=None, compare=False)

    @property
    def choices(self) -> tuple[int, ...]:
        """The scores this item may get, lowest first."""
        return self.allowed or tuple(range(self.min_score, self.max_score + 1))

    def accepts(self, score: Optional[int]) -> bool:
        """Is ``score`` one this item may get?"""
        return score is not None and score in self.choices

    @property
    def name(self) -> str:
        """The item's name in the user's language (Danish unless the locale is English)."""
        return self.name_in(_english())

    def name_in(self, english: bool) -> str:
        return self.name_en if english else self.name_da

    @property
    def section_label(self) -> str:
        """The section's name in the user's language (Bemanding, Organisation, Ydelser)."""
        return str(SECTIONS.get(self.section, self.section))


@dataclass(frozen=True)
class Band:
    """A published fidelity band: ``code`` and the (localised) ``label``."""

    code: str
    min_total: int
    max_total: int
    label_da: str
    label_en: str

    @property
    def label(self) -> str:
        """The band's name in the user's language ("God fidelitet" / "Good fidelity")."""
        return self.label_in(_english())

    def label_in(self, english: bool) -> str:
        return self.label_en if english else self.label_da

    def __str__(self) -> str:
        """The label, so a band prints as its name."""
        return self.label


@lru_cache(maxsize=1)
def scale_items() -> tuple[ScaleItem, ...]:
    """The 25 items in the scale's order (Staffing, Organization, Services)."""
    from crm.services.reference import read_csv

    items = tuple(
        ScaleItem(f"{row['section']}-{int(row['number'])}", row["section"], int(row["number"]),
                  row["item_en"], row["item_da"])
        for row in read_csv("fidelity_scale.csv")
    )
    if len(items) != FIDELITY_ITEM_COUNT:  # bundled data, so a broken copy is a deployment error
        raise RuntimeError(f"fidelity_scale.csv must list {FIDELITY_ITEM_COUNT} items, not {len(items)}")
    return items


@lru_cache(maxsize=1)
def item_by_key() -> dict[str, ScaleItem]:
    """Item key → item."""
    return {item.key: item for item in scale_items()}


def items_by_section() -> list[tuple[str, str, list[ScaleItem]]]:
    """(section code, localised section name, items) in the scale's order."""
    grouped: dict[str, list[ScaleItem]] = {}
    for item in scale_items():
        grouped.setdefault(item.section, []).append(item)
    return [(section, str(SECTIONS.get(section, section)), items) for section, items in grouped.items()]


@lru_cache(maxsize=1)
def bands() -> tuple[Band, ...]:
    """The published bands, best first."""
    from crm.services.reference import read_csv

    rows = sorted(read_csv("fidelity_bands.csv"), key=lambda r: -int(r["min_total"]))
    return tuple(Band(BAND_CODES[r["band_en"]], int(r["min_total"]), int(r["max_total"]), r["band_da"],
                      r["band_en"]) for r in rows)


def band_for(total: int) -> Band:
    """The band a complete review's total (25–125) falls in; ValueError outside the scale."""
    for band in bands():
        if band.min_total <= total <= band.max_total:
            return band
    raise ValueError(f"a fidelity total must be between {MIN_TOTAL} and {MAX_TOTAL}, not {total}")


def band_or_none(total: Optional[int]) -> Optional[Band]:
    """``band_for`` for a review's total, None for a draft."""
    return band_for(total) if total is not None else None


def compute_total(scores: Mapping[str, Optional[int]]) -> Optional[int]:
    """The sum of all 25 scores when every item is rated 1–5; None (a draft) otherwise."""
    values = [scores.get(item.key) for item in scale_items()]
    if any(v is None or not MIN_SCORE <= v <= MAX_SCORE for v in values):
        return None
    return sum(values)


def missing_items(review: FidelityReview) -> list[ScaleItem]:
    """The items a draft still lacks a score for, in its scale's order."""
    rated = {r.item_key for r in review.ratings if r.score is not None}
    return [item for item in review_scale(review).items if item.key not in rated]


# --- Scales per instrument version -----------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """One instrument version's items (in order) and bands (best first)."""

    version_id: int
    label: str
    items: tuple[ScaleItem, ...]
    bands: tuple[Band, ...]

    def item_by_key(self) -> dict[str, ScaleItem]:
        return {item.key: item for item in self.items}

    def items_by_section(self) -> list[tuple[str, str, list[ScaleItem]]]:
        """(section code, localised section name, items) in the scale's order."""
        grouped: dict[str, list[ScaleItem]] = {}
        for item in self.items:
            grouped.setdefault(item.section, []).append(item)
        return [(section, str(SECTIONS.get(section, section)), items) for section, items in grouped.items()]

    @property
    def score_columns(self) -> list[int]:
        """Every score any item allows, lowest first (the printable form's columns)."""
        return sorted({score for item in self.items for score in item.choices})

    @property
    def min_total(self) -> int:
        return sum(item.weight * min(item.choices) for item in self.items)

    @property
    def max_total(self) -> int:
        return sum(item.weight * max(item.choices) for item in self.items)

    def compute_total(self, scores: Mapping[str, Optional[int]]) -> Optional[int]:
        """The weighted sum when every item has an allowed score; None (a draft) otherwise."""
        if not self.items or any(not item.accepts(scores.get(item.key)) for item in self.items):
            return None
        return sum(item.weight * scores[item.key] for item in self.items)

    def band_or_none(self, total: Optional[int]) -> Optional[Band]:
        """The band ``total`` falls in (None for a draft or a total no band covers)."""
        if total is None:
            return None
        return next((b for b in self.bands if b.min_total <= total <= b.max_total), None)


@dataclass(frozen=True)
class ScaleLabels:
    """``Scale.labels``: item key, section code and band code → name in the user's language."""

    items: dict[str, str]
    sections: dict[str, str]
    bands: dict[str, str]


def scale_labels(scale: Optional[Scale]) -> ScaleLabels:
    """Every item's, section's and band's name in the user's language, of ``scale`` or (None) of
    IPS-25's published items and bands, as ``band_distribution`` and ``item_averages`` fall back
    to. The locale is looked up once: once per row costs a long table more than the row."""
    items = scale.items if scale is not None else scale_items()
    scale_bands = scale.bands if scale is not None else bands()
    english = _english()
    sections: dict[str, str] = {}
    for item in items:
        if item.section not in sections:
            sections[item.section] = item.section_label
    return ScaleLabels({item.key: item.name_in(english) for item in items}, sections,
                       {band.code: band.label_in(english) for band in scale_bands})


def _scale_item(row) -> ScaleItem:
    allowed = tuple(sorted(int(v) for v in (row.allowed_values or "").split(",") if v.strip()))
    return ScaleItem(row.key, row.section, row.number, row.label_en, row.label_da, row.min_score, row.max_score,
                     allowed, row.weight, row.id)


def scale_of(version_id: int) -> Scale:
    """The scale of one instrument version (two queries)."""
    scales = scales_of([version_id])
    if version_id not in scales:
        raise ValueError(f"no instrument version {version_id}")
    return scales[version_id]


def scales_of(version_ids: Iterable[int]) -> dict[int, Scale]:
    """Version id → scale for several versions in two queries, whatever their number."""
    ids = sorted(set(version_ids))
    if not ids:
        return {}
    versions = _scale_queries()[0]
    return _scales([(v.id, _title(v.code, v.number, v.label))
                    for v in db.session.execute(versions, {"version_ids": ids})])


def scale_of_version(version: InstrumentVersion) -> Scale:
    """The scale of a version already loaded with its instrument (one query)."""
    return _scales([(version.id, version_title(version))])[version.id]


def _scales(titles: list[tuple[int, str]]) -> dict[int, Scale]:
    """Version id → scale of the versions (id, title), their items and bands read in one query."""
    if not titles:
        return {}
    parameters = {"version_ids": [version_id for version_id, _title_ in titles]}
    items: dict[int, list[ScaleItem]] = {version_id: [] for version_id, _title_ in titles}
    band_rows: dict[int, list[Band]] = {version_id: [] for version_id, _title_ in titles}
    for row in db.session.execute(_scale_queries()[1], parameters):
        if row.kind == ITEM_ROW:
            items[row.instrument_version_id].append(_scale_item(row))
        else:  # a band: its code, lower and upper total in the key and score columns
            band_rows[row.instrument_version_id].append(
                Band(row.key, row.min_score, row.max_score, row.label_da, row.label_en))
    return {version_id: Scale(version_id, title, tuple(items[version_id]), tuple(band_rows[version_id]))
            for version_id, title in titles}


ITEM_ROW, BAND_ROW = 0, 1  # the ``kind`` column of ``_scale_queries``' items and bands


@cache
def _scale_queries():
    """The two statements behind ``scales_of``, as plain columns (no ORM objects), built once per
    process for any list of versions: the versions, and their items (by position) and bands (best
    first) in one UNION ALL, a band's code, lower and upper total in the item's key, min_score and
    max_score columns: one statement less on every page showing a scale."""
    ids = bindparam("version_ids", expanding=True)
    versions = (select(InstrumentVersion.id, InstrumentVersion.number, InstrumentVersion.label, Instrument.code)
                .join(Instrument).where(InstrumentVersion.id.in_(ids)))
    items = (select(literal_column(str(ITEM_ROW)).label("kind"), InstrumentItem.position.label("place"),
                    InstrumentItem.id, InstrumentItem.instrument_version_id, InstrumentItem.key,
                    InstrumentItem.section, InstrumentItem.number, InstrumentItem.label_da, InstrumentItem.label_en,
                    InstrumentItem.min_score, InstrumentItem.max_score, InstrumentItem.allowed_values,
                    InstrumentItem.weight)
             .where(InstrumentItem.instrument_version_id.in_(ids)))
    bands_ = (select(literal_column(str(BAND_ROW)), -InstrumentBand.lower_total, null(),
                     InstrumentBand.instrument_version_id, InstrumentBand.code, null(), null(),
                     InstrumentBand.label_da, InstrumentBand.label_en, InstrumentBand.lower_total,
                     InstrumentBand.upper_total, null(), null())
              .where(InstrumentBand.instrument_version_id.in_(ids)))
    both = union_all(items, bands_).subquery()
    return versions, select(both).order_by(both.c.kind, both.c.place, both.c.id)


def version_title(version: InstrumentVersion) -> str:
    """"IPS-25 v2: IPS-25 DK": instrument code, version number and label."""
    return _title(version.instrument.code, version.number, version.label)


def _title(code: str, number: int, label: str) -> str:
    return f"{code} v{number}: {label}"


def ips25_version_id() -> Optional[int]:
    """Id of IPS-25 version 1, the scale of every review made before instruments were records."""
    return db.session.scalar(select(InstrumentVersion.id).join(Instrument).where(
        Instrument.code == IPS25_CODE, InstrumentVersion.number == 1))


def chosen_version(versions: list[InstrumentVersion], chosen_id: Optional[int]) -> Optional[InstrumentVersion]:
    """Of ``versions`` (loaded with their instrument): the one with id ``chosen_id``, else IPS-25
    version 1, else the first; None when there are none. No query."""
    return (next((v for v in versions if v.id == chosen_id), None)
            or next((v for v in versions if v.instrument.code == IPS25_CODE and v.number == 1), None)
            or (versions[0] if versions else None))


def review_scale(review: FidelityReview) -> Scale:
    """The scale of the review's instrument version (IPS-25 v1 for a review not yet flushed)."""
    return scale_of(review.instrument_version_id or ips25_version_id())


def active_versions() -> list[InstrumentVersion]:
    """Versions that may be chosen for a new review, by instrument code and number (one query)."""
    return list(db.session.scalars(
        select(InstrumentVersion).join(Instrument).where(InstrumentVersion.state == VERSION_ACTIVE)
        .options(joinedload(InstrumentVersion.instrument)).order_by(Instrument.code, InstrumentVersion.number)))


def versions_in_use() -> list[InstrumentVersion]:
    """Active and retired versions (those reviews can have), by instrument code and number (one query)."""
    return list(db.session.scalars(_versions_in_use_query()))


@cache
def _versions_in_use_query():
    """The statement behind ``versions_in_use``, built once per process (the overview asks on every
    request, and building the joined, ordered select cost more than running it)."""
    return (select(InstrumentVersion).join(Instrument).where(InstrumentVersion.state != VERSION_DRAFT)
            .options(joinedload(InstrumentVersion.instrument)).order_by(Instrument.code, InstrumentVersion.number))


# --- Saving ----------------------------------------------------------------------------------


REVIEW_FIELDS = ("review_date", "centre_id", "team", "reviewers", "action_plan")


def ensure_can_change(review: FidelityReview, *, actor) -> None:
    """``Forbidden`` unless ``actor`` may change ``review`` (its municipality's region rule)."""
    ensure_can_write(review.municipality.region_code, user=actor)


def ensure_can_review(municipality: Municipality, *, actor) -> None:
    """``Forbidden`` unless ``actor`` may record a review of ``municipality`` (its region's rule)."""
    ensure_can_write(municipality.region_code, user=actor)


def save_review(review: Optional[FidelityReview], municipality_code: int, values: Mapping[str, object],
                ratings: Mapping[str, tuple[Optional[int], Optional[str]]], version: object = None,
                *, actor, instrument_version_id: Optional[int] = None) -> FidelityReview:
    """Record (``review`` None) or edit a review as ``actor``; commits.

    A new review is made with ``instrument_version_id`` (default IPS-25 v1), which must be an
    active version (``FieldError`` on ``instrument_version`` otherwise); a stored review keeps its
    version. ``Forbidden`` unless the municipality lies in a region the actor may write;
    ``Conflict`` when someone saved the review since ``version`` was shown (then nothing is saved).
    """
    if review is not None:
        ensure_can_change(review, actor=actor)
        municipality = review.municipality
    else:
        municipality = db.session.get(Municipality, municipality_code)
        ensure_can_review(municipality, actor=actor)
    period_locks.ensure_change_allowed(
        period_locks.review_place(review) if review is not None else None,
        (municipality.region_code, values.get("review_date")), actor=actor, field_name="review_date")
    if review is not None:
        ensure_version(review, version)
    else:
        instrument_version_id = instrument_version_id or ips25_version_id()
        chosen = db.session.get(InstrumentVersion, instrument_version_id) if instrument_version_id else None
        if chosen is None or chosen.state != VERSION_ACTIVE:
            raise FieldError(_("Vælg en aktiv version af et måleredskab."), "instrument_version")
    review = write_review(review, municipality_code, values, ratings, actor,
                          instrument_version_id=instrument_version_id)
    commit_versioned(review)
    return review


def write_review(review: Optional[FidelityReview], municipality_code: int, values: Mapping[str, object],
                 ratings: Mapping[str, tuple[Optional[int], Optional[str]]], user=None,
                 instrument_version_id: Optional[int] = None) -> FidelityReview:
    """Create or update a review and its ratings, recompute its total and stamp ``user``; no rule
    is checked and the caller commits (``save_review`` for a user's edit; the demo data and tests
    build reviews with this directly).

    ``values`` holds ``REVIEW_FIELDS``; ``ratings`` maps item keys to (score or None, comment or
    None). An item with neither score nor comment has no rating row. Unknown keys or scores
    the item does not allow raise ValueError (the form prevents them). A new review is made with
    ``instrument_version_id`` (default IPS-25 v1); a stored one keeps its version.
    """
    if review is None:
        instrument_version_id = instrument_version_id or ips25_version_id()
        scale = scale_of(instrument_version_id)  # before the new review joins the session (autoflush)
        review = FidelityReview(municipality_code=municipality_code, created_by_id=getattr(user, "id", None),
                                instrument_version_id=instrument_version_id)
        db.session.add(review)
    else:
        scale = review_scale(review)
    for name in REVIEW_FIELDS:
        value = values.get(name)
        if isinstance(value, str):
            value = value.strip() or None
        setattr(review, name, value)
    _apply_ratings(review, ratings, scale)
    review.total = scale.compute_total({r.item_key: r.score for r in review.ratings})
    mark_updated(review, user)
    db.session.flush()
    return review


def _apply_ratings(review: FidelityReview, ratings: Mapping[str, tuple[Optional[int], Optional[str]]],
                   scale: Scale) -> None:
    """Bring the review's rating rows in line with ``ratings`` through the ORM (audited)."""
    known = scale.item_by_key()
    unknown = set(ratings) - set(known)
    if unknown:
        raise ValueError(f"unknown fidelity items: {sorted(unknown)}")
    existing = {r.item_key: r for r in review.ratings}
    for key in known:
        score, comment = ratings.get(key, (None, None))
        comment = (comment or "").strip() or None
        if score is not None and not known[key].accepts(score):
            choices = known[key].choices
            raise ValueError(f"score for {key} must be {choices[0]}–{choices[-1]}, not {score}")
        rating = existing.get(key)
        if score is None and comment is None:
            if rating is not None:
                review.ratings.remove(rating)  # delete-orphan: the audit log keeps it
            continue
        if rating is None:
            review.ratings.append(FidelityRating(item_key=key, score=score, comment=comment))
        else:
            if rating.score != score:
                rating.score = score
            if rating.comment != comment:
                rating.comment = comment


def delete_review(review: FidelityReview, *, actor) -> None:
    """Delete a review and its ratings through the ORM (so the audit keeps a copy) as ``actor``;
    commits. ``Forbidden`` unless its municipality lies in a region the actor may write."""
    ensure_can_change(review, actor=actor)
    period_locks.ensure_unlocked(*period_locks.review_place(review), actor=actor, field_name="review_date")
    db.session.delete(review)
    db.session.commit()


# --- Due dates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueReview:
    """A covered municipality's next review: due on ``due_date``; ``overdue`` when that has passed."""

    municipality: Municipality
    due_date: date
    overdue: bool
    covered_since: date
    last_review_date: Optional[date]


def _last_complete_dates(codes: Iterable[int], today: date) -> dict[int, date]:
    """Date of each municipality's last complete review on or before ``today`` (one query)."""
    codes = list(codes)
    if not codes:
        return {}
    return {code: last for code, last in db.session.execute(_last_complete_dates_query(),
                                                            {"codes": codes, "today": today})}


@cache
def _last_complete_dates_query():
    """The statement behind ``_last_complete_dates`` (built once per process)."""
    return (select(FidelityReview.municipality_code, func.max(FidelityReview.review_date))
            .where(FidelityReview.municipality_code.in_(CODES),
                   FidelityReview.total.is_not(None), FidelityReview.review_date <= bindparam("today", type_=Date))
            .group_by(FidelityReview.municipality_code))


def next_due_dates(today: date, region_code: Optional[int] = None,
                   codes: Optional[Iterable[int]] = None) -> dict[int, tuple[date, date, Optional[date]]]:
    """Code → (due date, covered since, last complete review) for every municipality covered today.

    Three queries whatever the number of municipalities, stage changes or reviews.
    """
    stages = stages_on(today, region_code, codes)
    covered = [code for code, s in stages.items() if s.covered]
    spells = covered_since(covered, today)
    last = _last_complete_dates(covered, today)
    result = {}
    for code in covered:
        start = spells.get(code) or stages[code].since
        result[code] = (_due_date(start, last.get(code)), start, last.get(code))
    return result


def _due_within(today: date, within_days: int, region_code: Optional[int]) -> dict[int, tuple[date, date, Optional[date]]]:
    """``next_due_dates`` of the municipalities overdue or due within ``within_days`` (three queries)."""
    horizon = today + timedelta(days=within_days)
    return {code: info for code, info in next_due_dates(today, region_code).items() if info[0] <= horizon}


def due_reviews(today: date, within_days: int = DUE_WITHIN_DAYS, region_code: Optional[int] = None) -> list[DueReview]:
    """Covered municipalities whose review is overdue or due within ``within_days``, soonest first.

    Four queries in all (stages, stage history, last reviews, municipalities).
    """
    due = _due_within(today, within_days, region_code)
    if not due:
        return []
    municipalities = db.session.scalars(
        select(Municipality).where(Municipality.code.in_(list(due))).options(joinedload(Municipality.region))
    ).all()
    rows = [DueReview(m, due[m.code][0], due[m.code][0] < today, due[m.code][1], due[m.code][2])
            for m in municipalities]
    return sorted(rows, key=lambda r: (r.due_date, r.municipality.name))


class DueRow(NamedTuple):
    """``DueReview`` as a plain row: the municipality's code, name and region instead of the object."""

    code: int
    name: str
    region_code: int
    due_date: date
    overdue: bool
    covered_since: date
    last_review_date: Optional[date]


def due_rows(today: date, within_days: int = DUE_WITHIN_DAYS, region_code: Optional[int] = None) -> list[DueRow]:
    """``due_reviews`` as plain rows, in the same order, for the overview's long lists: one query
    whatever the data (``due_reviews`` needs four, and skips some when nobody is covered)."""
    horizon = today + timedelta(days=within_days)
    rows = []
    for code, name, region, stage_since, spell_since, last in column_rows(
            _due_rows_query(region_code is not None), on=today, region_code=region_code):
        start = spell_since or stage_since
        due = _due_date(start, last)
        if due <= horizon:
            rows.append(DueRow(code, name, region, due, due < today, start, last))
    return sorted(rows, key=lambda r: (r.due_date, r.name))


@cache
def _due_rows_query(one_region: bool):
    """The statement behind ``due_rows``: every municipality covered on ``on`` (of the region) with
    its name, region, stage date, covered spell's start (``covered_since``'s rule) and last complete
    review up to ``on`` (``_last_complete_dates``'s), built once per variant."""
    entered = became_covered(None, ON)
    spells = (select(entered.c.municipality_code.label("code"), func.max(entered.c.effective_date).label("since"))
              .group_by(entered.c.municipality_code).subquery())
    last = (select(FidelityReview.municipality_code.label("code"), func.max(FidelityReview.review_date).label("day"))
            .where(FidelityReview.total.is_not(None), FidelityReview.review_date <= ON)
            .group_by(FidelityReview.municipality_code).subquery())
    query = (stage_select(ON, Municipality.code, Municipality.name, Municipality.region_code,
                          StageChange.effective_date, spells.c.since, last.c.day)
             .outerjoin(spells, spells.c.code == Municipality.code)
             .outerjoin(last, last.c.code == Municipality.code)
             .where(StageChange.stage.in_(COVERED_STAGES)))
    return query.where(Municipality.region_code == REGION) if one_region else query


# --- The national overview ---------------------------------------------------------------------


def _latest_complete_ids(region_code: Optional[int] = None, version_id: Optional[int] = None):
    """Select of the id of each municipality's latest complete review (ties: the last entered);
    with ``version_id``, its latest complete review made with that instrument version."""
    number = func.row_number().over(
        partition_by=FidelityReview.municipality_code,
        order_by=(FidelityReview.review_date.desc(), FidelityReview.id.desc()),
    ).label("number")
    inner = select(FidelityReview.id.label("id"), number).where(FidelityReview.total.is_not(None))
    if version_id is not None:
        inner = inner.where(FidelityReview.instrument_version_id == version_id)
    if region_code is not None:
        inner = inner.join(Municipality, Municipality.code == FidelityReview.municipality_code).where(
            Municipality.region_code == region_code)
    inner = inner.subquery()
    return select(inner.c.id).where(inner.c.number == 1)


def latest_complete_reviews(region_code: Optional[int] = None,
                            version_id: Optional[int] = None) -> list[FidelityReview]:
    """Each municipality's latest complete review (of ``version_id`` if given), with municipality
    and region (one query)."""
    return list(db.session.scalars(
        select(FidelityReview)
        .where(FidelityReview.id.in_(_latest_complete_ids(region_code, version_id)))
        .options(joinedload(FidelityReview.municipality).joinedload(Municipality.region))
        .order_by(FidelityReview.total.desc(), FidelityReview.review_date.desc(), FidelityReview.id.desc())
    ))


class LatestReview(NamedTuple):
    """A municipality's latest complete review, as the overview's table lists it."""

    id: int
    municipality_code: int
    municipality_name: str
    region_code: int
    review_date: date
    total: int


def latest_complete_rows(region_code: Optional[int] = None, version_id: Optional[int] = None) -> list[LatestReview]:
    """``latest_complete_reviews`` as plain rows of the listed columns, in the same order (one
    query; no ORM objects, which cost the overview more than its query)."""
    query = _latest_rows_query(region_code is not None, version_id is not None)
    return [LatestReview(*row) for row in column_rows(query, region_code=region_code, version_id=version_id)]


# The overview's statements are built once per variant with these parameters (``@cache``; the
# region's is stages.py's): building one costs SQLAlchemy more time than the database needs to run it.
VERSION = bindparam("version_id")


def _latest_ids(one_region: bool, one_version: bool):
    """``_latest_complete_ids`` with the REGION and VERSION parameters, per variant."""
    return _latest_complete_ids(REGION if one_region else None, VERSION if one_version else None)


@cache
def _latest_rows_query(one_region: bool, one_version: bool):
    """The statement behind ``latest_complete_rows``, per variant."""
    return (select(FidelityReview.id, FidelityReview.municipality_code, Municipality.name, Municipality.region_code,
                   FidelityReview.review_date, FidelityReview.total)
            .join(Municipality, Municipality.code == FidelityReview.municipality_code)
            .where(FidelityReview.id.in_(_latest_ids(one_region, one_version)))
            .order_by(FidelityReview.total.desc(), FidelityReview.review_date.desc(), FidelityReview.id.desc()))


@dataclass(frozen=True)
class BandCount:
    """How many municipalities' latest complete review falls in ``band``."""

    band: Band
    count: int


def band_distribution(region_code: Optional[int] = None, scale: Optional[Scale] = None) -> list[BandCount]:
    """The bands of the latest complete reviews, counted by the database (one query), best first.

    With ``scale``: the latest complete reviews made with that version, in its bands; without:
    IPS-25's published bands.
    """
    scale_bands = scale.bands if scale is not None else bands()
    version_id = scale.version_id if scale is not None else None
    query = _band_counts_query(region_code is not None, version_id is not None,
                               tuple((b.min_total, b.max_total, b.code) for b in scale_bands))
    counts = dict(column_rows(query, region_code=region_code, version_id=version_id).all())
    return [BandCount(b, counts.get(b.code, 0)) for b in scale_bands]


@lru_cache(maxsize=64)
def _band_counts_query(one_region: bool, one_version: bool, limits: tuple[tuple[int, int, str], ...]):
    """The statement behind ``band_distribution``, per variant and set of bands (min, max, code)."""
    band_case = case(*[(FidelityReview.total.between(low, high), code) for low, high, code in limits],
                     else_="other").label("band")
    # Group by a column of a subquery, not the CASE itself (PostgreSQL compares bound parameters).
    inner = select(band_case).where(FidelityReview.id.in_(_latest_ids(one_region, one_version))).subquery()
    return select(inner.c.band, func.count()).group_by(inner.c.band)


@dataclass(frozen=True)
class ItemAverage:
    """An item's average score across the latest complete reviews, and how many scored it 1–2."""

    item: ScaleItem
    average: float
    reviews: int
    low: int


def item_averages(region_code: Optional[int] = None, scale: Optional[Scale] = None) -> list[ItemAverage]:
    """Every item's average in the latest complete reviews, weakest first (one query).

    With ``scale``: of the latest complete reviews made with that version; without: IPS-25's items.
    ``low`` counts scores in the lowest two steps of the item's scale (1–2 for IPS-25).
    """
    items = scale.items if scale is not None else scale_items()
    low_limit = min((item.choices[1] if len(item.choices) > 1 else item.choices[0]) for item in items) if items else 2
    version_id = scale.version_id if scale is not None else None
    rows = column_rows(_item_averages_query(region_code is not None, version_id is not None),
                       region_code=region_code, version_id=version_id, low_limit=low_limit).all()
    known = {item.key: item for item in items}
    averages = [ItemAverage(known[key], float(avg), count, int(low or 0)) for key, avg, count, low in rows
                if key in known]
    order = {item.key: index for index, item in enumerate(items)}
    return sorted(averages, key=lambda a: (a.average, order[a.item.key]))


@cache
def _item_averages_query(one_region: bool, one_version: bool):
    """The statement behind ``item_averages``, per variant."""
    return (select(FidelityRating.item_key, func.avg(FidelityRating.score), func.count(FidelityRating.id),
                   func.sum(case((FidelityRating.score <= bindparam("low_limit"), 1), else_=0)))
            .where(FidelityRating.review_id.in_(_latest_ids(one_region, one_version)),
                   FidelityRating.score.is_not(None))
            .group_by(FidelityRating.item_key))


class DraftRow(NamedTuple):
    """A review still saved as a draft, as the overview lists it."""

    id: int
    municipality_name: str
    review_date: date
    team: Optional[str]


def drafts(region_code: Optional[int] = None) -> list[DraftRow]:
    """Reviews still saved as drafts, newest first, as plain rows (one query)."""
    return [DraftRow(*row) for row in column_rows(_drafts_query(region_code is not None), region_code=region_code)]


@cache
def _drafts_query(one_region: bool):
    """The statement behind ``drafts``, per variant."""
    query = (select(FidelityReview.id, Municipality.name, FidelityReview.review_date, FidelityReview.team)
             .join(Municipality, Municipality.code == FidelityReview.municipality_code)
             .where(FidelityReview.total.is_(None))
             .order_by(FidelityReview.review_date.desc(), FidelityReview.id.desc()))
    return query.where(Municipality.region_code == REGION) if one_region else query


# --- One municipality ------------------------------------------------------------------------


def reviews_for(municipality_code: int) -> list[FidelityReview]:
    """All of a municipality's reviews, oldest first, with ratings and centre (two queries)."""
    return list(db.session.scalars(
        select(FidelityReview)
        .where(FidelityReview.municipality_code == municipality_code)
        .options(selectinload(FidelityReview.ratings), joinedload(FidelityReview.centre))
        .order_by(FidelityReview.review_date, FidelityReview.id)
    ))


def scores_of(review: FidelityReview) -> dict[str, Optional[int]]:
    """Item key → score of one review."""
    return {r.item_key: r.score for r in review.ratings}


def item_changes(review: FidelityReview, previous: Optional[FidelityReview],
                 keys: Optional["KeyMap"] = None) -> dict[str, int]:
    """Item key (of ``review``'s version) → score difference against the previous complete review,
    for items rated in both; across versions an item is compared with the item it is mapped to."""
    if previous is None:
        return {}
    before, now = scores_of(previous), scores_of(review)
    same_version = previous.instrument_version_id == review.instrument_version_id
    if not same_version:
        keys = keys or key_map({review.instrument_version_id, previous.instrument_version_id})
    result = {}
    for key, score in now.items():
        old_key = key if same_version else keys.translate(review.instrument_version_id, key,
                                                          previous.instrument_version_id)
        if score is not None and old_key is not None and before.get(old_key) is not None:
            result[key] = score - before[old_key]
    return result


@dataclass
class KeyMap:
    """Which items of different versions are the same item (admins' mappings, followed through
    any chain of versions): (version id, item key) → a group number."""

    groups: dict[tuple[int, str], int]

    def translate(self, version_id: int, key: str, other_version_id: int) -> Optional[str]:
        """The key in ``other_version_id`` of the item ``key`` of ``version_id``, if mapped."""
        if version_id == other_version_id:
            return key
        group = self.groups.get((version_id, key))
        if group is None:
            return None
        return next((k for (v, k), g in self.groups.items() if v == other_version_id and g == group), None)


def key_map(version_ids: Iterable[int]) -> KeyMap:
    """The item mappings among ``version_ids`` (one query)."""
    from sqlalchemy.orm import aliased

    from crm.models import InstrumentItemMapping

    ids = list(set(version_ids))
    source, target = aliased(InstrumentItem), aliased(InstrumentItem)
    rows = db.session.execute(
        select(source.instrument_version_id, source.key, target.instrument_version_id, target.key)
        .select_from(InstrumentItemMapping)
        .join(source, source.id == InstrumentItemMapping.from_item_id)
        .join(target, target.id == InstrumentItemMapping.to_item_id)
        .where(source.instrument_version_id.in_(ids), target.instrument_version_id.in_(ids))
    ).all() if len(ids) > 1 else []
    parent: dict[tuple[int, str], tuple[int, str]] = {}

    def find(node):
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for from_version, from_key, to_version, to_key in rows:
        parent[find((from_version, from_key))] = find((to_version, to_key))
    roots: dict[tuple[int, str], int] = {}
    return KeyMap({node: roots.setdefault(find(node), len(roots)) for node in list(parent)})


def previous_complete(review: FidelityReview) -> Optional[FidelityReview]:
    """The municipality's last complete review before this one (by date, then entry order)."""
    return db.session.scalar(
        select(FidelityReview)
        .where(FidelityReview.municipality_code == review.municipality_code,
               FidelityReview.total.is_not(None), FidelityReview.id != review.id,
               (FidelityReview.review_date < review.review_date)
               | and_(FidelityReview.review_date == review.review_date, FidelityReview.id < (review.id or 0)))
        .options(selectinload(FidelityReview.ratings))
        .order_by(FidelityReview.review_date.desc(), FidelityReview.id.desc())
        .limit(1)
    )


@dataclass
class History:
    """A municipality's reviews: complete ones (oldest first) with per-item changes, and drafts.

    The item matrix lists the items of the latest complete review's scale (``scale``); for an
    older review made with another version, ``cells`` shows the score of the item mapped to it.
    """

    complete: list[FidelityReview]
    drafts: list[FidelityReview]
    # review id → {item key: difference against the previous complete review}
    changes: dict[int, dict[str, int]]
    # review id → total difference against the previous complete review
    total_changes: dict[int, int]
    scale: Optional[Scale] = None
    # review id → {row item key (of ``scale``): (score, change) in that review}
    cells: dict[int, dict[str, tuple[Optional[int], Optional[int]]]] = None
    # review id → its band in its own version
    bands: dict[int, Optional[Band]] = None


def history(municipality_code: int) -> History:
    """The history page's data: totals over time and which items improved or fell, across
    instrument versions through the item mappings (a constant number of queries)."""
    reviews = reviews_for(municipality_code)
    complete = [r for r in reviews if r.total is not None]
    version_ids = {r.instrument_version_id for r in reviews} or set(filter(None, [ips25_version_id()]))
    scales = scales_of(version_ids)
    keys = key_map(version_ids)
    changes, total_changes = {}, {}
    for previous, review in zip(complete, complete[1:]):
        changes[review.id] = item_changes(review, previous, keys)
        total_changes[review.id] = review.total - previous.total
    row_scale = scales.get(complete[-1].instrument_version_id) if complete else None
    cells = {}
    if row_scale is not None:
        for review in complete:
            scores = scores_of(review)
            cells[review.id] = {}
            for item in row_scale.items:
                key = keys.translate(row_scale.version_id, item.key, review.instrument_version_id)
                cells[review.id][item.key] = (scores.get(key), changes.get(review.id, {}).get(key))
    bands_ = {r.id: scales[r.instrument_version_id].band_or_none(r.total) for r in complete
              if r.instrument_version_id in scales}
    return History(complete, [r for r in reviews if r.total is None], changes, total_changes, row_scale, cells,
                   bands_)


@dataclass(frozen=True)
class PanelData:
    """The municipality page's small fidelity panel."""

    latest: Optional[FidelityReview]
    draft_count: int
    due_date: Optional[date]
    overdue: bool
    band: Optional[Band] = None  # the latest complete review's band in its own version


def panel_data(municipality_code: int, today: Optional[date] = None,
               stage: Optional[StageOnDate] = None) -> PanelData:
    """Latest complete review with its band, open drafts and the next due date of one municipality.

    Four queries (three when the caller already has today's ``stage``), whatever the
    municipality's reviews and stages: the municipality page must cost the same for every
    municipality."""
    today = today or local_today()
    stage = stage or stage_on(municipality_code, today)
    return panel_of(reviews_newest_first(municipality_code), today, stage,
                    covered_since([municipality_code], today).get(municipality_code))


def reviews_newest_first(municipality_code: int) -> list[FidelityReview]:
    """One municipality's reviews, drafts too, newest first (one query): what its page's panel
    and timeline both show."""
    return db.session.scalars(_panel_queries()["reviews"], {"code": municipality_code}).all()


def panel_of(reviews: list[FidelityReview], today: date, stage: StageOnDate,
             covered_from: Optional[date]) -> PanelData:
    """``panel_data`` from what the municipality page has read already: its reviews
    (``reviews_newest_first``), today's stage and when its covered spell began (``covered_since``).
    One query (the band), whatever the data."""
    latest = next((r for r in reviews if r.total is not None), None)
    last_complete = max((r.review_date for r in reviews if r.total is not None and r.review_date is not None
                         and r.review_date <= today), default=None)  # as _last_complete_dates has it
    due = _due_date(covered_from or stage.since, last_complete) if stage.covered else None
    return PanelData(latest, sum(1 for r in reviews if r.total is None), due, bool(due and due < today),
                     _band_of(latest))


@cache
def _panel_queries() -> dict:
    """The panel's own statements (built once per process: building them cost as much as running them)."""
    return {
        "reviews": select(FidelityReview).where(FidelityReview.municipality_code == bindparam("code"))
        .order_by(FidelityReview.review_date.desc(), FidelityReview.id.desc()),
        "bands": select(InstrumentBand).where(InstrumentBand.instrument_version_id == bindparam("version_id"))
        .order_by(InstrumentBand.lower_total.desc()),
    }


def _band_of(review: Optional[FidelityReview]) -> Optional[Band]:
    """``review``'s band in its own version: one query, also for no review (a constant count)."""
    version_id = review.instrument_version_id if review is not None else None
    bands = tuple(Band(b.code, b.lower_total, b.upper_total, b.label_da, b.label_en)
                  for b in db.session.scalars(_panel_queries()["bands"], {"version_id": version_id}))
    # The bands alone make enough of a Scale for its one rule of which band a total falls in.
    return Scale(version_id or 0, "", (), bands).band_or_none(review.total if review is not None else None)


def _due_date(covered_from: date, last_complete: Optional[date]) -> date:
    """The next review is due an interval after the covered spell began or after the last complete
    review, whichever is later."""
    due = add_months(covered_from, REVIEW_INTERVAL_MONTHS)
    if last_complete is not None:
        due = max(due, add_months(last_complete, REVIEW_INTERVAL_MONTHS))
    return due
