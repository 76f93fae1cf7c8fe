"""The stage history is the source of truth: stage_on/stages_on for any date, backdating,
corrections, deletions, the one-entry-per-day rule, and the signed-plan rule.

Expectations are written out by hand (or computed by a deliberately naive model in the test),
never taken from the functions under test.
"""
import random
from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select

from crm.clock import local_today
from crm.extensions import db
from crm.models import STAGE_CODES, CooperationPlan, Municipality, StageChange
from crm.services import pipeline
from crm.services.errors import FieldError
from crm.services.pipeline import record_stage_change
from crm.services.stages import stage_on, stages_on

KBH, FRB, GREVE, AARHUS = 101, 147, 253, 751


@pytest.fixture
def req(app):
    """Services word their messages with Flask-Babel, which needs a request context."""
    with app.test_request_context():
        yield


def _check(code: int, expected: list[tuple[date, str, date | None]]) -> None:
    """Both functions agree with the hand-written expectation on every listed date."""
    for on, stage, since in expected:
        single = stage_on(code, on)
        assert (single.stage, single.since) == (stage, since), f"stage_on {on}"
        everyone = stages_on(on)[code]
        assert (everyone.stage, everyone.since) == (stage, since), f"stages_on {on}"
        region = db.session.get(Municipality, code).region_code
        assert stages_on(on, region)[code] == everyone


def test_backdated_corrected_and_deleted_entries(req, users):
    amb = users["ambassador"]
    # Entered out of order: the later step first, then the dialogue backdated before it.
    record_stage_change(KBH, "plan_in_progress", date(2025, 6, 1), "udkast", amb)
    record_stage_change(KBH, "dialogue", date(2025, 1, 15), "første møde", amb)
    wrong = record_stage_change(KBH, "in_operation", date(2025, 9, 1), None, amb)
    mistake = record_stage_change(KBH, "paused", date(2025, 10, 1), None, amb)
    db.session.commit()
    # The "in operation" entry was really the signing, three weeks earlier; the pause never happened.
    pipeline.correct_stage_change(wrong, "plan_signed", date(2025, 8, 11), "rettet", amb)
    pipeline.delete_stage_change(mistake)
    db.session.commit()

    d = date
    _check(KBH, [
        (d(2024, 12, 31), "not_contacted", None),
        (d(2025, 1, 14), "not_contacted", None),
        (d(2025, 1, 15), "dialogue", d(2025, 1, 15)),
        (d(2025, 1, 16), "dialogue", d(2025, 1, 15)),
        (d(2025, 5, 31), "dialogue", d(2025, 1, 15)),
        (d(2025, 6, 1), "plan_in_progress", d(2025, 6, 1)),
        (d(2025, 6, 2), "plan_in_progress", d(2025, 6, 1)),
        (d(2025, 8, 10), "plan_in_progress", d(2025, 6, 1)),
        (d(2025, 8, 11), "plan_signed", d(2025, 8, 11)),
        (d(2025, 8, 12), "plan_signed", d(2025, 8, 11)),
        (d(2025, 9, 1), "plan_signed", d(2025, 8, 11)),   # the corrected-away date
        (d(2025, 10, 1), "plan_signed", d(2025, 8, 11)),  # the deleted pause
        (d(2030, 1, 1), "plan_signed", d(2025, 8, 11)),
    ])
    # Another municipality is untouched by all this.
    _check(FRB, [(d(2025, 8, 11), "not_contacted", None)])
    assert stages_on(d(2025, 8, 11))[KBH].covered and not stages_on(d(2025, 8, 10))[KBH].covered


def test_same_municipality_and_date_refused_with_clear_message(req, users):
    record_stage_change(KBH, "dialogue", date(2025, 3, 4), None, users["ambassador"])
    db.session.commit()
    with pytest.raises(FieldError, match="allerede registreret en faseændring.*04-03-2025"):
        record_stage_change(KBH, "plan_in_progress", date(2025, 3, 4), None, users["ambassador"])
    db.session.rollback()
    # Another municipality on the same date is fine.
    record_stage_change(FRB, "dialogue", date(2025, 3, 4), None, users["ambassador"])
    db.session.commit()


def test_correction_cannot_collide_with_another_entry(req, users):
    record_stage_change(KBH, "dialogue", date(2025, 3, 4))
    later = record_stage_change(KBH, "plan_in_progress", date(2025, 5, 1))
    db.session.commit()
    with pytest.raises(FieldError, match="allerede registreret"):
        pipeline.correct_stage_change(later, "plan_in_progress", date(2025, 3, 4))
    db.session.rollback()
    # Correcting an entry onto its own date (changing only the stage) is allowed.
    pipeline.correct_stage_change(later, "plan_signed", date(2025, 5, 1))
    db.session.commit()
    assert stage_on(KBH, date(2025, 5, 1)).stage == "plan_signed"


def test_unknown_stage_and_municipality_refused(req):
    with pytest.raises(FieldError, match="Ukendt fase"):
        record_stage_change(KBH, "nonsense", date(2025, 1, 1))
    with pytest.raises(FieldError, match="Ukendt kommunekode"):
        record_stage_change(9999, "dialogue", date(2025, 1, 1))


def test_stages_on_matches_a_naive_model_for_random_histories(req):
    """Random histories for 30 municipalities; every date around every change checked against a
    plain-Python replay of the same list."""
    rng = random.Random(7)
    codes = list(db.session.scalars(select(Municipality.code).order_by(Municipality.code)))[:30]
    history: dict[int, dict[date, str]] = {}
    rows = []
    for code in codes:
        days = sorted(rng.sample(range(0, 700), rng.randint(0, 8)))
        history[code] = {date(2024, 1, 1) + timedelta(days=n): rng.choice(STAGE_CODES) for n in days}
        rows += [{"municipality_code": code, "stage": s, "effective_date": d} for d, s in history[code].items()]
    if rows:
        db.session.execute(insert(StageChange), rows)
        db.session.commit()

    def naive(code: int, on: date) -> tuple[str, date | None]:
        past = [d for d in history[code] if d <= on]
        return (history[code][max(past)], max(past)) if past else ("not_contacted", None)

    probe_days = {date(2023, 12, 31), date(2026, 1, 1)}
    for changes in history.values():
        for d in changes:
            probe_days |= {d - timedelta(days=1), d, d + timedelta(days=1)}
    for on in sorted(probe_days):
        result = stages_on(on)
        for code in codes:
            assert (result[code].stage, result[code].since) == naive(code, on), (code, on)
    assert len(stages_on(date(2025, 1, 1))) == 98


def test_stages_on_is_one_query(req, count_queries):
    for n, code in enumerate((KBH, FRB, AARHUS)):
        record_stage_change(code, "dialogue", date(2025, 1, 1 + n))
    db.session.commit()
    with count_queries() as q:
        stages_on(date(2025, 6, 1))
        stages_on(date(2025, 6, 1), 1084)
    assert q.count == 2


# --- the signed-plan rule --------------------------------------------------------------------


def _plan(codes, signed: date) -> CooperationPlan:
    plan = CooperationPlan(title="Fælles plan", region_code=1084, signed_date=signed)
    plan.municipalities = [db.session.get(Municipality, c) for c in codes]
    db.session.add(plan)
    db.session.flush()
    return plan


def test_signed_plan_moves_municipalities_unless_a_later_stage_is_recorded(req, users):
    amb = users["ambassador"]
    signed = date(2025, 4, 10)
    # 101: in dialogue → moves.  147: already in operation before signing → stays.
    # 151: a change after the signed date exists → stays.  153: an entry on the very date → stays.
    # 155: nothing recorded at all → moves.
    record_stage_change(101, "dialogue", date(2025, 1, 5))
    record_stage_change(147, "in_operation", date(2025, 2, 1))
    record_stage_change(151, "plan_in_progress", date(2025, 1, 1))
    record_stage_change(151, "in_operation", date(2025, 6, 1))
    record_stage_change(153, "plan_in_progress", signed)
    db.session.commit()

    plan = _plan([101, 147, 151, 153, 155], signed)
    outcomes = {o.municipality_code: o for o in pipeline.apply_signed_plan(plan, amb)}
    db.session.commit()

    assert {c for c, o in outcomes.items() if o.moved} == {101, 155}
    assert "er flyttet til »Samarbejdsplan underskrevet« pr. 10-04-2025" in outcomes[101].message
    assert "allerede" in outcomes[147].message and "senere fase" in outcomes[151].message
    assert stage_on(101, signed - timedelta(days=1)).stage == "dialogue"
    assert (stage_on(101, signed).stage, stage_on(101, signed).since) == ("plan_signed", signed)
    assert stage_on(155, signed).stage == "plan_signed" and stage_on(155, signed - timedelta(days=1)).stage == "not_contacted"
    assert stage_on(147, signed).stage == "in_operation"
    assert stage_on(151, signed).stage == "plan_in_progress" and stage_on(151, date(2025, 6, 1)).stage == "in_operation"
    assert stage_on(153, signed).stage == "plan_in_progress"
    added = db.session.scalars(select(StageChange).where(StageChange.stage == "plan_signed")).all()
    assert sorted(c.municipality_code for c in added) == [101, 155]
    assert all(c.recorded_by_id == amb.id for c in added)

    # Saving the same plan again changes nothing.
    again = pipeline.apply_signed_plan(plan, amb)
    assert not any(o.moved for o in again)


def test_unsigned_plan_moves_nothing(req):
    plan = _plan([101], None)
    assert pipeline.apply_signed_plan(plan) == []
    assert stage_on(101, local_today()).stage == "not_contacted"


def test_board_move_today_corrects_a_same_day_move(req, users):
    municipality = db.session.get(Municipality, 101)
    pipeline.move_on_board(municipality, "dialogue", date(2025, 5, 5), user=users["ambassador"])
    pipeline.move_on_board(municipality, "plan_in_progress", date(2025, 5, 5), user=users["ambassador"])
    assert pipeline.move_on_board(municipality, "plan_in_progress", date(2025, 5, 5)) is None
    db.session.commit()
    changes = db.session.scalars(select(StageChange).where(StageChange.municipality_code == 101)).all()
    assert [(c.stage, c.effective_date) for c in changes] == [("plan_in_progress", date(2025, 5, 5))]
    with pytest.raises(FieldError):
        pipeline.move_on_board(municipality, "nonsense", date(2025, 5, 6))
