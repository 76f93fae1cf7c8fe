"""The audit log records every change with who, when, and old → new values."""
from datetime import date

from sqlalchemy import select

from crm.audit import acting_as
from crm.extensions import db
from crm.models import AuditEntry, PsychiatricCentre, StageChange, Task


def _entries(entity: str, entity_id: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    return list(db.session.scalars(query))


def test_create_update_delete_are_logged_with_values(app):
    with acting_as("tester"):
        change = StageChange(municipality_code=101, stage="dialogue", effective_date=date(2025, 1, 2))
        db.session.add(change)
        db.session.commit()
        change.stage = "plan_in_progress"
        db.session.commit()
        db.session.delete(change)
        db.session.commit()
    entries = _entries("stage_change", str(change.id))
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert entries[0].changes["stage"] == "dialogue"
    assert entries[1].changes == {"stage": ["dialogue", "plan_in_progress"]}
    assert all(e.actor == "tester" for e in entries)


def test_changes_through_the_app_carry_the_user(login_as, users):
    client = login_as(users["admin"])  # psychiatric centres are reference data, kept by admins
    response = client.post("/admin/centres/new", data={"name": "Psykiatrisk Center Amager", "region": "1084"})
    assert response.status_code == 302
    centre = db.session.scalar(select(PsychiatricCentre))
    entry = _entries("psychiatric_centre", str(centre.id))[0]
    assert entry.user_id == users["admin"].id
    assert entry.actor == users["admin"].email
    assert entry.changes["name"] == "Psykiatrisk Center Amager"

    client.post(f"/admin/centres/{centre.id}", data={"name": "PC Amager", "region": "1084"})
    update = _entries("psychiatric_centre", str(centre.id))[-1]
    assert update.action == "update"
    assert update.changes["name"] == ["Psykiatrisk Center Amager", "PC Amager"]


def test_passwords_never_reach_the_log(app, users):
    entries = _entries("user")
    assert entries
    for entry in entries:
        assert users["admin"].password_hash not in str(entry.changes)
        assert "pbkdf2" not in str(entry.changes)


def test_audit_page_for_admin_and_working_group_only(login_as, users):
    with acting_as("tester"):
        db.session.add(Task(municipality_code=101, text="Ring til jobcenterchefen"))
        db.session.commit()
    for role in ("admin", "working_group"):
        page = login_as(users[role]).get("/admin/audit?entity=task")
        assert page.status_code == 200
        assert "Ring til jobcenterchefen" in page.text
    assert login_as(users["ambassador"]).get("/admin/audit").status_code == 403


def test_audit_page_filters_do_not_break_on_odd_input(login_as, users):
    client = login_as(users["admin"])
    for query in ("?page=abc", "?entity=%27%3B--", "?actor=%25%25", "?page=99999"):
        assert client.get("/admin/audit" + query).status_code in (200, 404)
