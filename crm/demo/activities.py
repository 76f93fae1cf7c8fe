"""Demo activities: about two years of believable work in all five regions and all four tracks.

Each ambassador holds dialogue meetings and workshops with their municipalities and psychiatry,
runs courses (with participants split by organisation and level), supervises IPS teams and hosts
networks; the corps holds a few national conferences and webinars (no region) and publishes
materials. Track 4 gets evaluation work in every region (data collection, evaluation workshops
and interviews, quality-measurement visits) and one national evaluation workshop. With ``--scale N``
another N synthetic activities over five years are added, for trying the pages with much data.
Everything is drawn from ``ctx.rng`` (the evaluation work from its own seeded generator, so the
rest of the demo stays as it was), so it is deterministic.
"""
import random
from datetime import date, time, timedelta
from decimal import Decimal

from sqlalchemy import select

from crm.extensions import db
from crm.models import Activity, Municipality, PsychiatricCentre

# (type, weight per ambassador per half-year) for regional work.
REGIONAL_MIX = (
    ("dialogue_meeting", 6), ("workshop", 2), ("course", 1), ("supervision", 4),
    ("professional_network", 1), ("management_network", 1), ("other", 1),
)
PSYCHIATRY_NAMES = {
    1081: "Psykiatrien i Region Nordjylland",
    1082: "Psykiatrien i Region Midtjylland",
    1083: "Psykiatrien i Region Syddanmark",
    1084: "Region Hovedstadens Psykiatri",
    1085: "Psykiatrien i Region Sjælland",
}
NATIONAL_EVENTS = (
    ("conference", "IPS-konference: Job som en del af recovery", 7, 160),
    ("conference", "Nationalt IPS-netværksmøde for ledere og ambassadører", 6, 95),
    ("webinar", "Webinar: Sådan kommer I i gang med IPS", 1.5, 120),
    ("webinar", "Webinar: Fidelitetsmåling i praksis", 1.5, 85),
    ("webinar", "Webinar: Samarbejdsplaner mellem jobcenter og psykiatri", 1, 140),
    ("material", "Vejledning: Skabelon til samarbejdsplan om IPS", None, None),
    ("material", "Pjece: Hvad er IPS? (til borgere og pårørende)", None, None),
)


def _title(kind: str, municipality: Municipality, region_code: int, rng) -> str:
    """A Danish title like the ones ambassadors write."""
    psychiatry = PSYCHIATRY_NAMES[region_code]
    name = municipality.name
    options = {
        "dialogue_meeting": [f"Dialogmøde med Jobcenter {name} og {psychiatry}",
                             f"Opfølgningsmøde om samarbejdsplan, {name}",
                             f"Møde med ledelsen i Jobcenter {name} om IPS"],
        "workshop": [f"Workshop om arbejdsgange mellem Jobcenter {name} og psykiatrien",
                     f"Workshop: Organisering af IPS i {name}"],
        "course": [f"IPS-grundkursus for jobkonsulenter, {name}",
                   f"Undervisningsforløb om IPS-metoden, {name} og omegn"],
        "supervision": [f"Supervision af IPS-team i {name}", f"Gruppesupervision, IPS-konsulenter {name}"],
        "professional_network": ["Fagligt netværk for IPS-konsulenter i regionen"],
        "management_network": ["Ledelsesnetværk om IPS: jobcenterchefer og psykiatriledere"],
        "other": [f"Oplæg om IPS på personalemøde, Jobcenter {name}", f"Besøg hos IPS-teamet i {name}"],
    }[kind]
    return rng.choice(options)


def _participants(activity: Activity, kind: str, rng) -> None:
    """Plausible participant numbers, split where the ambassador would know it."""
    low, high = {"dialogue_meeting": (3, 12), "workshop": (8, 25), "course": (12, 30), "supervision": (2, 8),
                 "professional_network": (10, 30), "management_network": (6, 18), "other": (5, 40)}[kind]
    total = rng.randint(low, high)
    activity.participants = total
    if kind in ("supervision",) or rng.random() < 0.25:
        return  # the split is not always known
    municipality = rng.randint(total // 3, total)
    psychiatry = rng.randint(0, total - municipality)
    activity.participants_municipality = municipality
    activity.participants_psychiatry = psychiatry
    activity.participants_other = total - municipality - psychiatry
    managers = rng.randint(0, max(1, total // 4)) if kind != "management_network" else total - rng.randint(0, 2)
    activity.participants_managers = min(managers, total)
    activity.participants_staff = total - activity.participants_managers


def _regional(ctx, region_code: int, municipalities: list[Municipality], centres: list[PsychiatricCentre],
              start: date, days: int) -> list[Activity]:
    """About 60 months' worth of one ambassador's work spread over ``days`` days."""
    rng = ctx.rng
    weighted = [kind for kind, weight in REGIONAL_MIX for _ in range(weight)]
    # A few municipalities get most of the attention, as in real life.
    focus = rng.sample(municipalities, k=min(len(municipalities), rng.randint(5, 8)))
    activities = []
    for _ in range(rng.randint(30, 40)):
        kind = rng.choice(weighted)
        municipality = rng.choice(focus)
        day = start + timedelta(days=rng.randrange(days))
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        hour = rng.choice((9, 10, 12, 13))
        hours = {"dialogue_meeting": 1.5, "workshop": 3, "course": 6, "supervision": 2,
                 "professional_network": 3, "management_network": 2.5, "other": 1}[kind]
        activity = Activity(
            type=kind, title=_title(kind, municipality, region_code, rng), start_date=day,
            start_time=time(hour), end_time=time(min(hour + int(hours + 0.5), 16)),
            hours=Decimal(str(hours)), region_code=region_code,
            location=f"Jobcenter {municipality.name}" if kind in ("dialogue_meeting", "supervision") else None,
            created_by_id=ctx.ambassadors[region_code].id,
        )
        involved = {municipality}
        if kind in ("workshop", "professional_network", "management_network", "course"):
            involved.update(rng.sample(municipalities, k=min(len(municipalities), rng.randint(1, 3))))
        activity.municipalities = sorted(involved, key=lambda m: m.name)
        if centres and kind in ("dialogue_meeting", "workshop", "management_network"):
            activity.centres = [rng.choice(centres)]
        if kind == "course":
            activity.sessions = rng.randint(3, 6)
            activity.end_date = day + timedelta(weeks=2 * activity.sessions)
            activity.hours = Decimal(3 * activity.sessions)
        if kind == "supervision":
            activity.note = rng.choice(["Fokus på jobsøgning og arbejdsgiverkontakt.",
                                        "Gennemgang af sager og fidelitetspunkter.", None])
        _participants(activity, kind, rng)
        activities.append(activity)
    return activities


def _national(ctx, start: date, days: int) -> list[Activity]:
    """The corps' national events and materials, logged by one of the ambassadors."""
    rng = ctx.rng
    activities = []
    for kind, title, hours, participants in NATIONAL_EVENTS:
        owner = rng.choice(list(ctx.ambassadors.values()))
        activity = Activity(
            type=kind, title=title, start_date=start + timedelta(days=rng.randrange(days)), region_code=None,
            hours=Decimal(str(hours)) if hours else None, participants=participants, created_by_id=owner.id,
            location="Odense Congress Center" if kind == "conference" else None,
            link="https://www.star.dk/" if kind == "material" else None,
        )
        if participants and kind == "conference":
            activity.participants_municipality = participants * 55 // 100
            activity.participants_psychiatry = participants * 35 // 100
            activity.participants_other = participants - activity.participants_municipality - activity.participants_psychiatry
        activities.append(activity)
    return activities


# Track 4 (issue 16): evaluation activities, drawn from their own generator so that adding them
# left every other demo record as it was.
EVALUATION_SEED = 16
EVALUATION_TITLES = (
    "Dataindsamling til evalueringen: interview med IPS-teamet i {m}",
    "Evalueringsworkshop med Jobcenter {m} og psykiatrien",
    "Kvalitetsmålingsbesøg i {m} (opfølgning, ikke fidelitetsmåling)",
    "Evalueringsinterview med jobcenterledelsen i {m}",
)
EVALUATION_PER_REGION = {1084: 3, 1082: 3, 1083: 2, 1081: 2, 1085: 2}


def _evaluation(ctx, municipalities: list[Municipality], start: date, days: int) -> list[Activity]:
    """Evaluation work in every region, and one national evaluation workshop."""
    rng = random.Random(EVALUATION_SEED)
    activities = []
    for region_code, count in EVALUATION_PER_REGION.items():
        if region_code not in ctx.ambassadors:
            continue
        in_region = [m for m in municipalities if m.region_code == region_code]
        for _ in range(count):
            municipality = rng.choice(in_region)
            day = start + timedelta(days=rng.randrange(days))
            while day.weekday() >= 5:
                day -= timedelta(days=1)
            activity = Activity(
                type="evaluation", title=rng.choice(EVALUATION_TITLES).format(m=municipality.name), start_date=day,
                start_time=time(10), end_time=time(12), hours=Decimal("2"), region_code=region_code,
                participants=rng.randint(2, 10), created_by_id=ctx.ambassadors[region_code].id,
            )
            activity.municipalities = [municipality]
            activities.append(activity)
    day = start + timedelta(days=days - 30)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    activities.append(Activity(
        type="evaluation", title="Evalueringsworkshop: fælles koncept for kvalitetsmåling af IPS", start_date=day,
        region_code=None, hours=Decimal("5"), participants=24, created_by_id=ctx.ambassadors[min(ctx.ambassadors)].id,
    ))
    return activities


def load(ctx) -> None:
    """Add the demo activities (flushed; ``load_demo`` commits)."""
    municipalities = db.session.scalars(select(Municipality).order_by(Municipality.code)).all()
    centres = db.session.scalars(select(PsychiatricCentre)).all()
    start = ctx.today - timedelta(days=2 * 365)
    days = 2 * 365 - 7  # nothing in the future
    activities = []
    for region_code in sorted(ctx.ambassadors):
        in_region = [m for m in municipalities if m.region_code == region_code]
        region_centres = [c for c in centres if c.region_code == region_code]
        activities += _regional(ctx, region_code, in_region, region_centres, start, days)
    activities += _national(ctx, start, days)
    activities += _evaluation(ctx, municipalities, start, days)
    db.session.add_all(activities)
    db.session.flush()
