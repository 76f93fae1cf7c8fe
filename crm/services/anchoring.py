"""The anchoring checklist: items (admin-maintained reference data), each municipality's dated
entries, the state of every item on any date, and the anchoring score.

Rules, in one place:
- An item applies on a date D when D lies between its ``active_from`` and ``active_to``.
- The state of an item on D is that of its latest entry dated on or before D (two on the same
  date: the one recorded last); no such entry: "not started". A region-level item (the health
  agreement) has one series of entries per region, and that state is the state of the item for
  every municipality of the region. A per-year item (the employment plan) counts only entries
  for D's year, so last year's plan does not anchor this year.
- The item ``plan_signed`` (kind ``pipeline``) is never entered: it is "in place" while the
  municipality's stage on D is a covered stage (signed plan or IPS in operation, the status
  report's rule), "in progress" while a plan is in progress, otherwise "not started".
- Anchoring score of a municipality on D = items in place / applicable items, where "not relevant"
  items are not applicable. A region's (and the country's) score pools its municipalities: all
  their items in place / all their applicable items.
- "Signed but weakly anchored": plan signed on D and fewer than half the applicable items in
  place (in place × 2 < applicable).
Every figure comes from one grouped SQL statement over the stored records.
"""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache, cached_property
from typing import Optional

from sqlalchemy import Integer, and_, bindparam, case, func, literal, or_, select, true
from sqlalchemy.orm import aliased

from crm.clock import local_today
from crm.extensions import db
from crm.i18n import gettext as _
from crm.models import COVERED_STAGES, AnchoringEntry, AnchoringItem, Municipality, Region, StageChange
from crm.models.anchoring import (ANCHORING_STATES, KIND_COUNTS, KIND_PER_YEAR, KIND_PIPELINE, KIND_STATE,
                                  LEVEL_MUNICIPALITY, LEVEL_REGION, STATE_IN_PLACE, STATE_IN_PROGRESS,
                                  STATE_NOT_RELEVANT, STATE_NOT_STARTED, ANCHORING_KINDS, ANCHORING_LEVELS)
from crm.services.errors import FieldError
from crm.services.locking import commit_versioned, ensure_version, mark_updated
from crm.services.permissions import ensure_can_maintain_anchoring_items, ensure_can_write
from crm.services.stages import CODES, ON, REGION, stage_select
from crm.services.uploads import UploadError, remove_stored, store_pdf

# The seeded items whose kind is not the plain state (by their stable codes in the CSV).
SEEDED_KINDS = {"plan_signed": KIND_PIPELINE, "employment_plan": KIND_PER_YEAR, "departments_clinics": KIND_COUNTS}
MAX_COUNT = 10_000  # departments or clinics in one municipality: anything above is a typing error


# --- Items -------------------------------------------------------------------------------------

def seed_items(rows: list[dict[str, str]]) -> int:
    """Add the items of ``rows`` (crm/data/anchoring_items.csv, read by
    ``crm.services.reference.seed_anchoring_items``) whose code is not there yet; an item already
    present is the admins' to edit and is left as it is. Returns how many were added; the caller
    commits."""
    existing = set(db.session.scalars(select(AnchoringItem.code)))
    added = 0
    for position, row in enumerate(rows, start=1):
        if row["code"] in existing:
            continue
        db.session.add(AnchoringItem(
            code=row["code"], label_da=row["name_da"], label_en=row["name_en"], level=row["level"],
            kind=SEEDED_KINDS.get(row["code"], KIND_STATE), track=int(row["track"]), position=position * 10,
        ))
        added += 1
    return added


def all_items() -> list[AnchoringItem]:
    """Every item, active or not, in checklist order."""
    return list(db.session.scalars(select(AnchoringItem).order_by(AnchoringItem.position, AnchoringItem.code)))


def _active_on(on):
    """WHERE clause: the item applies on ``on``."""
    return and_(or_(AnchoringItem.active_from.is_(None), AnchoringItem.active_from <= on),
                or_(AnchoringItem.active_to.is_(None), AnchoringItem.active_to >= on))


@dataclass
class ItemData:
    """What the admin's item form submits."""

    code: str
    label_da: str
    label_en: str
    level: str
    kind: str
    track: int
    position: int
    active_from: Optional[date]
    active_to: Optional[date]


def save_item(item: Optional[AnchoringItem], data: ItemData, version=None, *, actor) -> AnchoringItem:
    """Add (``item`` None) or edit an item as ``actor`` (admins only). The code is set once and
    never changes: history and exports refer to it. Deactivating is setting ``active_to``.
    Raises ``Forbidden``, ``FieldError`` or ``Conflict``. Commits."""
    ensure_can_maintain_anchoring_items(actor)
    if item is not None:
        ensure_version(item, version)
    label_da, label_en = data.label_da.strip(), data.label_en.strip()
    if not label_da:
        raise FieldError(_("Skriv en dansk betegnelse."), "label_da")
    if not label_en:
        raise FieldError(_("Skriv en engelsk betegnelse."), "label_en")
    if data.level not in ANCHORING_LEVELS:
        raise FieldError(_("Vælg et niveau fra listen."), "level")
    if data.kind not in ANCHORING_KINDS:
        raise FieldError(_("Vælg en art fra listen."), "kind")
    if data.active_from and data.active_to and data.active_to < data.active_from:
        raise FieldError(_("Slutdatoen kan ikke ligge før startdatoen."), "active_to")
    if item is None:
        code = data.code.strip().lower()
        if not code or len(code) > 40 or not code.replace("_", "").isalnum() or not code.isascii():
            raise FieldError(_("Koden skal være 1–40 tegn: små bogstaver a–z, tal og _."), "code")
        if db.session.scalar(select(AnchoringItem.id).where(AnchoringItem.code == code)) is not None:
            raise FieldError(_("Der findes allerede et punkt med denne kode."), "code")
        item = AnchoringItem(code=code)
        db.session.add(item)
    elif item.level != data.level and db.session.scalar(
            select(AnchoringEntry.id).where(AnchoringEntry.anchoring_item_id == item.id).limit(1)) is not None:
        raise FieldError(_("Niveauet kan ikke ændres, når punktet har registreringer."), "level")
    with db.session.no_autoflush:
        item.label_da, item.label_en = label_da, label_en
        item.level, item.kind, item.track, item.position = data.level, data.kind, data.track, data.position
        item.active_from, item.active_to = data.active_from, data.active_to
    mark_updated(item, actor)
    commit_versioned(item)
    return item


# --- Entries -----------------------------------------------------------------------------------

# The statements of the scores and the checklist are built once per process with these parameters
# (stages.py's ON, REGION and CODES, and the year of ON): building them cost more than running them.
YEAR = bindparam("year", type_=Integer)


def _parameters(on: date, **more) -> dict:
    return {"on": on, "year": on.year, **more}


def _latest_entry(column, on, year, series):
    """Correlated scalar subquery: ``column`` of the latest entry of one series on ``on`` (the
    entry dated last on or before ``on``, ties: the one recorded last; per-year items: only entries
    for ``year``, the year of ``on``), or NULL. ``series`` is the WHERE clause naming the series through the outer
    query's item and municipality. One index seek per series (``ix_anchoring_entry_lookup``), so a
    page pays for the series it shows, not for the length of their history."""
    return (
        select(column)
        .where(AnchoringEntry.anchoring_item_id == AnchoringItem.id, series,
               AnchoringEntry.effective_date <= on,
               or_(AnchoringItem.kind != KIND_PER_YEAR, AnchoringEntry.year == year))
        .order_by(AnchoringEntry.effective_date.desc(), AnchoringEntry.id.desc())
        .limit(1)
        .correlate(AnchoringItem, Municipality)
        .scalar_subquery()
    )


def _item_state_columns(on, year):
    """(the select's FROM chain, state column, entry id column) for every municipality × applicable
    item on ``on`` (of ``year``), starting from the stage rule's select (municipality + its stage
    on ``on``)."""
    own = and_(AnchoringEntry.municipality_code == Municipality.code,
               AnchoringEntry.region_code == Municipality.region_code)
    regional = and_(AnchoringEntry.municipality_code.is_(None), AnchoringEntry.region_code == Municipality.region_code)
    pipeline_state = case(
        (StageChange.stage.in_(COVERED_STAGES), literal(STATE_IN_PLACE)),
        (StageChange.stage == "plan_in_progress", literal(STATE_IN_PROGRESS)),
        else_=literal(STATE_NOT_STARTED),
    )
    state = case(
        (AnchoringItem.kind == KIND_PIPELINE, pipeline_state),
        (AnchoringItem.level == LEVEL_REGION,
         func.coalesce(_latest_entry(AnchoringEntry.state, on, year, regional), STATE_NOT_STARTED)),
        else_=func.coalesce(_latest_entry(AnchoringEntry.state, on, year, own), STATE_NOT_STARTED),
    )
    entry_id = case(
        (AnchoringItem.kind == KIND_PIPELINE, None),
        (AnchoringItem.level == LEVEL_REGION, _latest_entry(AnchoringEntry.id, on, year, regional)),
        else_=_latest_entry(AnchoringEntry.id, on, year, own),
    )

    def joined(query):
        return query.join(AnchoringItem, true()).where(_active_on(on))
    return joined, state, entry_id


@dataclass
class ChecklistRow:
    """One item of a municipality's checklist on a date: its state and the entry behind it
    (None: nothing recorded, or derived from the pipeline)."""

    item: AnchoringItem
    state: str
    entry: Optional[AnchoringEntry]

    @property
    def state_label(self) -> str:
        return str(ANCHORING_STATES.get(self.state, self.state))

    @property
    def derived(self) -> bool:
        return self.item.kind == KIND_PIPELINE


@cache
def _checklist_query():
    """Each applicable item with its state and the entry behind it (outer-joined by the latest
    entry's id), so items and entries come with the states in one statement."""
    joined, state, entry_id = _item_state_columns(ON, YEAR)
    shown = aliased(AnchoringEntry, name="shown_entry")
    return (joined(stage_select(ON, AnchoringItem, state, shown, codes=CODES))
            .outerjoin(shown, shown.id == entry_id)
            .order_by(AnchoringItem.position, AnchoringItem.code))


def checklist(municipality: Municipality, on: Optional[date] = None) -> list[ChecklistRow]:
    """The municipality's applicable items on ``on`` (default today) with their state and latest
    entry, in checklist order: one statement."""
    on = on or local_today()
    rows = db.session.execute(_checklist_query(), _parameters(on, codes=[municipality.code]))
    return [ChecklistRow(item, item_state, entry) for item, item_state, entry in rows]


def history(municipality: Municipality, item: AnchoringItem) -> list[AnchoringEntry]:
    """Every entry of ``item`` for the municipality (region-level: for its region), newest first."""
    query = select(AnchoringEntry).where(AnchoringEntry.anchoring_item_id == item.id)
    if item.level == LEVEL_REGION:
        query = query.where(AnchoringEntry.region_code == municipality.region_code,
                            AnchoringEntry.municipality_code.is_(None))
    else:
        query = query.where(AnchoringEntry.municipality_code == municipality.code)
    return list(db.session.scalars(query.order_by(AnchoringEntry.effective_date.desc(), AnchoringEntry.id.desc())))


@dataclass
class EntryData:
    """What the entry form submits."""

    state: str
    effective_date: Optional[date]
    note: str = ""
    evidence_url: str = ""
    year: Optional[int] = None
    departments: Optional[int] = None
    clinics: Optional[int] = None


def ensure_can_record(municipality: Municipality, *, actor) -> None:
    """Raise ``Forbidden`` unless ``actor`` may record anchoring for the municipality (its region's
    ambassador, admins); region-level items follow the same rule through the municipality's region."""
    ensure_can_write(municipality.region_code, user=actor)


def record_entry(municipality: Municipality, item: AnchoringItem, data: EntryData, document=None,
                 *, actor) -> AnchoringEntry:
    """Add an entry (a new state, with its date, evidence and note) for ``item`` as ``actor``: for
    the municipality, or for its region when the item is region-level. Entries are never changed
    or deleted, so the history stays. Without a new document the latest entry's document stays
    the evidence. Raises ``Forbidden``, ``FieldError`` (an upload that is not an acceptable PDF:
    on ``document``). Commits."""
    ensure_can_record(municipality, actor=actor)
    if item.kind == KIND_PIPELINE:
        raise FieldError(_("Dette punkt følger af faserne og registreres ikke her."), "state")
    if data.state not in ANCHORING_STATES:
        raise FieldError(_("Vælg en status fra listen."), "state")
    if data.effective_date is None:
        raise FieldError(_("Skriv en dato."), "effective_date")
    if data.effective_date > local_today():
        raise FieldError(_("Datoen kan ikke ligge efter i dag."), "effective_date")
    year = None
    if item.kind == KIND_PER_YEAR:
        year = data.year or data.effective_date.year
        if not 2000 <= year <= local_today().year + 5:
            raise FieldError(_("Skriv et år mellem 2000 og %(last)s.", last=local_today().year + 5), "year")
    departments = clinics = None
    if item.kind == KIND_COUNTS:
        departments, clinics = data.departments, data.clinics
        for name, value in (("departments", departments), ("clinics", clinics)):
            if value is not None and not 0 <= value <= MAX_COUNT:
                raise FieldError(_("Skriv et antal mellem 0 og %(max)s.", max=MAX_COUNT), name)
    url = data.evidence_url.strip()
    if url and (not url.lower().startswith(("https://", "http://")) or len(url) > 500 or any(c.isspace() for c in url)):
        raise FieldError(_("Skriv et helt link, der begynder med https:// (højst 500 tegn)."), "evidence_url")
    level_region = item.level == LEVEL_REGION
    previous = next(iter(history(municipality, item)), None)
    try:
        stored = store_pdf(document) if document is not None and getattr(document, "filename", None) else None
    except UploadError as error:
        raise FieldError(str(error), "document") from None
    entry = AnchoringEntry(
        anchoring_item_id=item.id, region_code=municipality.region_code,
        municipality_code=None if level_region else municipality.code,
        state=data.state, effective_date=data.effective_date, year=year, departments=departments, clinics=clinics,
        evidence_url=url or None, note=data.note.strip() or None, recorded_by_id=getattr(actor, "id", None),
    )
    if stored:
        entry.evidence_file, entry.evidence_name = stored.stored_name, stored.original_name
    elif previous is not None:
        entry.evidence_file, entry.evidence_name = previous.evidence_file, previous.evidence_name
    db.session.add(entry)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        remove_stored(stored.stored_name if stored else None)
        raise
    return entry


# --- Scores ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    """Items in place out of applicable items ("not relevant" excluded)."""

    in_place: int
    applicable: int

    @cached_property
    def pct(self) -> Optional[float]:
        """The score in per cent (one decimal), None without applicable items."""
        if not self.applicable:
            return None
        return float(round(Decimal(self.in_place * 100) / self.applicable, 1))

    @property
    def weak(self) -> bool:
        """Fewer than half the applicable items in place."""
        return self.in_place * 2 < self.applicable


@dataclass(frozen=True)
class RegionScore:
    """One region's pooled anchoring on a date."""

    code: int
    name: str
    score: Score

    @property
    def short_name(self) -> str:
        return self.name.removeprefix("Region ").strip()


@dataclass(frozen=True)
class MunicipalityScore:
    """One municipality's anchoring on a date."""

    code: int
    name: str
    region_code: int
    signed: bool
    score: Score


@cache
def _municipality_scores_query(one_region: bool):
    """The statement behind ``municipality_scores`` (built once per process per variant)."""
    joined, state, _entry_id = _item_state_columns(ON, YEAR)
    states = joined(stage_select(
        ON, Municipality.code, Municipality.name, Municipality.region_code, state.label("state"),
        case((StageChange.stage.in_(COVERED_STAGES), 1), else_=0).label("signed"),
    ))
    if one_region:
        states = states.where(Municipality.region_code == REGION)
    # OFFSET 0 keeps PostgreSQL from pulling the subquery up into the sums, which would evaluate
    # each state (and its seeks) once per sum.
    states = states.offset(0).subquery("item_states")
    applicable = func.sum(case((states.c.state != STATE_NOT_RELEVANT, 1), else_=0))
    in_place = func.sum(case((states.c.state == STATE_IN_PLACE, 1), else_=0))
    return select(
        states.c.code, states.c.name, states.c.region_code,
        func.coalesce(in_place, 0).label("in_place"), func.coalesce(applicable, 0).label("applicable"),
        func.max(states.c.signed).label("signed"),
    ).group_by(states.c.code, states.c.name, states.c.region_code).order_by(states.c.name)


def checklist_score(rows: list[ChecklistRow]) -> Score:
    """The score of one municipality's checklist as ``checklist`` returned it (same rule as below)."""
    return Score(sum(r.state == STATE_IN_PLACE for r in rows), sum(r.state != STATE_NOT_RELEVANT for r in rows))


def municipality_scores(on: date, region_code: Optional[int] = None) -> list[MunicipalityScore]:
    """Every municipality's (of one region) anchoring score on ``on``, by name: one statement.
    A municipality with no applicable item (no items at all) has score 0 of 0."""
    rows = db.session.execute(_municipality_scores_query(region_code is not None),
                              _parameters(on, region_code=region_code)).all()
    found = [MunicipalityScore(r.code, r.name, r.region_code, bool(r.signed), Score(int(r.in_place), int(r.applicable)))
             for r in rows]
    if found or db.session.scalar(select(func.count(AnchoringItem.id)).where(_active_on(on))):
        return found
    # No item applies on ``on``: the join is empty, so list every municipality with 0 of 0.
    empty = stage_select(on, Municipality.code, Municipality.name, Municipality.region_code,
                         func.max(case((StageChange.stage.in_(COVERED_STAGES), 1), else_=0)))
    if region_code is not None:
        empty = empty.where(Municipality.region_code == region_code)
    empty = empty.group_by(Municipality.code, Municipality.name, Municipality.region_code).order_by(Municipality.name)
    return [MunicipalityScore(c, n, r, bool(s), Score(0, 0)) for c, n, r, s in db.session.execute(empty)]


def region_scores(on: date, scores: Optional[list[MunicipalityScore]] = None) -> dict[int, RegionScore]:
    """Each region's pooled score on ``on`` by code (every region, 0 of 0 where nothing applies):
    the sums of its municipalities' counts (``scores``, as ``municipality_scores`` gave them, or
    read now), plus one statement for the regions' names."""
    scores = municipality_scores(on) if scores is None else scores
    totals: dict[int, list[int]] = {}
    for one in scores:
        pooled = totals.setdefault(one.region_code, [0, 0])
        pooled[0] += one.score.in_place
        pooled[1] += one.score.applicable
    regions = db.session.execute(select(Region.code, Region.name).order_by(Region.code))
    return {code: RegionScore(code, name, Score(*totals.get(code, (0, 0)))) for code, name in regions}


def national_score(regions: dict[int, RegionScore]) -> Score:
    """The country's pooled score from the regions' (a sum of the database's counts)."""
    return Score(sum(r.score.in_place for r in regions.values()), sum(r.score.applicable for r in regions.values()))


def weakly_anchored(on: date, region_code: Optional[int] = None,
                    scores: Optional[list[MunicipalityScore]] = None) -> list[MunicipalityScore]:
    """The municipalities (of one region) with a signed plan on ``on`` and fewer than half their
    applicable items in place ("signed but weakly anchored"), by name: among ``scores`` (as
    ``municipality_scores`` gave them), or read now in one statement."""
    scores = municipality_scores(on, region_code) if scores is None else scores
    return [one for one in scores if one.signed and one.score.weak
            and (region_code is None or one.region_code == region_code)]


def first_date() -> Optional[date]:
    """The earliest date anything on the anchoring map changed (a stage change or an entry), for
    the date slider; None when nothing is recorded: one statement."""
    dates = select(func.min(StageChange.effective_date).label("day")).union_all(
        select(func.min(AnchoringEntry.effective_date).label("day"))).subquery()
    value = db.session.scalar(select(func.min(dates.c.day)))
    if isinstance(value, str):  # SQLite returns the MIN of a UNION as text
        value = date.fromisoformat(value)
    return value
