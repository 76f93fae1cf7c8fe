"""Demo outcome figures: for each municipality with a signed plan, STAR's quarterly counts from
the quarter after signing up to the last finished quarter (at most the last eight). The target
group grows as the service takes in citizens, and the shares rise over the first quarters and
then level out around the targets, some municipalities above and some below. Deterministic
(``ctx.rng``); the counts respect the rules the import enforces (nothing above ``citizens``).
"""
from crm.extensions import db
from crm.models import OutcomeQuarter
from crm.services.outcomes import quarter_of, shift_quarter
from crm.services.stages import covered_since, stages_on

MAX_QUARTERS = 8


def load(ctx) -> None:
    """Create the demo figures (called by ``crm.demo.load_demo``, which commits)."""
    stages = stages_on(ctx.today)
    covered = sorted(code for code, s in stages.items() if s.covered)
    spells = covered_since(covered, ctx.today)
    last = shift_quarter(quarter_of(ctx.today), -1)
    earliest = shift_quarter(last, -(MAX_QUARTERS - 1))
    for code in covered:
        first = shift_quarter(quarter_of(spells.get(code) or stages[code].since), 1)
        _quarters(ctx, code, max(first, earliest), last)
    db.session.flush()


def _quarters(ctx, code: int, first: str, last: str) -> None:
    """One municipality's quarters from ``first`` to ``last``."""
    rng = ctx.rng
    citizens = rng.randint(6, 25)
    current_level = rng.uniform(0.34, 0.60)  # where the share in paid hours or education settles
    ever = 0
    quarter, step = first, 0
    while quarter <= last:
        ramp = min(1.0, 0.45 + 0.15 * step)
        share_now = max(0.05, min(0.9, rng.gauss(current_level * ramp, 0.04)))
        now = round(citizens * share_now)
        education = round(now * rng.uniform(0.15, 0.35))
        paid = now - education + rng.randint(0, 2)  # a few are in both; the sum can overlap
        paid = min(paid, citizens)
        employment = round(paid * rng.uniform(0.5, 0.8))
        ever = min(citizens, max(ever, now, round(citizens * min(0.85, share_now + 0.12 + 0.03 * step))))
        db.session.add(OutcomeQuarter(municipality_code=code, quarter=quarter, citizens=citizens,
                                      with_paid_hours=paid, with_employment=employment, with_education=education,
                                      ever_paid_hours_or_education=ever))
        citizens += rng.randint(1, 6)
        quarter, step = shift_quarter(quarter, 1), step + 1
