"""Cooperation plans over HTTP: create/edit with several municipalities, the signed-plan stage
rule, PDF upload rules and download, optimistic locking, target groups, region rule, audit."""
import io
import os
import re
from datetime import date

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry, CooperationPlan, StageChange, TargetGroup
from crm.services.stages import stage_on
from tests import factories

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
KBH, FRB, GREVE = 101, 147, 253


def _hidden(html: str, name: str) -> str:
    tag = re.search(r'<input[^>]*name="%s"[^>]*>' % re.escape(name), html).group(0)
    return re.search(r'value="([^"]*)"', tag).group(1)


def _form(**overrides) -> dict:
    data = {"title": "Samarbejdsplan Kbh/Frb", "region": "1084", "municipalities": [str(KBH), str(FRB)],
            "signed_date": "", "valid_from": "01-05-2025", "valid_to": "31-12-2027",
            "health_cluster": "Sundhedsklynge Byen", "health_agreement": "Sundhedsaftalen 2024–2027", "note": ""}
    data.update(overrides)
    return data


def _uploads(app) -> list[str]:
    folder = app.config["UPLOAD_FOLDER"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_create_plan_with_two_municipalities_centre_target_group_and_pdf(app, login_as, users):
    centre = factories.CentreFactory(name="Psykiatrisk Center Amager", region_code=1084)
    group = TargetGroup(region_code=1084, name="Unge 18–30 år")
    db.session.add(group)
    db.session.commit()
    client = login_as(users["ambassador"])
    assert client.get("/planer/ny").status_code == 200
    response = client.post("/planer/ny", data=_form(
        centres=[str(centre.id)], target_groups=[str(group.id)], document=(io.BytesIO(PDF), "plan underskrevet.pdf")),
        content_type="multipart/form-data")
    assert response.status_code == 302
    plan = db.session.scalar(select(CooperationPlan))
    assert sorted(m.code for m in plan.municipalities) == [KBH, FRB]
    assert [c.name for c in plan.centres] == ["Psykiatrisk Center Amager"]
    assert [g.name for g in plan.target_groups] == ["Unge 18–30 år"]
    assert (plan.valid_from, plan.valid_to) == (date(2025, 5, 1), date(2027, 12, 31))
    assert plan.document_name == "plan underskrevet.pdf"
    stored = _uploads(app)
    assert stored == [plan.document_file] and "underskrevet" not in plan.document_file
    assert plan.updated_by_id == users["ambassador"].id

    download = client.get(f"/planer/{plan.id}/dokument")
    assert download.status_code == 200 and download.data == PDF
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    anonymous = app.test_client().get(f"/planer/{plan.id}/dokument")
    assert anonymous.status_code == 302 and "/login" in anonymous.location
    # Other regions and the working group may read it (they are signed in).
    assert login_as(users["working_group"]).get(f"/planer/{plan.id}/dokument").status_code == 200

    page = client.get(f"/planer/{plan.id}").text
    assert "Psykiatrisk Center Amager" in page and "København" in page and "Frederiksberg" in page


@pytest.mark.parametrize("filename, content, message", [
    ("notat.pdf", b"PK\x03\x04 this is a zip", "ikke en PDF-fil"),
    ("plan.docx", PDF, "Kun PDF-filer"),
    ("../../etc/plan.pdf", PDF, "Filnavnet må ikke indeholde en sti"),
    ("mappe/plan.pdf", PDF, "Filnavnet må ikke indeholde en sti"),
    ("..plan.pdf", PDF, "Filnavnet må ikke indeholde en sti"),
    ("plan.pdf", PDF + b"x" * 2000, "Filen er for stor"),
    ("tom.pdf", b"", "Filen er tom"),
])
def test_bad_uploads_get_a_clear_error_and_nothing_is_saved(app, login_as, users, filename, content, message):
    app.config["MAX_UPLOAD_BYTES"] = 1000
    client = login_as(users["ambassador"])
    response = client.post("/planer/ny", data=_form(document=(io.BytesIO(content), filename)),
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in response.text
    assert "Samarbejdsplan Kbh/Frb" in response.text  # the input is kept
    assert db.session.scalar(select(CooperationPlan)) is None
    assert _uploads(app) == []


def test_backslash_path_in_filename_is_refused(app):
    from werkzeug.datastructures import FileStorage

    from crm.services.uploads import UploadError, check_filename

    with app.test_request_context():
        for name in ("C:\\Users\\anne\\plan.pdf", "..\\plan.pdf", "/tmp/plan.pdf"):
            with pytest.raises(UploadError, match="sti"):
                check_filename(FileStorage(io.BytesIO(PDF), name).filename)
        assert check_filename("Plan 2025.pdf") == "Plan 2025.pdf"


def test_signed_plan_moves_municipalities_and_says_what_it_did(login_as, users):
    factories.StageChangeFactory(municipality_code=KBH, stage="plan_in_progress", effective_date=date(2025, 1, 10))
    factories.StageChangeFactory(municipality_code=FRB, stage="in_operation", effective_date=date(2025, 2, 1))
    client = login_as(users["ambassador"])
    response = client.post("/planer/ny", data=_form(signed_date="03-03-2025"), follow_redirects=True)
    assert response.status_code == 200
    assert "København er flyttet til »Samarbejdsplan underskrevet« pr. 03-03-2025." in response.text
    assert "Frederiksberg stod allerede som »IPS i drift« den 03-03-2025; fasen er uændret." in response.text
    assert (stage_on(KBH, date(2025, 3, 3)).stage, stage_on(KBH, date(2025, 3, 2)).stage) == (
        "plan_signed", "plan_in_progress")
    assert stage_on(FRB, date(2025, 3, 3)).stage == "in_operation"
    assert len(db.session.scalars(select(StageChange).where(StageChange.stage == "plan_signed")).all()) == 1


def test_region_rule_for_municipalities_and_dates(login_as, users):
    client = login_as(users["ambassador"])
    foreign = client.post("/planer/ny", data=_form(municipalities=[str(KBH), str(GREVE)]))
    assert foreign.status_code == 403
    wrong_region = client.post("/planer/ny", data=_form(region="1085"))
    assert wrong_region.status_code == 403
    none = client.post("/planer/ny", data=_form(municipalities=[]))
    assert none.status_code == 400 and "Vælg mindst én kommune" in none.text
    backwards = client.post("/planer/ny", data=_form(valid_from="01-01-2026", valid_to="01-01-2025"))
    assert backwards.status_code == 400 and "»Gyldig til« skal ligge efter »Gyldig fra«" in backwards.text
    future = client.post("/planer/ny", data=_form(signed_date="01-01-2099"))
    assert future.status_code == 400 and "fremtiden" in future.text
    assert db.session.scalar(select(CooperationPlan)) is None
    # An admin may register a plan for any region.
    admin = login_as(users["admin"])
    assert admin.post("/planer/ny", data=_form(region="1085", municipalities=[str(GREVE)])).status_code == 302


def test_plan_lost_update_is_refused_and_input_kept(login_as, users):
    plan = factories.PlanFactory(title="Plan A", region_code=1084)
    anne = factories.UserFactory(role="ambassador", region_code=1084, name="Anne Andersen", email="anne@test.dk")
    first, second = login_as(anne), login_as(users["ambassador"])
    v1 = _hidden(first.get(f"/planer/{plan.id}/rediger").text, "version")
    v2 = _hidden(second.get(f"/planer/{plan.id}/rediger").text, "version")
    assert first.post(f"/planer/{plan.id}/rediger", data=_form(title="Plan A (Annes udgave)", version=v1)
                      ).status_code == 302
    refused = second.post(f"/planer/{plan.id}/rediger", data=_form(title="Plan A (min udgave)", version=v2))
    assert refused.status_code == 409
    assert "Ændret af Anne Andersen i mellemtiden" in refused.text
    assert 'value="Plan A (min udgave)"' in refused.text
    db.session.refresh(plan)
    assert plan.title == "Plan A (Annes udgave)"
    retry = second.post(f"/planer/{plan.id}/rediger",
                        data=_form(title="Plan A (min udgave)", version=_hidden(refused.text, "version")))
    assert retry.status_code == 302
    db.session.refresh(plan)
    assert plan.title == "Plan A (min udgave)"


def test_replacing_and_removing_the_document_deletes_old_files(app, login_as, users):
    client = login_as(users["ambassador"])
    client.post("/planer/ny", data=_form(document=(io.BytesIO(PDF), "a.pdf")), content_type="multipart/form-data")
    plan = db.session.scalar(select(CooperationPlan))
    first_file = plan.document_file
    client.post(f"/planer/{plan.id}/rediger", data=_form(version=str(plan.version), document=(io.BytesIO(PDF), "b.pdf")),
                content_type="multipart/form-data")
    db.session.refresh(plan)
    assert plan.document_name == "b.pdf" and _uploads(app) == [plan.document_file] != [first_file]
    assert client.post(f"/planer/{plan.id}/dokument/slet").status_code == 302
    db.session.refresh(plan)
    assert plan.document_file is None and _uploads(app) == []
    assert client.get(f"/planer/{plan.id}/dokument").status_code == 404
    assert client.post(f"/planer/{plan.id}/slet").status_code == 302
    assert db.session.scalar(select(CooperationPlan)) is None


def test_target_groups_are_a_free_list_per_region(login_as, users):
    client = login_as(users["ambassador"])
    assert client.post("/planer/maalgrupper/ny", data={"region": "1084", "name": " Unge  18–30 år "}).status_code == 302
    group = db.session.scalar(select(TargetGroup))
    assert (group.region_code, group.name) == (1084, "Unge 18–30 år")
    duplicate = client.post("/planer/maalgrupper/ny", data={"region": "1084", "name": "unge 18–30 år"})
    assert duplicate.status_code == 400 and "findes allerede" in duplicate.text
    assert client.post("/planer/maalgrupper/ny", data={"region": "1085", "name": "X"}).status_code == 403
    plan = factories.PlanFactory(region_code=1084)
    plan.target_groups = [group]
    db.session.commit()
    assert client.post("/planer/maalgrupper/slet", data={"target_group_id": group.id}).status_code == 302
    assert db.session.get(TargetGroup, group.id) is not None  # in use: refused with a message
    plan.target_groups = []
    db.session.commit()
    client.post("/planer/maalgrupper/slet", data={"target_group_id": group.id})
    assert db.session.get(TargetGroup, group.id) is None
    assert client.post("/planer/maalgrupper/slet", data={"target_group_id": "abc"}).status_code == 404
    assert login_as(users["working_group"]).get("/planer/maalgrupper").status_code == 200


@pytest.mark.parametrize("url", ["/planer/?region=abc", "/planer/?format=xlsx", "/planer/?format=csv&region=1084",
                                 "/planer/ny?municipality=abc", "/planer/ny?municipality=99999"])
def test_pages_never_fail_on_bad_arguments(login_as, users, url):
    assert login_as(users["ambassador"]).get(url).status_code == 200


@pytest.mark.parametrize("url", ["/planer/999999", "/planer/999999/dokument", "/planer/999999/rediger"])
def test_unknown_plan_is_404(login_as, users, url):
    assert login_as(users["ambassador"]).get(url).status_code == 404


def test_plan_list_queries_are_constant(login_as, users, count_queries):
    client = login_as(users["working_group"])

    def make(n):
        for i in range(n):
            plan = factories.PlanFactory(region_code=1084)
            plan.municipalities = [db.session.get(type(plan.region.municipalities[0]), KBH)]
            plan.centres = [factories.CentreFactory()]
        db.session.commit()

    make(2)
    db.session.expire_all()
    with count_queries() as small:
        client.get("/planer/")
    make(20)
    db.session.expire_all()
    with count_queries() as large:
        client.get("/planer/")
    assert large.count == small.count


@pytest.mark.parametrize("who", ["ambassador", "working_group"])
def test_every_write_route_refuses_other_region_and_working_group(app, login_as, users, who):
    plan = factories.PlanFactory(region_code=1085)
    group = TargetGroup(region_code=1085, name="Voksne")
    db.session.add(group)
    db.session.commit()
    client = login_as(users[who])
    posts = {
        "/planer/ny": _form(region="1085", municipalities=[str(GREVE)]),
        f"/planer/{plan.id}/rediger": _form(region="1085", municipalities=[str(GREVE)], version="1"),
        f"/planer/{plan.id}/slet": {},
        f"/planer/{plan.id}/dokument/slet": {},
        "/planer/maalgrupper/ny": {"region": "1085", "name": "Ny"},
        "/planer/maalgrupper/slet": {"target_group_id": group.id},
    }
    plan_routes = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("plans.") and "POST" in r.methods}
    assert {re.sub(r"/\d+/", "/<int:plan_id>/", url) for url in posts} == plan_routes
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 403, url
    assert db.session.get(CooperationPlan, plan.id) is not None and db.session.get(TargetGroup, group.id) is not None
    assert db.session.scalars(select(CooperationPlan)).all() == [plan]


def test_plan_changes_are_audited_with_the_user(login_as, users):
    amb = users["ambassador"]
    client = login_as(amb)
    client.post("/planer/ny", data=_form(signed_date="03-03-2025"))
    plan = db.session.scalar(select(CooperationPlan))
    client.post(f"/planer/{plan.id}/rediger", data=_form(title="Ny titel", signed_date="03-03-2025",
                                                             version=str(plan.version)))
    client.post(f"/planer/{plan.id}/slet")
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity.in_(["cooperation_plan", "stage_change"])).order_by(AuditEntry.id)
    ).all()
    assert [(e.entity, e.action) for e in entries] == [
        ("cooperation_plan", "create"), ("stage_change", "create"), ("stage_change", "create"),
        ("cooperation_plan", "update"), ("cooperation_plan", "delete")]
    assert {e.user_id for e in entries} == {amb.id}
    assert entries[3].changes["title"] == ["Samarbejdsplan Kbh/Frb", "Ny titel"]
