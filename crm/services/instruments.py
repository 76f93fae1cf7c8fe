"""Defining quality-measurement instruments: instruments, their versions (draft → active →
retired), a draft's items and bands, and item mappings between versions.

Admins and the working group define them (``permissions.ensure_can_define_instruments``). Only a
draft's items and bands change; activating checks that the draft is complete (at least one item,
bands covering every possible total without overlap); only active versions can be chosen for a
new review (``crm.services.fidelity.save_review``); a retired version keeps its reviews.
"""
from __future__ import annotations

from datetime import date
from typing import Mapping, Optional

from sqlalchemy import func, insert, select
from sqlalchemy.orm import joinedload, selectinload

from crm.clock import local_today
from crm.extensions import db
from crm.i18n import gettext as _
from crm.models import (IPS25_CODE, VERSION_ACTIVE, VERSION_DRAFT, VERSION_RETIRED, FidelityReview, Instrument,
                        InstrumentBand, InstrumentItem, InstrumentItemMapping, InstrumentVersion)
from crm.services import fidelity
from crm.services.errors import FieldError
from crm.services.locking import commit_versioned, ensure_version, mark_updated
from crm.services.permissions import ensure_can_define_instruments

ITEM_FIELDS = ("key", "section", "number", "label_da", "label_en", "min_score", "max_score", "allowed_values",
               "weight")
BAND_FIELDS = ("code", "lower_total", "upper_total", "label_da", "label_en")


# --- Reading ---------------------------------------------------------------------------------


def instruments() -> list[Instrument]:
    """Every instrument with its versions, by code (two queries)."""
    return list(db.session.scalars(select(Instrument).options(selectinload(Instrument.versions))
                                   .order_by(Instrument.code)))


def load_version(version_id: int) -> Optional[InstrumentVersion]:
    """A version with its instrument, items and bands, or None (three queries)."""
    return db.session.scalar(
        select(InstrumentVersion).where(InstrumentVersion.id == version_id)
        .options(joinedload(InstrumentVersion.instrument), selectinload(InstrumentVersion.items),
                 selectinload(InstrumentVersion.bands)))


def review_counts() -> dict[int, int]:
    """Version id → number of reviews made with it (one query)."""
    return dict(db.session.execute(select(FidelityReview.instrument_version_id, func.count(FidelityReview.id))
                                   .group_by(FidelityReview.instrument_version_id)).all())


def mappings_into(version_id: int) -> list[InstrumentItemMapping]:
    """The mappings whose target item belongs to ``version_id`` (one query)."""
    return list(db.session.scalars(
        select(InstrumentItemMapping).join(InstrumentItem, InstrumentItem.id == InstrumentItemMapping.to_item_id)
        .where(InstrumentItem.instrument_version_id == version_id)
        .options(joinedload(InstrumentItemMapping.from_item).joinedload(InstrumentItem.instrument_version)
                 .joinedload(InstrumentVersion.instrument), joinedload(InstrumentItemMapping.to_item))
        .order_by(InstrumentItem.position)))


# --- Seeding IPS-25 v1 -------------------------------------------------------------------------


def seed_ips25() -> int:
    """Create IPS-25 version 1 (active) from the bundled CSV files unless it exists, without the
    audit (the data migration does the same for a deployed database; tests and a fresh demo
    database built by ``create_all`` call this); returns its id."""
    existing = fidelity.ips25_version_id()
    if existing is not None:
        return existing
    instrument_id = db.session.execute(insert(Instrument).values(
        code=IPS25_CODE, name_da="IPS-fidelitetsskala (25 punkter)", name_en="IPS fidelity scale (25 items)")
        .returning(Instrument.id)).scalar_one()
    today = local_today()
    version_id = db.session.execute(insert(InstrumentVersion).values(
        instrument_id=instrument_id, number=1, label="IPS-25", state=VERSION_ACTIVE, created_on=today,
        activated_on=today, version=1).returning(InstrumentVersion.id)).scalar_one()
    db.session.execute(insert(InstrumentItem), [
        {"instrument_version_id": version_id, "key": item.key, "section": item.section, "number": item.number,
         "position": position, "label_da": item.name_da, "label_en": item.name_en, "min_score": item.min_score,
         "max_score": item.max_score, "weight": item.weight}
        for position, item in enumerate(fidelity.scale_items(), start=1)])
    db.session.execute(insert(InstrumentBand), [
        {"instrument_version_id": version_id, "code": band.code, "lower_total": band.min_total,
         "upper_total": band.max_total, "label_da": band.label_da, "label_en": band.label_en}
        for band in fidelity.bands()])
    db.session.commit()
    return version_id


# --- Writing ---------------------------------------------------------------------------------


def _text(values: Mapping[str, object], name: str, max_length: int, required: bool = True) -> Optional[str]:
    value = str(values.get(name) or "").strip()
    if required and not value:
        raise FieldError(_("Udfyld feltet."), name)
    if len(value) > max_length:
        raise FieldError(_("Højst %(num)s tegn.", num=max_length), name)
    return value or None


def _int(values: Mapping[str, object], name: str) -> int:
    value = values.get(name)
    if value is None or value == "":
        raise FieldError(_("Udfyld feltet."), name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FieldError(_("Skriv et helt tal."), name) from None


def create_instrument(values: Mapping[str, object], *, actor) -> Instrument:
    """A new instrument (code, Danish and English name) with an empty draft version 1; commits.
    ``FieldError`` on ``code`` when the code is taken."""
    ensure_can_define_instruments(actor)
    code = _text(values, "code", 40)
    if db.session.scalar(select(Instrument.id).where(func.lower(Instrument.code) == code.lower())) is not None:
        raise FieldError(_("Der findes allerede et måleredskab med denne kode."), "code")
    instrument = Instrument(code=code, name_da=_text(values, "name_da", 200), name_en=_text(values, "name_en", 200))
    db.session.add(instrument)
    db.session.flush()
    version = InstrumentVersion(instrument=instrument, number=1, label=code, state=VERSION_DRAFT,
                                created_on=local_today())
    db.session.add(version)
    mark_updated(version, actor)
    db.session.commit()
    return instrument


def create_draft(instrument: Instrument, label: str, copy_from: Optional[InstrumentVersion] = None, *,
                 actor) -> InstrumentVersion:
    """A new draft version (the next number) of ``instrument``, a copy of ``copy_from``'s items and
    bands if given, with every copied item mapped to the item it was copied from; commits."""
    ensure_can_define_instruments(actor)
    label = _text({"label": label}, "label", 200)
    number = (db.session.scalar(select(func.max(InstrumentVersion.number))
                                .where(InstrumentVersion.instrument_id == instrument.id)) or 0) + 1
    version = InstrumentVersion(instrument=instrument, number=number, label=label, state=VERSION_DRAFT,
                                created_on=local_today())
    db.session.add(version)
    if copy_from is not None:
        for item in copy_from.items:
            copy = InstrumentItem(**{name: getattr(item, name) for name in ITEM_FIELDS}, position=item.position)
            version.items.append(copy)
            db.session.add(InstrumentItemMapping(from_item=item, to_item=copy))
        for band in copy_from.bands:
            version.bands.append(InstrumentBand(**{name: getattr(band, name) for name in BAND_FIELDS}))
    mark_updated(version, actor)
    db.session.commit()
    return version


def _ensure_draft(version: InstrumentVersion) -> None:
    if version.state != VERSION_DRAFT:
        raise FieldError(_("Kun en kladde kan ændres."), "state")


def _touch(version: InstrumentVersion, submitted_version: object, actor) -> None:
    """Rules for every change of a draft's contents: the right, a draft, the same version shown."""
    ensure_can_define_instruments(actor)
    _ensure_draft(version)
    ensure_version(version, submitted_version)
    mark_updated(version, actor)


def save_item(version: InstrumentVersion, item: Optional[InstrumentItem], values: Mapping[str, object],
              submitted_version: object = None, *, actor) -> InstrumentItem:
    """Add (``item`` None) or change an item of a draft; commits. ``FieldError`` on the field at
    fault: key taken or not 1–20 characters, scale min above max, allowed values outside the scale,
    weight below 1."""
    _touch(version, submitted_version, actor)
    key = _text(values, "key", 20)
    if any(other.key == key and other is not item for other in version.items):
        raise FieldError(_("Versionen har allerede et punkt med denne nøgle."), "key")
    min_score, max_score = _int(values, "min_score"), _int(values, "max_score")
    if min_score > max_score:
        raise FieldError(_("Laveste score må ikke være over højeste score."), "max_score")
    allowed_text = str(values.get("allowed_values") or "").replace(" ", "")
    try:
        allowed = sorted({int(v) for v in allowed_text.split(",") if v})
    except ValueError:
        raise FieldError(_("Skriv tilladte værdier som hele tal adskilt af komma."), "allowed_values") from None
    if any(not min_score <= v <= max_score for v in allowed):
        raise FieldError(_("Tilladte værdier skal ligge mellem laveste og højeste score."), "allowed_values")
    weight = _int(values, "weight")
    if weight < 1:
        raise FieldError(_("Vægten skal være mindst 1."), "weight")
    if item is None:
        item = InstrumentItem(position=max((i.position for i in version.items), default=0) + 1)
        version.items.append(item)
    item.key = key
    item.section = _text(values, "section", 100)
    item.number = _int(values, "number")
    item.label_da = _text(values, "label_da", 500)
    item.label_en = _text(values, "label_en", 500)
    item.min_score, item.max_score, item.weight = min_score, max_score, weight
    item.allowed_values = ",".join(str(v) for v in allowed) or None
    commit_versioned(version)
    return item


def delete_item(version: InstrumentVersion, item: InstrumentItem, submitted_version: object = None, *,
                actor) -> None:
    """Remove an item from a draft (its mappings go with it); commits."""
    _touch(version, submitted_version, actor)
    for mapping in db.session.scalars(select(InstrumentItemMapping).where(
            (InstrumentItemMapping.from_item_id == item.id) | (InstrumentItemMapping.to_item_id == item.id))):
        db.session.delete(mapping)
    version.items.remove(item)
    commit_versioned(version)


def save_band(version: InstrumentVersion, band: Optional[InstrumentBand], values: Mapping[str, object],
              submitted_version: object = None, *, actor) -> InstrumentBand:
    """Add (``band`` None) or change a band of a draft; commits. ``FieldError`` when the lower total
    lies above the upper or the range overlaps another band."""
    _touch(version, submitted_version, actor)
    lower, upper = _int(values, "lower_total"), _int(values, "upper_total")
    if lower > upper:
        raise FieldError(_("Nedre samlet score må ikke være over øvre."), "upper_total")
    if any(other is not band and other.lower_total <= upper and lower <= other.upper_total for other in version.bands):
        raise FieldError(_("Intervallet overlapper et andet niveau."), "lower_total")
    code = _text(values, "code", 40)
    if any(other.code == code and other is not band for other in version.bands):
        raise FieldError(_("Versionen har allerede et niveau med denne kode."), "code")
    if band is None:
        band = InstrumentBand()
        version.bands.append(band)
    band.code, band.lower_total, band.upper_total = code, lower, upper
    band.label_da = _text(values, "label_da", 200)
    band.label_en = _text(values, "label_en", 200)
    commit_versioned(version)
    return band


def delete_band(version: InstrumentVersion, band: InstrumentBand, submitted_version: object = None, *,
                actor) -> None:
    """Remove a band from a draft; commits."""
    _touch(version, submitted_version, actor)
    version.bands.remove(band)
    commit_versioned(version)


def activate(version: InstrumentVersion, submitted_version: object = None, *, actor,
             on: Optional[date] = None) -> None:
    """Make a draft active (choosable for new reviews); commits. ``FieldError`` on ``state`` when
    it has no items, or its bands leave a possible total uncovered."""
    _touch(version, submitted_version, actor)
    if not version.items:
        raise FieldError(_("En version skal have mindst ét punkt, før den kan aktiveres."), "state")
    db.session.flush()
    scale = fidelity.scale_of(version.id)
    covered = sorted((b.min_total, b.max_total) for b in scale.bands)
    expected = scale.min_total
    for lower, upper in covered:
        if lower > expected:
            break
        expected = max(expected, upper + 1)
    if expected <= scale.max_total:
        raise FieldError(_("Niveauerne skal dække alle samlede scorer fra %(low)s til %(high)s.",
                           low=scale.min_total, high=scale.max_total), "state")
    version.state = VERSION_ACTIVE
    version.activated_on = on or local_today()
    commit_versioned(version)


def retire(version: InstrumentVersion, submitted_version: object = None, *, actor,
           on: Optional[date] = None) -> None:
    """Retire an active version: no new reviews with it, its reviews keep it; commits."""
    ensure_can_define_instruments(actor)
    ensure_version(version, submitted_version)
    if version.state != VERSION_ACTIVE:
        raise FieldError(_("Kun en aktiv version kan udfases."), "state")
    version.state = VERSION_RETIRED
    version.retired_on = on or local_today()
    mark_updated(version, actor)
    commit_versioned(version)


def map_items(from_item: InstrumentItem, to_item: InstrumentItem, *, actor) -> InstrumentItemMapping:
    """State that ``from_item`` and ``to_item`` (of two versions of one instrument) are the same
    item; commits. Allowed in any state (it changes no score)."""
    ensure_can_define_instruments(actor)
    source, target = from_item.instrument_version, to_item.instrument_version
    if source.id == target.id or source.instrument_id != target.instrument_id:
        raise FieldError(_("Et punkt kan kun kobles til et punkt i en anden version af samme måleredskab."),
                         "from_item")
    existing = db.session.scalar(select(InstrumentItemMapping).where(
        InstrumentItemMapping.from_item_id == from_item.id, InstrumentItemMapping.to_item_id == to_item.id))
    if existing is not None:
        return existing
    mapping = InstrumentItemMapping(from_item=from_item, to_item=to_item)
    db.session.add(mapping)
    db.session.commit()
    return mapping


def unmap(mapping: InstrumentItemMapping, *, actor) -> None:
    """Remove an item mapping; commits."""
    ensure_can_define_instruments(actor)
    db.session.delete(mapping)
    db.session.commit()
