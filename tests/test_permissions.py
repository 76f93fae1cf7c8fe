"""Every write route refuses the working group (but its decisions on materials), the expert panel
(but its comments and verdicts on materials), and the other region's ambassador on a region's
records, with 403. The routes are walked from ``app.url_map`` so a new one cannot be forgotten."""
from datetime import date

import pytest
from sqlalchemy import select

from crm.extensions import db
from sqlalchemy import select

from crm.models import AnchoringItem, FidelityReview, Note, SavedReportAddress
from tests import factories

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Routes where users act on their own account or session; every signed-in user may use them.
OWN_ACCOUNT_ENDPOINTS = {"auth.login", "auth.logout", "auth.set_language", "auth.account", "auth.second_step",
                         "auth.two_factor", "auth.new_recovery_codes", "auth.disable_two_factor",
                         "oidc.start"}
# Endpoint prefixes/names whose own rule is "own account" too (filled as areas add them).
OWN_ACCOUNT_EXTRA = {"calendar.reset_token", "calendar.digest"}
# The working group decides a material's review, publication and retirement.
WORKING_GROUP_DECISIONS = {"materials.decide"}
# The expert panel's own writes: comments on a material's versions and its verdicts.
EXPERT_PANEL_WRITES = {"materials.comment", "materials.verdict"}
# The one exception to "the working group changes nothing": it defines the quality-measurement
# instruments with the admins (crm.services.permissions.can_define_instruments).
WORKING_GROUP_WRITES = "instruments."

REGION_B = 1085
REGION_B_MUNICIPALITY = 253  # Greve, Region Sjælland


def _write_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("bootstrap."):
            continue
        if rule.methods & WRITE_METHODS and rule.endpoint not in OWN_ACCOUNT_ENDPOINTS | OWN_ACCOUNT_EXTRA:
            yield rule


def _region_b_records(owner) -> dict[str, object]:
    """One record of every kind in region B, keyed by the URL argument names routes use."""
    centre = factories.CentreFactory(region_code=REGION_B)
    plan = factories.PlanFactory(region_code=REGION_B)
    contact = factories.ContactFactory(region_code=REGION_B, municipality_code=REGION_B_MUNICIPALITY)
    activity = factories.ActivityFactory(region_code=REGION_B, created_by_id=owner.id)
    change = factories.StageChangeFactory(municipality_code=REGION_B_MUNICIPALITY, effective_date=date(2025, 2, 3))
    note = factories.NoteFactory(municipality_code=REGION_B_MUNICIPALITY)
    review = FidelityReview(municipality_code=REGION_B_MUNICIPALITY, review_date=date(2025, 5, 1))
    db.session.add(review)
    db.session.commit()
    task = factories.TaskFactory(municipality_code=REGION_B_MUNICIPALITY, owner_id=owner.id)
    material = _material_in_review(owner, REGION_B)
    from crm.services.reference import seed_anchoring_items

    seed_anchoring_items()
    db.session.commit()
    anchoring_item = db.session.scalar(select(AnchoringItem).where(AnchoringItem.code == "health_cluster"))
    version = review.instrument_version
    from crm.models import PeriodReopening, ReportSubmission

    submission = ReportSubmission(period_start=date(2025, 1, 1), period_end=date(2025, 6, 30), figures={},
                                  csv_data=b"", xlsx_data=b"")
    db.session.add(submission)
    db.session.flush()
    reopening = PeriodReopening(submission_id=submission.id, period_start=submission.period_start,
                                period_end=submission.period_end, region_code=REGION_B, reason="Rettelse")
    db.session.add(reopening)
    db.session.commit()
    budget_version = factories.BudgetVersionFactory(region_code=REGION_B)
    expense = factories.ExpenseFactory(region_code=REGION_B)
    saved_report = factories.SavedReportFactory(region_code=REGION_B, owner_id=owner.id, recipients=[owner])
    address = SavedReportAddress(saved_report_id=saved_report.id, email="chef@jobcenter-b.dk", proposed_by_id=owner.id)
    db.session.add(address)
    db.session.commit()
    from crm.models import UserIdentity

    identity = UserIdentity(user_id=owner.id, provider="test", issuer="https://idp.example.dk", subject="sub-b",
                            email=owner.email)
    db.session.add(identity)
    db.session.commit()
    values = {
        "submission_id": submission.id,
        "reopening_id": reopening.id,
        "region_code": REGION_B,
        "year": 2025,
        "budget_version_id": budget_version.id,
        "expense_id": expense.id,
        "cost_line_id": expense.cost_line_id,
        "saved_report_id": saved_report.id,
        "address_id": address.id,
        "identity_id": identity.id,
        "material_id": material.id,
        "material_version_id": material.versions[0].id,
        "anchoring_item_id": anchoring_item.id,
        "version_id": version.id,
        "item_id": version.items[0].id,
        "band_id": version.bands[0].id,
        "mapping_id": 1,
        "task_id": task.id,
        "code": REGION_B_MUNICIPALITY,
        "municipality_code": REGION_B_MUNICIPALITY,
        "centre_id": centre.id,
        "plan_id": plan.id,
        "contact_id": contact.id,
        "activity_id": activity.id,
        "change_id": change.id,
        "stage_change_id": change.id,
        "note_id": note.id,
        "review_id": review.id,
        "user_id": owner.id,
    }
    return values


def _material_in_review(owner, region_code: int):
    """A material of ``region_code`` created by ``owner`` and in the expert panel's review."""
    from crm.models import Region

    material = factories.MaterialFactory(created_by_id=owner.id, state="in_review")
    material.regions = [db.session.get(Region, region_code)]
    factories.MaterialVersionFactory(material_id=material.id)
    db.session.refresh(material)
    return material


def _url_for_rule(rule, values: dict[str, object]) -> str:
    missing = [arg for arg in rule.arguments if arg not in values]
    assert not missing, f"{rule.endpoint}: add a region-B record for URL argument(s) {missing} in this test"
    url = rule.rule
    for arg in rule.arguments:
        url = url.replace(f"<{arg}>", str(values[arg]))
        for converter in ("int", "string", "path"):
            url = url.replace(f"<{converter}:{arg}>", str(values[arg]))
    return url


def test_every_write_route_carries_a_role_decorator(app):
    """A visible decorator from crm.services.permissions on every write route (so the check is server-side)."""
    unguarded = [
        rule.endpoint for rule in _write_rules(app) if not hasattr(app.view_functions[rule.endpoint], "required_roles")
    ]
    assert unguarded == []


def test_working_group_gets_403_on_every_write_route(app, users, login_as):
    values = _region_b_records(users["ambassador_b"])
    client = login_as(users["working_group"])
    for rule in _write_rules(app):
        if rule.endpoint in WORKING_GROUP_DECISIONS or rule.endpoint.startswith(WORKING_GROUP_WRITES):
            continue
        url = _url_for_rule(rule, values)
        response = client.post(url, data={})
        assert response.status_code == 403, f"{rule.endpoint} {url} gave {response.status_code}"


def test_other_regions_ambassador_gets_403_on_region_b_records(app, users, login_as):
    values = _region_b_records(users["ambassador_b"])
    client = login_as(users["ambassador"])  # region 1084
    checked = 0
    for rule in _write_rules(app):
        roles = getattr(app.view_functions[rule.endpoint], "required_roles", ())
        targets_a_record = bool(rule.arguments)
        if roles == ("admin",) or targets_a_record:
            url = _url_for_rule(rule, values)
            response = client.post(url, data={})
            assert response.status_code == 403, f"{rule.endpoint} {url} gave {response.status_code}"
            checked += 1
    assert checked > 0


def test_only_admins_and_the_working_group_reach_the_instrument_routes(app, users, login_as):
    """Every instruments route refuses ambassadors (403) and carries the admin/working-group decorator."""
    values = _region_b_records(users["ambassador_b"])
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith(WORKING_GROUP_WRITES)]
    assert rules
    for rule in rules:
        assert set(app.view_functions[rule.endpoint].required_roles) == {"admin", "working_group"}
    for role in ("ambassador", "ambassador_b"):
        client = login_as(users[role])
        for rule in rules:
            url = _url_for_rule(rule, values)
            response = client.post(url, data={}) if rule.methods & WRITE_METHODS else client.get(url)
            assert response.status_code == 403, f"{role} {rule.endpoint} {url} gave {response.status_code}"
    client = login_as(users["working_group"])
    assert client.get("/maaleredskaber/").status_code == 200
    assert client.get(f"/maaleredskaber/version/{values['version_id']}").status_code == 200


@pytest.mark.parametrize("role", ["ambassador", "ambassador_b", "working_group"])
def test_psychiatric_centres_are_reference_data_kept_by_admins(app, users, login_as, role):
    """README: admins keep the reference data; ambassadors pick centres in plans and contacts."""
    from sqlalchemy import func, select

    from crm.models import PsychiatricCentre

    centre = factories.CentreFactory(region_code=1084, name="Psykiatrisk Center Amager")
    client = login_as(users[role])
    assert client.get("/admin/centres/new").status_code == 403
    assert client.post("/admin/centres/new", data={"name": "Nyt center", "region": "1084"}).status_code == 403
    assert client.get(f"/admin/centres/{centre.id}").status_code == 403
    assert client.post(f"/admin/centres/{centre.id}", data={"name": "Omdøbt", "region": "1084"}).status_code == 403
    listing = client.get("/admin/centres")
    assert listing.status_code == 200 and "Psykiatrisk Center Amager" in listing.get_data(as_text=True)
    assert "/admin/centres/" not in listing.get_data(as_text=True)  # no links to forms they cannot use
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(PsychiatricCentre)) == 1
    assert db.session.get(PsychiatricCentre, centre.id).name == "Psykiatrisk Center Amager"


def test_admin_maintains_psychiatric_centres_and_ambassadors_choose_them_in_plans(app, users, login_as):
    from sqlalchemy import select

    from crm.models import PsychiatricCentre

    admin = login_as(users["admin"])
    assert admin.post("/admin/centres/new", data={"name": "Psykiatrisk Center Amager", "region": "1084"}).status_code == 302
    centre = db.session.scalar(select(PsychiatricCentre))
    assert admin.post(f"/admin/centres/{centre.id}", data={"name": "PC Amager", "region": "1084"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(PsychiatricCentre, centre.id).name == "PC Amager"
    assert f"/admin/centres/{centre.id}" in admin.get("/admin/centres").get_data(as_text=True)
    page = login_as(users["ambassador"]).get("/planer/ny").get_data(as_text=True)
    assert "PC Amager" in page


def test_expert_panel_gets_403_on_every_write_route_but_its_comments_and_verdicts(app, users, login_as):
    """STAR's expert panel changes no CRM record: every write route (calendar link and digest
    included) refuses it, except commenting on and judging a material in review, which it may."""
    from crm.models import MaterialComment, MaterialVersion

    panel = factories.UserFactory(role="expert_panel", region_code=None, email="panel@test.dk")
    values = _region_b_records(users["ambassador_b"])
    client = login_as(panel)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("bootstrap."):
            continue
        if not rule.methods & WRITE_METHODS or rule.endpoint in OWN_ACCOUNT_ENDPOINTS | EXPERT_PANEL_WRITES:
            continue
        url = _url_for_rule(rule, values)
        response = client.post(url, data={})
        assert response.status_code == 403, f"{rule.endpoint} {url} gave {response.status_code}"
        checked += 1
    assert checked > 30
    comment = client.post(f"/materialer/versioner/{values['material_version_id']}/kommentar",
                          data={"text": "Godt materiale"})
    assert comment.status_code == 302
    version = db.session.get(MaterialVersion, values["material_version_id"]).material.version
    verdict = client.post(f"/materialer/{values['material_id']}/vurdering",
                          data={"verdict": "approved", "version": version})
    assert verdict.status_code == 302
    db.session.expire_all()
    assert db.session.get(MaterialVersion, values["material_version_id"]).verdict == "approved"
    assert [c.text for c in db.session.scalars(select(MaterialComment))] == ["Godt materiale"]
