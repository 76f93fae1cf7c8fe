"""The demo shows the anchoring checklist: states across regions and dates, the health agreement
per region, and a list of signed but weakly anchored municipalities."""
from datetime import date, timedelta

import pytest
from sqlalchemy import distinct, func, select, update

from crm.demo import load_demo
from crm.extensions import db
from crm.models import AnchoringEntry, AnchoringItem, Task
from crm.services import anchoring

TODAY = date(2026, 5, 1)


@pytest.fixture
def demo(app):
    """Load the demo; afterwards unlink records from demo users (as tests/test_fidelity_demo.py)."""
    load_demo(today=TODAY)
    yield
    db.session.rollback()
    db.session.execute(update(Task).values(owner_id=None, created_by_id=None, done_by_id=None))
    db.session.execute(update(AnchoringEntry).values(recorded_by_id=None))
    for table in db.metadata.sorted_tables:
        if "updated_by_id" in table.c:
            db.session.execute(update(table).values(updated_by_id=None))
    db.session.commit()


def test_demo_anchoring_spans_regions_states_and_dates(demo):
    assert db.session.scalar(select(func.count(AnchoringItem.id))) == 9
    states = set(db.session.scalars(select(AnchoringEntry.state).distinct()))
    assert {"in_progress", "in_place", "not_relevant"} <= states
    assert db.session.scalar(select(func.count(distinct(AnchoringEntry.region_code)))) == 5
    regional = db.session.execute(select(AnchoringEntry.region_code).join(AnchoringItem).where(
        AnchoringItem.level == "region", AnchoringEntry.municipality_code.is_(None))).scalars().all()
    assert set(regional) == {1081, 1082, 1083, 1084, 1085}
    assert db.session.scalar(select(func.max(AnchoringEntry.effective_date))) <= TODAY
    now, year_ago = anchoring.region_scores(TODAY), anchoring.region_scores(TODAY - timedelta(days=365))
    assert anchoring.national_score(now).in_place > anchoring.national_score(year_ago).in_place
    assert all(r.score.in_place > 0 for r in now.values())
    assert anchoring.weakly_anchored(TODAY)
    aalborg = next(s for s in anchoring.municipality_scores(TODAY) if s.code == 851)
    assert aalborg.signed and not aalborg.score.weak
