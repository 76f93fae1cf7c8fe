"""``flask demo --scale N``: a large, plausible, internally consistent synthetic history."""
from collections import defaultdict
from datetime import date

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    ACTIVITY_TYPE_CODES,
    Activity,
    FidelityRating,
    FidelityReview,
    Municipality,
    OutcomeQuarter,
    StageChange,
    activity_municipality,
)
from crm.models.audit import AuditEntry
from tests import factories

TODAY = date(2026, 3, 15)
N = 600


def _load():
    from crm.demo import load_demo

    lines = load_demo(scale=N, today=TODAY)
    db.session.remove()
    return lines


def test_scale_cli_creates_n_activities(app, runner):
    result = runner.invoke(args=["demo", "--scale", "300"])
    assert result.exit_code == 0, result.output
    assert "300 activity" in result.output
    assert db.session.scalar(select(func.count(Activity.id))) == 300


def test_scale_history_is_consistent(app):
    _load()
    municipalities = dict(db.session.execute(select(Municipality.code, Municipality.region_code)).all())
    activities = db.session.execute(select(Activity.id, Activity.type, Activity.region_code, Activity.start_date,
                                           Activity.participants, Activity.participants_municipality,
                                           Activity.participants_psychiatry, Activity.participants_other)).all()
    assert len(activities) == N
    assert {a.type for a in activities} == set(ACTIVITY_TYPE_CODES)
    assert {a.region_code for a in activities} >= {1081, 1082, 1083, 1084, 1085, None}
    years = {a.start_date.year for a in activities}
    assert len(years) >= 8 and max(a.start_date for a in activities) <= TODAY

    links = defaultdict(list)
    for activity_id, code in db.session.execute(select(activity_municipality.c.activity_id,
                                                       activity_municipality.c.municipality_code)).all():
        links[activity_id].append(code)
    for a in activities:
        if a.region_code is None:
            assert links[a.id] == []
        else:
            assert 1 <= len(links[a.id]) <= 3
            assert all(municipalities[code] == a.region_code for code in links[a.id])
        if a.participants_municipality is not None:
            assert a.participants_municipality + a.participants_psychiatry + a.participants_other == a.participants


def test_scale_stage_histories_and_quality_data(app):
    _load()
    history = defaultdict(list)
    for code, stage, day in db.session.execute(
        select(StageChange.municipality_code, StageChange.stage, StageChange.effective_date)
        .order_by(StageChange.municipality_code, StageChange.effective_date)
    ):
        history[code].append((day, stage))
    assert len(history) >= 80  # nearly every municipality has been contacted in ten years
    for code, changes in history.items():
        days = [day for day, _stage in changes]
        assert days == sorted(set(days)) and days[-1] <= TODAY
        assert changes[0][1] == "dialogue"
    earliest = min(changes[0][0] for changes in history.values())
    assert (TODAY - earliest).days > 7 * 365

    # Complete reviews: the total is the sum of the 25 ratings; drafts have no total.
    ratings = defaultdict(list)
    for review_id, score in db.session.execute(select(FidelityRating.review_id, FidelityRating.score)):
        ratings[review_id].append(score)
    reviews = db.session.execute(select(FidelityReview.id, FidelityReview.total, FidelityReview.municipality_code)).all()
    assert reviews
    for review in reviews:
        if review.total is None:
            assert len(ratings[review.id]) < 25
        else:
            assert len(ratings[review.id]) == 25 and review.total == sum(ratings[review.id])
            assert history[review.municipality_code][-1][1] == "in_operation"

    quarters = db.session.scalars(select(OutcomeQuarter)).all()
    assert quarters
    for q in quarters:
        assert max(q.with_paid_hours, q.with_employment, q.with_education, q.ever_paid_hours_or_education) <= q.citizens


def test_scale_bypasses_audit_and_leaves_the_app_able_to_insert(app, users):
    _load()
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.entity.in_(["activity", "Activity"]))) == 0
    before = db.session.scalar(select(func.max(Activity.id)))
    activity = factories.ActivityFactory(title="Ny efter syntetiske data")  # PostgreSQL sequences were moved on
    assert activity.id > before


def test_scale_is_deterministic(app):
    _load()
    first = db.session.scalars(select(Activity.title).order_by(Activity.id).limit(50)).all()
    from tests.conftest import _reset_data

    _reset_data()
    _load()
    assert db.session.scalars(select(Activity.title).order_by(Activity.id).limit(50)).all() == first
