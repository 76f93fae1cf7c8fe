"""Demo anchoring: for municipalities on their way to or past a signed plan, dated entries that
build up over the months after signing, so the score, the map (as of any date) and the list of
signed but weakly anchored municipalities all show something. The health agreement is recorded
per region: in place in three regions, in progress in one, not yet in the last. Deterministic
(``ctx.rng``); entries are recorded by the region's ambassador.
"""
from datetime import date, timedelta

from sqlalchemy import select

from crm.extensions import db
from crm.models import AnchoringEntry, AnchoringItem, Region
from crm.models.anchoring import KIND_COUNTS, KIND_PER_YEAR, KIND_PIPELINE, LEVEL_REGION
from crm.services.stages import stages_on

AALBORG = 851  # the municipality the page tests open: always well anchored, with evidence
# Health agreement per region: (state, days before today) in Hovedstaden, Sjælland, Syddanmark,
# Midtjylland; Nordjylland's is in progress.
HEALTH_AGREEMENT = {1084: ("in_place", 400), 1085: ("in_place", 200), 1083: ("in_place", 90),
                    1082: ("in_progress", 150), 1081: ("in_progress", 300)}


def load(ctx) -> None:
    """Create the demo entries (called by ``crm.demo.load_demo``, which commits)."""
    items = list(db.session.scalars(select(AnchoringItem).order_by(AnchoringItem.position)))
    stages = stages_on(ctx.today)
    for region in db.session.scalars(select(Region).order_by(Region.code)):
        _region_items(ctx, region.code, [i for i in items if i.level == LEVEL_REGION])
    municipal = [i for i in items if i.level != LEVEL_REGION and i.kind != KIND_PIPELINE]
    for code, stage in sorted(stages.items()):
        if stage.stage in ("plan_signed", "in_operation") and stage.since:
            _municipality(ctx, code, stage.since, municipal, strong=code == AALBORG or ctx.rng.random() < 0.55)
        elif stage.stage == "plan_in_progress" and ctx.rng.random() < 0.5:
            _municipality(ctx, code, ctx.today - timedelta(days=120), municipal[:2], strong=False)
    db.session.flush()


def _region_items(ctx, region_code: int, items) -> None:
    """The region-level items (the health agreement): one or two entries per region."""
    owner = ctx.ambassadors.get(region_code) or ctx.admin
    state, days = HEALTH_AGREEMENT.get(region_code, ("in_progress", 100))
    for item in items:
        if state == "in_place":
            _add(item, region_code, None, "in_progress", ctx.today - timedelta(days=days + 120), owner,
                 note="Drøftet i sundhedskoordinationsudvalget")
        _add(item, region_code, None, state, ctx.today - timedelta(days=days), owner,
             evidence_url=f"https://example.dk/sundhedsaftale/{region_code}" if state == "in_place" else None)


def _municipality(ctx, code: int, since: date, items, strong: bool) -> None:
    """One municipality's entries after ``since``: most items in place when ``strong``, a few
    (and some still in progress) otherwise; a few marked not relevant."""
    from crm.models import Municipality

    municipality = db.session.get(Municipality, code)
    owner = ctx.ambassadors.get(municipality.region_code) or ctx.admin
    rng = ctx.rng
    span = max(30, (ctx.today - since).days)
    for item in items:
        roll = rng.random()
        if code != AALBORG and roll < 0.06:
            _add(item, municipality.region_code, code, "not_relevant", since + timedelta(days=rng.randint(5, span)),
                 owner, note="Ikke relevant for kommunens organisering")
            continue
        started = since + timedelta(days=rng.randint(0, span // 2))
        if started > ctx.today:
            continue
        chance = 0.8 if strong else 0.25
        if code == AALBORG or roll < chance + 0.06:
            done = min(ctx.today, started + timedelta(days=rng.randint(20, 200)))
            _add(item, municipality.region_code, code, "in_progress", started, owner, **_extra(item, started, 1))
            if code == AALBORG or rng.random() < (0.85 if strong else 0.45):
                _add(item, municipality.region_code, code, "in_place", done, owner, **_extra(item, done, 3),
                     evidence_url=f"https://example.dk/kommune/{code}/{item.code}" if rng.random() < 0.5 else None)
                renewed = date(ctx.today.year, 1, 15)
                if item.kind == KIND_PER_YEAR and done < renewed <= ctx.today and (strong or code == AALBORG):
                    _add(item, municipality.region_code, code, "in_place", renewed, owner, year=renewed.year,
                         note="Med i årets beskæftigelsesplan")
        elif roll < 0.8:
            _add(item, municipality.region_code, code, "in_progress", started, owner, **_extra(item, started, 1))


def _extra(item, day: date, count: int) -> dict:
    """The year of a per-year item, the counts of a counts item."""
    if item.kind == KIND_PER_YEAR:
        return {"year": day.year}
    if item.kind == KIND_COUNTS:
        return {"departments": count, "clinics": max(1, count - 1)}
    return {}


def _add(item, region_code: int, code, state: str, day: date, owner, note=None, evidence_url=None, **extra) -> None:
    db.session.add(AnchoringEntry(anchoring_item_id=item.id, region_code=region_code, municipality_code=code,
                                  state=state, effective_date=day, note=note, evidence_url=evidence_url,
                                  recorded_by_id=owner.id if owner else None, **extra))
