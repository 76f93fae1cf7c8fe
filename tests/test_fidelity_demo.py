"""The demo reviews and outcome figures are believable and follow the same rules as real data."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from crm.demo import load_demo
from crm.extensions import db
from crm.models import FidelityReview, OutcomeQuarter, Task
from crm.services import fidelity, outcomes
from crm.services.stages import stages_on

TODAY = date(2026, 5, 1)


@pytest.fixture
def demo(app):
    """Load the demo; afterwards unlink records from demo users (see test_activities_demo)."""
    load_demo(today=TODAY)
    yield
    db.session.rollback()
    db.session.execute(update(Task).values(owner_id=None, created_by_id=None, done_by_id=None))
    for table in db.metadata.sorted_tables:
        if "updated_by_id" in table.c:
            db.session.execute(update(table).values(updated_by_id=None))
    db.session.commit()


def test_demo_reviews(demo):
    reviews = db.session.scalars(select(FidelityReview)).all()
    covered = {code for code, s in stages_on(TODAY).items() if s.covered}
    assert len(reviews) >= 10
    assert {r.municipality_code for r in reviews} <= covered
    assert all(TODAY - timedelta(days=730) <= r.review_date <= TODAY for r in reviews)
    drafts = [r for r in reviews if r.total is None]
    assert 1 <= len(drafts) <= 10
    for review in reviews:
        scores = [r.score for r in review.ratings if r.score is not None]
        if review.total is None:
            assert len(scores) < 25
        else:
            assert len(scores) == 25 and review.total == sum(scores)
    assert {b.band.code for b in fidelity.band_distribution() if b.count} >= {"fair", "good"}
    assert any(d.overdue for d in fidelity.due_reviews(TODAY, 60))


def test_demo_outcomes(demo):
    rows = db.session.scalars(select(OutcomeQuarter)).all()
    covered = {code for code, s in stages_on(TODAY).items() if s.covered}
    assert rows and {r.municipality_code for r in rows} <= covered
    low, high = outcomes.shift_quarter("2026Q2", -9), "2026Q1"
    for r in rows:
        assert low <= r.quarter <= high
        assert 0 <= r.with_employment <= r.with_paid_hours <= r.citizens
        assert 0 <= r.with_education <= r.citizens and 0 <= r.ever_paid_hours_or_education <= r.citizens
    below = [m for m in outcomes.municipality_outcomes("2026Q1") if m.shares.below_target]
    assert 0 < len(below) < len(outcomes.municipality_outcomes("2026Q1"))
