"""Demo grant side: each region's grant (3 400 000 kr. for 2023–2026), an approved budget per year
with a note to every line, one revision (Hovedstaden 2025: more courses, less material), one draft
revision waiting for STAR (Sjælland this year), and the expenses of a believable project: monthly
salaries, course catering and rooms, material printing, the expert council's fees, the yearly audit
and the odd credit note, some linked to the region's courses and workshops. About 250 expenses per
region, also at ``--scale`` (the grant side does not grow with the activity log).
"""
from datetime import date

from sqlalchemy import insert, select

from crm.extensions import db
from crm.models import Activity, BudgetLine, BudgetVersion, CostLine, Expense, Grant

GRANT_ORE = 3_400_000 * 100
PROJECT_START, PROJECT_END = date(2023, 1, 1), date(2026, 12, 31)

# cost line code → (yearly budget in kr., the note STAR's template asks for)
BUDGET = {
    "salaries": (600_000, "Én IPS-ambassadør på fuld tid inkl. pension og feriepenge (statens niveau)."),
    "activities_events": (60_000, "Temadage og netværksmøder for jobcentre og psykiatri, lokaler og forplejning."),
    "materials": (40_000, "Tryk af pjecer og layout af vejledninger til samarbejdsplaner."),
    "expert_fees": (20_000, "Honorar til ekspertrådet, fire møder om året."),
    "courses": (90_000, "IPS-grundkurser for jobkonsulenter: undervisere, lokaler og forplejning."),
    "other": (25_000, "Kørsel og mindre projektudgifter."),
    "audit": (15_000, "Revisorerklæring på årets regnskab."),
}
# Hovedstaden's 2025 revision moves money from material to courses.
REVISION = {"courses": 120_000, "materials": 10_000}
REVISION_REASON = "Flere kurser i efteråret efter ønske fra tre jobcentre; mindre til tryk, da pjecen ligger online."
DRAFT_REASON = "Flytning af midler fra materialer til temadage (afventer STAR)."


def load(ctx) -> None:
    """Write the grant side for every region of ``ctx.ambassadors`` (``load_demo`` commits)."""
    rng, today = ctx.rng, ctx.today
    lines = {line.code: line for line in db.session.scalars(select(CostLine))}
    years = range(PROJECT_START.year, min(today.year, PROJECT_END.year) + 1)
    for region_code, ambassador in sorted(ctx.ambassadors.items()):
        db.session.add(Grant(region_code=region_code, amount_ore=GRANT_ORE, project_start=PROJECT_START,
                             project_end=PROJECT_END, reference=f"STAR j.nr. 23/{region_code}-IPS",
                             updated_by_id=ctx.admin.id))
        for year in years:
            _budget(region_code, year, 1, BUDGET, "Budget for året efter STAR's skabelon.", date(year, 1, 10),
                    date(year, 1, 28), ambassador, lines)
        if region_code == 1084 and 2025 in years:
            _budget(region_code, 2025, 2, {**BUDGET, **{code: (amount, BUDGET[code][1] + " Revideret juni 2025.")
                                                         for code, amount in REVISION.items()}},
                    REVISION_REASON, date(2025, 6, 2), date(2025, 6, 20), ambassador, lines)
        if region_code == 1085 and today.year in years:
            _budget(region_code, today.year, 2, {**BUDGET, "materials": (20_000, BUDGET["materials"][1]),
                                                 "activities_events": (80_000, BUDGET["activities_events"][1])},
                    DRAFT_REASON, today, None, ambassador, lines)
        _expenses(ctx, rng, region_code, ambassador, lines, years, today)
    db.session.flush()


def _budget(region_code, year, number, budget, reason, revised_on, approved_on, ambassador, lines) -> None:
    version = BudgetVersion(region_code=region_code, year=year, number=number, revised_on=revised_on,
                            reason=reason, approved_on=approved_on, created_by_id=ambassador.id)
    version.lines = [BudgetLine(cost_line_id=lines[code].id, amount_ore=amount * 100, note=note)
                     for code, (amount, note) in budget.items()]
    db.session.add(version)


def _expenses(ctx, rng, region_code, ambassador, lines, years, today) -> None:
    activities = db.session.execute(
        select(Activity.id, Activity.type, Activity.start_date, Activity.title)
        .where(Activity.region_code == region_code, Activity.type.in_(("course", "workshop")))
        .order_by(Activity.start_date)).all()
    activities = activities[::max(1, len(activities) // 60)][:60]  # at --scale too: a few per month
    rows, number = [], 0

    def add(day: date, code: str, kroner: float, description: str, activity_id=None) -> None:
        nonlocal number
        if day > today:
            return
        number += 1
        rows.append(dict(region_code=region_code, spent_on=day, cost_line_id=lines[code].id,
                         amount_ore=int(round(kroner * 100)), description=description[:300],
                         voucher=f"{day.year}-{number:04d}", activity_id=activity_id, source="import",
                         created_by_id=ambassador.id, updated_by_id=ambassador.id))

    for year in years:
        for month in range(1, 13):
            add(date(year, month, 28), "salaries", 49_500 + rng.randint(0, 1_200), f"Løn {month:02d}-{year}")
            if month % 3 == 0:
                add(date(year, month, 15), "other", rng.randint(800, 3_500) + rng.randint(0, 99) / 100,
                    "Kørselsgodtgørelse, kvartal")
            if month in (3, 6, 9, 11):
                add(date(year, month, 20), "expert_fees", 5_000, "Honorar, ekspertrådets møde")
        add(date(year, 4, 8), "materials", rng.randint(6_000, 14_000) + 0.5, "Tryk af pjecen »Hvad er IPS?«")
        add(date(year, 10, 2), "materials", rng.randint(4_000, 9_000), "Layout af vejledning til samarbejdsplan")
        add(date(year, 12, 15), "audit", 14_375, "Revisorerklæring, årsregnskab")
        add(date(year, 5, 3), "activities_events", -rng.randint(300, 900) - 0.25,
            "Kreditnota: for meget faktureret forplejning")
    for activity_id, kind, start, title in activities:
        if start.year not in years:
            continue
        code = "courses" if kind == "course" else "activities_events"
        add(start, code, rng.randint(2_500, 9_000) + rng.choice((0, 0.5, 0.75)), f"Forplejning: {title}", activity_id)
        if kind == "course":
            add(start, "courses", rng.randint(4_000, 8_000), f"Lokaleleje: {title}", activity_id)
    if rows:
        db.session.execute(insert(Expense), rows)
