"""Demo fidelity reviews: municipalities with a signed plan get their first review 6–12 months
after signing and then about yearly, over the last two years; quality improves a little from
review to review, and some items are typically harder than others (benefits counselling, employer
contact, team integration). A few reviews are still drafts with items missing. Everything comes
from ``ctx.rng`` (deterministic) and is saved through ``crm.services.fidelity.write_review``, so
totals are computed exactly as for real data.

The corps' Danish adaptation "IPS-25 DK" is version 2 of IPS-25 (a copy of version 1 with two
items reworded and re-keyed, mapped to the originals), active for the last year; every third
municipality (by code, so the random sequence stays the same) has used it since.
"""
from datetime import date, timedelta

from sqlalchemy import select

from crm.extensions import db
from crm.formatting import add_months
from crm.models import Municipality, PsychiatricCentre
from crm.services import instruments
from crm.services.fidelity import ips25_version_id, scale_items, write_review
from crm.services.stages import covered_since, stages_on

# Items that are usually weaker in new IPS services (a believable national "weakest items" list).
ITEM_BIAS = {
    "Services-1": -0.9, "Services-6": -0.6, "Services-7": -0.4, "Organization-2": -0.5,
    "Organization-3": -0.6, "Organization-8": -0.3, "Services-12": -0.3,
    "Staffing-2": 0.4, "Services-4": 0.3, "Services-10": 0.4, "Organization-6": 0.2,
}
COMMENTS = {
    "Services-1": "Ingen fast aftale om økonomisk vejledning; aftales med jobcentrets ydelsesafdeling.",
    "Services-6": "Konsulenterne har færre arbejdsgiverkontakter end anbefalet (6 pr. uge).",
    "Organization-2": "IPS-konsulenten deltager kun i hver anden teamkonference.",
    "Organization-3": "Samarbejdet med sagsbehandlerne er personafhængigt.",
    "Staffing-1": "Sagsstammen er over 20 borgere pr. konsulent i perioder.",
}
ACTION_PLANS = [
    "Fast ugentlig deltagelse i behandlingsteamets konference. Plan for arbejdsgiverkontakter med mål "
    "om seks besøg pr. konsulent pr. uge. Opfølgning om et halvt år.",
    "Aftale med ydelseskontoret om økonomisk vejledning til alle borgere i IPS. Supervision i jobudvikling "
    "fra ambassadørkorpset i næste kvartal.",
    "Ledelsen drøfter sagsstammen og en ekstra konsulentstilling. IPS-lederen får fast sparring med "
    "psykiatriens afsnitsledelse.",
    "Fortsæt det gode arbejde; fokus på tidsubegrænset støtte efter ansættelse og variation i jobtyper.",
]
REVIEWERS = ["Anne Holm", "Lars Bech", "Mette Kjær", "Søren Dahl", "Hanne Lund", "Peter Friis", "Ida Vestergaard"]


# Version 2's changed items: the key in version 1 → (key, Danish, English) in version 2.
DK_ITEMS = {
    "Services-4": ("DK-S4", "Hurtig jobsøgning: første arbejdsgiverkontakt inden for 30 dage",
                   "Rapid job search: first employer contact within 30 days"),
    "Organization-8": ("DK-O8", "Persongruppemarkering og fælles mål i jobcenter og psykiatri",
                       "Person-group marking and shared goals in job centre and psychiatry"),
}


def _dk_version(ctx):
    """IPS-25 DK (version 2), active since a year ago; its id and when it became active."""
    v1 = instruments.load_version(ips25_version_id())
    v2 = instruments.create_draft(v1.instrument, "IPS-25 DK (korpsets danske tilpasning)", copy_from=v1,
                                  actor=ctx.admin)
    for item in v2.items:
        if item.key in DK_ITEMS:
            key, label_da, label_en = DK_ITEMS[item.key]
            values = {name: getattr(item, name) for name in instruments.ITEM_FIELDS}
            instruments.save_item(v2, item, {**values, "key": key, "label_da": label_da, "label_en": label_en},
                                  v2.version, actor=ctx.admin)
    since = ctx.today - timedelta(days=365)
    instruments.activate(v2, v2.version, actor=ctx.admin, on=since)
    # The working group's next revision, still a draft (its items and bands can be edited).
    instruments.create_draft(v1.instrument, "IPS-25 DK 2027 (udkast)", copy_from=v2, actor=ctx.working_group)
    return v2.id, since


def load(ctx) -> None:
    """Create the demo reviews (called by ``crm.demo.load_demo``, which commits)."""
    ctx.dk_version = _dk_version(ctx)
    stages = stages_on(ctx.today)
    covered = sorted(code for code, s in stages.items() if s.covered)
    spells = covered_since(covered, ctx.today)
    municipalities = {m.code: m for m in db.session.scalars(select(Municipality).where(Municipality.code.in_(covered)))}
    centres: dict[int, list[PsychiatricCentre]] = {}
    for centre in db.session.scalars(select(PsychiatricCentre).order_by(PsychiatricCentre.id)):
        centres.setdefault(centre.region_code, []).append(centre)
    window_start = ctx.today - timedelta(days=730)
    for code in covered:
        municipality = municipalities[code]
        _reviews(ctx, municipality, spells.get(code) or stages[code].since, window_start,
                 centres.get(municipality.region_code, []))
    db.session.flush()


def _reviews(ctx, municipality, signed: date, window_start: date, centres) -> None:
    """Yearly reviews after signing (now and then one is missed, so it becomes overdue); when the
    next one is near, it is often already under way as a draft."""
    rng = ctx.rng
    user = ctx.ambassadors.get(municipality.region_code) or ctx.admin
    level = rng.uniform(2.9, 4.4)  # the service's starting quality on the 1–5 scale
    day = add_months(signed, rng.randint(6, 12)) + timedelta(days=rng.randint(0, 20))
    values = {"centre_id": rng.choice(centres).id if centres else None,
              "team": f"IPS-teamet i {municipality.name}"}
    while day <= ctx.today - timedelta(days=2):
        if day >= window_start and rng.random() > 0.15:
            _save(ctx, municipality, user, values, day, _ratings(rng, level, draft=False))
        level = min(4.7, level + rng.uniform(0.1, 0.5))
        day = add_months(day, rng.randint(11, 13)) + timedelta(days=rng.randint(0, 15))
    if day <= ctx.today + timedelta(days=90) and rng.random() < 0.4:
        started = ctx.today - timedelta(days=rng.randint(3, 30))
        _save(ctx, municipality, user, values, started, _ratings(rng, level, draft=True))


def _save(ctx, municipality, user, values: dict, day: date, ratings: dict) -> None:
    """Save one review through the service (which computes the total); every third municipality
    uses IPS-25 DK once it is active."""
    complete = len(ratings) == len(scale_items())
    version_id, since = ctx.dk_version
    if municipality.code % 3 == 0 and day >= since:
        ratings = {DK_ITEMS.get(key, (key,))[0]: rating for key, rating in ratings.items()}
    else:
        version_id = None
    write_review(None, municipality.code, {
        **values, "review_date": day, "reviewers": ", ".join(ctx.rng.sample(REVIEWERS, 2)),
        "action_plan": ctx.rng.choice(ACTION_PLANS) if complete else None,
    }, ratings, user, instrument_version_id=version_id)


def _ratings(rng, level: float, draft: bool) -> dict:
    """25 believable scores around ``level``; a draft lacks a handful of items."""
    items = scale_items()
    missing = set(rng.sample([i.key for i in items], rng.randint(3, 9))) if draft else set()
    ratings = {}
    for item in items:
        if item.key in missing:
            continue
        score = round(rng.gauss(level + ITEM_BIAS.get(item.key, 0.0), 0.7))
        score = max(1, min(5, score))
        comment = COMMENTS.get(item.key) if score <= 3 and rng.random() < 0.5 else None
        ratings[item.key] = (score, comment)
    return ratings
