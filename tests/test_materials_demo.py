"""The demo shows the materials area: a material in every workflow state across the regions, with
the expert panel's comments and verdicts, the demo expert-panel user, and the national material
activities linked to their materials (so the report counts each once)."""
from datetime import date

import pytest
from sqlalchemy import func, select, update

from crm.demo import load_demo
from crm.extensions import db
from crm.models import Activity, Material, MaterialComment, MaterialVersion, Task, User
from crm.services import materials as service
from crm.services import report


@pytest.fixture
def demo(app):
    """Load the demo; afterwards unlink records from demo users (see test_activities_demo)."""
    load_demo(today=date(2026, 5, 1))
    yield
    db.session.rollback()
    db.session.execute(update(Task).values(owner_id=None, created_by_id=None, done_by_id=None))
    for table in db.metadata.sorted_tables:
        if "updated_by_id" in table.c:
            db.session.execute(update(table).values(updated_by_id=None))
    db.session.commit()


def test_demo_materials_cover_every_state_region_comments_and_verdicts(demo):
    materials = db.session.scalars(select(Material).order_by(Material.id)).all()
    assert {m.state for m in materials} == {"draft", "submitted", "in_review", "changes_requested", "approved",
                                            "published", "retired"}
    assert materials[0].state == "published"  # the browser test opens the first one for every role
    assert set().union(*(m.region_codes for m in materials)) == {1081, 1082, 1083, 1084, 1085}
    assert any(not m.regions for m in materials)  # a national one too
    assert db.session.scalar(select(func.count(MaterialComment.id))) >= 5
    verdicts = set(db.session.scalars(select(MaterialVersion.verdict).where(MaterialVersion.verdict.is_not(None))))
    assert verdicts == {"approved", "changes_requested"}
    assert all(m.published_on and m.published_on <= date(2026, 5, 1) for m in materials
               if m.state in ("published", "retired"))
    for m in materials:  # the history the workflow wrote, in time order, ending in the state
        assert m.transitions[0].action == "create" and m.transitions[-1].to_state == m.state
        assert [t.at for t in m.transitions] == sorted(t.at for t in m.transitions)
    panel = db.session.scalar(select(User).where(User.email == "ekspertpanel@demo.ips.dk"))
    assert panel.role == "expert_panel"
    assert [r.material.state for r in service.material_list(panel)][:1] == ["in_review"]


def test_demo_material_activities_are_linked_so_nothing_counts_twice(demo):
    linked = db.session.scalars(select(Activity).where(Activity.material_id.is_not(None))).all()
    assert len(linked) == 2 and all(a.type == "material" for a in linked)
    whole = report.status_report(date(2020, 1, 1), date(2026, 12, 31))
    published = db.session.scalar(select(func.count(Material.id)).where(Material.published_on.is_not(None)))
    unlinked = db.session.scalar(select(func.count(Activity.id)).where(Activity.type == "material",
                                                                       Activity.material_id.is_(None)))
    assert whole.value("materials", "total") == published + unlinked
