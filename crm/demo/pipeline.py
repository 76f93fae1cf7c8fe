"""Demo pipeline: about two years of stage history in all five regions, signed cooperation plans
(some signed jointly by neighbouring municipalities), a few paused municipalities, psychiatric
centres, target groups, contacts, notes and next steps (some overdue).

Signed plans go through ``apply_signed_plan`` exactly as when a user saves one, so the demo
history follows the same rule as real data. Everything is drawn from ``ctx.rng``: deterministic.
"""
import unicodedata
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from crm.extensions import db
from crm.models import TASK_DONE, CooperationPlan, Contact, Municipality, Note, PsychiatricCentre, Task, TargetGroup
from crm.services.pipeline import apply_signed_plan, record_stage_change

CENTRES = {
    1081: ["Psykiatrien i Region Nordjylland, Aalborg", "Psykiatrisk Ambulatorium Hjørring",
           "Psykiatrisk Ambulatorium Thisted"],
    1082: ["Aarhus Universitetshospital Psykiatrien", "Regionspsykiatrien Gødstrup",
           "Regionspsykiatrien Randers", "Regionspsykiatrien Horsens", "Regionspsykiatrien Viborg-Skive"],
    1083: ["Psykiatrisk Afdeling Odense", "Psykiatrisk Afdeling Esbjerg", "Psykiatrisk Afdeling Vejle",
           "Psykiatrisk Afdeling Aabenraa"],
    1084: ["Psykiatrisk Center Amager", "Psykiatrisk Center København", "Psykiatrisk Center Glostrup",
           "Psykiatrisk Center Ballerup", "Psykiatrisk Center Nordsjælland", "Psykiatrisk Center Hvidovre"],
    1085: ["Psykiatrien Region Sjælland, Slagelse", "Psykiatrien Region Sjælland, Roskilde",
           "Psykiatrien Region Sjælland, Holbæk", "Psykiatrien Region Sjælland, Nykøbing F."],
}
TARGET_GROUPS = [
    "Alle voksne i psykiatrisk behandling",
    "Unge 18–30 år i psykiatrisk behandling",
    "Borgere med skizofreni eller psykoselidelse",
    "Borgere med bipolar lidelse",
    "Borgere i ambulant behandling for angst og depression",
]
HEALTH_AGREEMENTS = {
    1081: "Sundhedsaftalen for Nordjylland 2024–2027",
    1082: "Sundhedsaftalen i Region Midtjylland 2024–2027",
    1083: "Sundhedsaftalen i Region Syddanmark 2024–2027",
    1084: "Sundhedsaftalen i Region Hovedstaden 2024–2027",
    1085: "Sundhedsaftalen i Region Sjælland 2024–2027",
}
FIRST_NAMES = ["Anne", "Mette", "Louise", "Camilla", "Sofie", "Henrik", "Lars", "Jens", "Morten", "Mads",
               "Rasmus", "Kirsten", "Hanne", "Peter", "Søren", "Line", "Ida", "Thomas", "Maria", "Jakob"]
LAST_NAMES = ["Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
              "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Poulsen"]
JOB_CENTRE_ROLES = ["Jobcenterchef", "Afdelingsleder, indsatser for sygemeldte", "Teamleder, IPS-team",
                    "Udviklingskonsulent, beskæftigelse"]
PSYCHIATRY_ROLES = ["Afdelingssygeplejerske", "Ledende overlæge", "Teamleder, OPUS", "Klinikchef"]
NOTES = [
    "Første dialogmøde med jobcenterchefen. Interesse for IPS, men bekymring for finansieringen.",
    "Møde med psykiatrien om fælles målgruppe; enighed om at starte med unge 18–30 år.",
    "Jobcentret har afsat to konsulentstillinger til IPS fra næste kvartal.",
    "Udkast til samarbejdsplan sendt til kommentering hos psykiatrien.",
    "Ledelsesskifte i jobcentret; ny chef skal introduceres til IPS.",
    "Workshop om arbejdsgange mellem IPS-konsulenter og behandlere afholdt.",
    "Politisk behandling i beskæftigelsesudvalget udskudt til næste møde.",
]
NEXT_STEPS = [
    "Opfølgende møde med jobcenterchefen om udkast til samarbejdsplan",
    "Sende materiale om IPS-fidelitet til psykiatrien",
    "Aftale fælles workshop for IPS-konsulenter og behandlere",
    "Følge op på politisk behandling i beskæftigelsesudvalget",
    "Planlægge fidelitetsmåling sammen med teamlederen",
    "Introducere ny jobcenterchef til IPS og ambassadørkorpset",
]
# Where each municipality ends up today (weights): about 40 % covered, a few paused.
FINAL_STAGES = [("not_contacted", 10), ("dialogue", 22), ("plan_in_progress", 25),
                ("plan_signed", 20), ("in_operation", 19), ("paused", 4)]


def load(ctx) -> None:
    """Create the pipeline demo data (called by ``crm.demo.load_demo``; it commits)."""
    centres = _centres()
    groups = _target_groups()
    municipalities = db.session.scalars(select(Municipality).order_by(Municipality.code)).all()
    start = ctx.today - timedelta(days=730)
    signed_waiting: dict[int, list[tuple[Municipality, date, date | None]]] = {}
    for municipality in municipalities:
        owner = ctx.ambassadors.get(municipality.region_code) or ctx.admin
        final = _weighted(ctx.rng, FINAL_STAGES)
        signed, operating = _history(ctx, municipality, final, start, owner)
        if signed is not None:
            signed_waiting.setdefault(municipality.region_code, []).append((municipality, signed, operating))
        _notes(ctx, municipality, final, start, owner)
        _next_step(ctx, municipality, final, owner)
        _contacts(ctx, municipality, centres)
    for region_code, signed in signed_waiting.items():
        _plans(ctx, region_code, signed, centres, groups)
    db.session.flush()


def _weighted(rng, options):
    return rng.choices([o for o, _w in options], weights=[w for _o, w in options])[0]


def _centres() -> dict[int, list[PsychiatricCentre]]:
    """The demo centres per region (reusing any that already exist by name)."""
    existing = {(c.region_code, c.name): c for c in db.session.scalars(select(PsychiatricCentre))}
    result: dict[int, list[PsychiatricCentre]] = {}
    for region_code, names in CENTRES.items():
        for name in names:
            centre = existing.get((region_code, name)) or PsychiatricCentre(region_code=region_code, name=name)
            db.session.add(centre)
            result.setdefault(region_code, []).append(centre)
    db.session.flush()
    return result


def _target_groups() -> dict[int, list[TargetGroup]]:
    """The same starting list in every region; each region maintains its own from there."""
    result: dict[int, list[TargetGroup]] = {}
    for region_code in CENTRES:
        result[region_code] = [TargetGroup(region_code=region_code, name=name) for name in TARGET_GROUPS]
        db.session.add_all(result[region_code])
    db.session.flush()
    return result


def _history(ctx, municipality, final: str, start: date, owner) -> tuple[date | None, date | None]:
    """Record the stage changes up to ``final`` before the plan; return (signed date, operation date)
    for municipalities that get a signed plan (the plan records ``plan_signed`` itself)."""
    rng, today = ctx.rng, ctx.today
    if final == "not_contacted":
        return None, None
    day = start + timedelta(days=rng.randint(0, 300))
    record_stage_change(municipality.code, "dialogue", day, "Første dialogmøde med jobcentret.", owner)
    if final == "dialogue" or (final == "paused" and rng.random() < 0.5):
        if final == "paused":
            _pause(ctx, municipality, day, owner)
        return None, None
    day = min(day + timedelta(days=rng.randint(45, 200)), today - timedelta(days=40))
    record_stage_change(municipality.code, "plan_in_progress", day, "Parterne er gået i gang med en plan.", owner)
    if final in ("plan_in_progress", "paused"):
        if final == "paused":
            _pause(ctx, municipality, day, owner)
        return None, None
    signed = min(day + timedelta(days=rng.randint(40, 180)), today - timedelta(days=20))
    operating = None
    if final == "in_operation":
        operating = min(signed + timedelta(days=rng.randint(30, 120)), today - timedelta(days=3))
    return signed, operating


def _pause(ctx, municipality, after: date, owner) -> None:
    day = min(after + timedelta(days=ctx.rng.randint(30, 150)), ctx.today - timedelta(days=5))
    if day > after:
        record_stage_change(municipality.code, "paused", day,
                            "Arbejdet sat i bero efter omprioritering i jobcentret.", owner)


def _plans(ctx, region_code: int, signed: list, centres, groups) -> None:
    """One plan per signed municipality; neighbours in a region sometimes sign one plan together."""
    rng = ctx.rng
    owner = ctx.ambassadors.get(region_code) or ctx.admin
    # Official codes run roughly geographically, so neighbours in code order are near each other.
    signed = sorted(signed, key=lambda item: item[0].code)
    index = 0
    while index < len(signed):
        members = [signed[index]]
        if index + 1 < len(signed) and rng.random() < 0.2:
            members.append(signed[index + 1])
        index += len(members)
        signed_date = max(m[1] for m in members)
        plan = CooperationPlan(
            title="Samarbejdsplan om IPS – " + " og ".join(m[0].name for m in members),
            region_code=region_code,
            signed_date=signed_date,
            valid_from=signed_date + timedelta(days=rng.choice([0, 14, 30])),
            valid_to=date(signed_date.year + rng.choice([2, 3]), 12, 31),
            health_cluster=f"Sundhedsklynge {members[0][0].name}",
            health_agreement=HEALTH_AGREEMENTS[region_code],
            updated_by_id=owner.id,
        )
        plan.municipalities = [m[0] for m in members]
        plan.centres = rng.sample(centres[region_code], k=rng.choice([1, 1, 2]))
        plan.target_groups = rng.sample(groups[region_code], k=rng.choice([1, 2, 3]))
        db.session.add(plan)
        db.session.flush()
        apply_signed_plan(plan, owner)
        for municipality, _signed, operating in members:
            if operating and operating > signed_date:
                record_stage_change(municipality.code, "in_operation", operating,
                                    "IPS-konsulenterne er i gang med de første borgere.", owner)


def _notes(ctx, municipality, final: str, start: date, owner) -> None:
    if final == "not_contacted":
        return
    for _ in range(ctx.rng.randint(1, 3)):
        day = start + timedelta(days=ctx.rng.randint(60, 725))
        db.session.add(Note(municipality_code=municipality.code, note_date=min(day, ctx.today),
                            text=ctx.rng.choice(NOTES), created_by_id=owner.id))


def _next_step(ctx, municipality, final: str, owner) -> None:
    """Most municipalities in progress have one or two open tasks (about a fifth of them overdue)
    and some a task already done."""
    if final in ("in_operation", "paused") and ctx.rng.random() < 0.6:
        return
    for text in ctx.rng.sample(NEXT_STEPS, ctx.rng.choice([1, 1, 1, 2])):
        created = datetime.combine(ctx.today - timedelta(days=ctx.rng.randint(1, 45)), time(9))
        db.session.add(Task(municipality_code=municipality.code, text=text, owner_id=owner.id,
                            due_date=ctx.today + timedelta(days=ctx.rng.randint(-30, 75)),
                            created_by_id=owner.id, created_at=created, updated_by_id=owner.id))
    if ctx.rng.random() < 0.3:
        done = datetime.combine(ctx.today - timedelta(days=ctx.rng.randint(3, 60)), time(10))
        db.session.add(Task(municipality_code=municipality.code, text=ctx.rng.choice(NEXT_STEPS),
                            owner_id=owner.id, due_date=done.date(), status=TASK_DONE, done_by_id=owner.id,
                            done_at=done, created_by_id=owner.id, created_at=done - timedelta(days=14),
                            updated_by_id=owner.id))


def _contacts(ctx, municipality, centres) -> None:
    rng = ctx.rng
    slug = _slug(municipality.name)
    for _ in range(rng.choice([0, 1, 1, 2])):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        db.session.add(Contact(
            name=f"{first} {last}", organisation=f"Jobcenter {municipality.name}", role=rng.choice(JOB_CENTRE_ROLES),
            email=f"{_slug(first)}.{_slug(last)}@{slug}.dk", phone=_phone(rng),
            region_code=municipality.region_code, municipality_code=municipality.code,
        ))
    if rng.random() < 0.3:
        centre = rng.choice(centres[municipality.region_code])
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        db.session.add(Contact(
            name=f"{first} {last}", organisation=centre.name, role=rng.choice(PSYCHIATRY_ROLES),
            email=f"{_slug(first)}.{_slug(last)}@regionpsykiatri.dk", phone=_phone(rng),
            region_code=municipality.region_code, municipality_code=municipality.code, centre=centre,
        ))


def _phone(rng) -> str:
    return "+45 " + " ".join(f"{rng.randint(10, 99)}" for _ in range(4))


def _slug(text: str) -> str:
    """'Høje-Taastrup' → 'hoeje-taastrup' for demo e-mail addresses."""
    text = text.lower().replace("æ", "ae").replace("ø", "oe").replace("å", "aa").replace(" ", "-")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in text if ch.isalnum() or ch in "-.")
