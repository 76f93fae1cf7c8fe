"""The demo activities are believable: all regions and types, splits within totals, national events."""
from datetime import date

import pytest
from sqlalchemy import select, update

from crm.demo import load_demo
from crm.extensions import db
from crm.models import ACTIVITY_TYPE_CODES, Activity, Task
from crm.services.activities import validation_errors


@pytest.fixture
def demo(app):
    """Load the demo; afterwards unlink records from demo users (``updated_by_id``), because the
    per-test reset on SQLite deletes users before tables whose user key is ``use_alter``."""
    load_demo(today=date(2026, 5, 1))
    yield
    db.session.rollback()
    db.session.execute(update(Task).values(owner_id=None, created_by_id=None, done_by_id=None))
    for table in db.metadata.sorted_tables:
        if "updated_by_id" in table.c:
            db.session.execute(update(table).values(updated_by_id=None))
    db.session.commit()


def test_demo_activities(demo):
    activities = db.session.scalars(select(Activity)).all()
    assert 150 <= len(activities) <= 250
    assert {a.type for a in activities} == set(ACTIVITY_TYPE_CODES)
    assert {a.region_code for a in activities} == {None, 1081, 1082, 1083, 1084, 1085}
    assert all(date(2024, 4, 1) <= a.start_date <= date(2026, 5, 1) for a in activities)
    for a in activities:
        values = {c.key: getattr(a, c.key) for c in Activity.__table__.columns}
        assert validation_errors(values) == {}, (a.title, validation_errors(values))
    courses = [a for a in activities if a.type == "course"]
    assert courses and all(c.participants and c.sessions for c in courses)
    assert any(a.type == "conference" and a.region_code is None for a in activities)
