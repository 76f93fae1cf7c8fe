"""The anchoring pages: the checklist on the municipality page, an item's history and form, the
evidence download, the admins' item list and the dashboard's anchoring layer (both databases)."""
import difflib
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from crm.clock import local_today
from crm.extensions import db
from crm.models import AnchoringEntry, AnchoringItem
from crm.services.reference import seed_anchoring_items
from tests import factories

KBH, FRB = 101, 147  # Region Hovedstaden (1084), the first ambassador's region
GREVE = 253  # Region Sjælland (1085)


@pytest.fixture
def items(app):
    seed_anchoring_items()
    db.session.commit()
    return {item.code: item for item in db.session.scalars(select(AnchoringItem))}


def _post(client, code, item, **data):
    form = {"state": "in_place", "effective_date": "01-03-2025", "note": "", "evidence_url": "", **data}
    return client.post(f"/kommuner/{code}/forankring/{item.id}", data=form, content_type="multipart/form-data")


def test_municipality_page_shows_the_checklist_with_links_for_writers(app, users, login_as, items):
    factories.StageChangeFactory(municipality_code=KBH, stage="plan_signed", effective_date=date(2025, 1, 1))
    db.session.add(AnchoringEntry(anchoring_item_id=items["health_agreement"].id, region_code=1084, state="in_place",
                                  effective_date=date(2025, 2, 1), note="Aftalt i sundhedsaftalen"))
    db.session.commit()
    html = login_as(users["ambassador"]).get(f"/kommuner/{FRB}").get_data(as_text=True)
    assert 'id="forankring"' in html
    assert "IPS er skrevet ind i regionens sundhedsaftale" in html and "Aftalt i sundhedsaftalen" in html
    assert "Opdatér" in html
    assert "2 af 9 punkter på plads" not in html  # FRB has no signed plan: 1 of 9
    assert "1 af 9 punkt på plads" in html or "(1 af 9 punkt" in html
    reader = login_as(users["working_group"]).get(f"/kommuner/{KBH}").get_data(as_text=True)
    assert "Opdatér" not in reader and "Historik" in reader
    assert "2 af 9 punkter på plads" in reader


def test_ambassador_records_a_state_and_the_history_shows_it(app, users, login_as, items):
    client = login_as(users["ambassador"])
    response = _post(client, KBH, items["departments_clinics"], departments="3", clinics="2",
                     evidence_url="https://kk.dk/ips", note="Tre afdelinger")
    assert response.status_code == 302, response.get_data(as_text=True)
    entry = db.session.scalar(select(AnchoringEntry))
    assert (entry.state, entry.departments, entry.clinics, entry.municipality_code) == ("in_place", 3, 2, KBH)
    page = client.get(f"/kommuner/{KBH}/forankring/{items['departments_clinics'].id}").get_data(as_text=True)
    assert "Tre afdelinger" in page and "Afdelinger: 3, ambulatorier: 2." in page
    assert _post(client, KBH, items["health_agreement"]).status_code == 302  # region-level
    assert db.session.scalar(select(AnchoringEntry.municipality_code).where(
        AnchoringEntry.anchoring_item_id == items["health_agreement"].id)) is None


@pytest.mark.parametrize("role", ["ambassador", "working_group"])
def test_writes_are_refused_outside_the_own_region_and_for_the_working_group(app, users, login_as, items, role):
    client = login_as(users[role])
    assert _post(client, GREVE, items["health_cluster"]).status_code == 403
    assert db.session.scalar(select(func.count(AnchoringEntry.id))) == 0
    page = client.get(f"/kommuner/{GREVE}/forankring/{items['health_cluster'].id}")
    assert page.status_code == 200 and "Gem ny status" not in page.get_data(as_text=True)


def test_evidence_that_is_not_a_pdf_is_refused_beside_the_field(app, users, login_as, items):
    client = login_as(users["ambassador"])
    response = _post(client, KBH, items["health_cluster"], document=(io.BytesIO(b"GIF89a"), "aftale.pdf"))
    assert response.status_code == 400
    assert "Filen er ikke en PDF-fil" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(AnchoringEntry.id))) == 0
    response = _post(client, KBH, items["health_cluster"], document=(io.BytesIO(b"%PDF-1.4 x"), "aftale.pdf"))
    assert response.status_code == 302
    entry = db.session.scalar(select(AnchoringEntry))
    download = login_as(users["working_group"]).get(f"/forankring/dokument/{entry.id}")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    assert "attachment" in download.headers["Content-Disposition"]


def test_plan_signed_cannot_be_entered(app, users, login_as, items):
    response = _post(login_as(users["admin"]), KBH, items["plan_signed"])
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(AnchoringEntry.id))) == 0


@pytest.mark.parametrize("role", ["ambassador", "working_group"])
def test_item_admin_pages_are_for_admins_only(app, users, login_as, items, role):
    client = login_as(users[role])
    assert client.get("/admin/forankring/").status_code == 403
    assert client.get(f"/admin/forankring/{items['health_cluster'].id}").status_code == 403
    assert client.post("/admin/forankring/ny", data={"code": "x", "label_da": "x", "label_en": "x"}).status_code == 403


def test_admin_adds_edits_and_deactivates_an_item(app, users, login_as, items):
    client = login_as(users["admin"])
    listing = client.get("/admin/forankring/").get_data(as_text=True)
    assert "persongruppemarkering" in listing.lower() and "person_group_marking" in listing
    form = {"code": "job_fairs", "label_da": "Jobmesser med IPS", "label_en": "Job fairs with IPS",
            "level": "municipality", "kind": "state", "track": "1", "position": "95", "active_from": "",
            "active_to": ""}
    assert client.post("/admin/forankring/ny", data=form).status_code == 302
    item = db.session.scalar(select(AnchoringItem).where(AnchoringItem.code == "job_fairs"))
    assert item.label_en == "Job fairs with IPS"
    yesterday = local_today() - timedelta(days=1)
    edit = dict(form, code="renamed", label_da="Jobmesser", active_to=yesterday.strftime("%d-%m-%Y"),
                version=str(item.version))
    assert client.post(f"/admin/forankring/{item.id}", data=edit).status_code == 302
    db.session.expire_all()
    item = db.session.get(AnchoringItem, item.id)
    assert (item.code, item.label_da, item.active_to) == ("job_fairs", "Jobmesser", yesterday)
    assert "Jobmesser" not in login_as(users["ambassador"]).get(f"/kommuner/{KBH}").get_data(as_text=True)
    stale = client.post(f"/admin/forankring/{item.id}", data=dict(edit, version="1"))
    assert stale.status_code == 409


def test_dashboard_layer_shows_scores_and_the_weakly_anchored(app, users, login_as, items):
    factories.StageChangeFactory(municipality_code=FRB, stage="plan_signed", effective_date=date(2025, 1, 1))
    db.session.add(AnchoringEntry(anchoring_item_id=items["health_cluster"].id, region_code=1084,
                                  municipality_code=KBH, state="in_place", effective_date=date(2025, 2, 1)))
    db.session.commit()
    client = login_as(users["working_group"])
    html = client.get("/overblik/forankring").get_data(as_text=True)
    assert "Underskrevet, men svagt forankret" in html
    weak = html.split('id="weak-heading"')[1].split("</section>")[0]
    assert "Frederiksberg" in weak and "København" not in weak
    assert "København: 1 af 9 punkt på plads" in html
    old = client.get("/overblik/forankring?on=01-01-2024").get_data(as_text=True)
    assert "Frederiksberg" not in old.split('id="weak-heading"')[1].split("</section>")[0]
    assert 'href="/overblik/forankring' in client.get("/overblik/").get_data(as_text=True)  # the layer switch


def _lots_of_entries(items):
    start = date(2020, 1, 1)
    rows = []
    for n, code in enumerate((101, 147, 151, 153, 155, 157, 159, 161, 163, 165, 167, 169, 173, 175, 183, 185, 187)):
        for k, item in enumerate(("health_cluster", "workflow_model", "person_group_marking")):
            for step in range(4):
                rows.append(AnchoringEntry(anchoring_item_id=items[item].id, region_code=1084, municipality_code=code,
                                           state=("in_progress", "in_place")[step % 2],
                                           effective_date=start + timedelta(days=30 * step + n + k)))
        factories.StageChangeFactory(municipality_code=code, stage="plan_signed", effective_date=start)
    factories.StageChangeFactory(municipality_code=KBH, stage="dialogue", effective_date=start - timedelta(days=1))
    db.session.add_all(rows)
    db.session.commit()


@pytest.mark.parametrize("url", ["/overblik/forankring", "/overblik/forankring?on=01-06-2020", f"/kommuner/{KBH}",
                                 f"/kommuner/{KBH}/forankring/ITEM"])
def test_constant_number_of_statements_whatever_the_history(app, users, login_as, count_queries, items, url):
    url = url.replace("ITEM", str(items["health_cluster"].id))
    client = login_as(users["ambassador"])
    factories.StageChangeFactory(municipality_code=KBH, stage="in_operation", effective_date=date(2019, 1, 1))
    db.session.add(AnchoringEntry(anchoring_item_id=items["health_cluster"].id, region_code=1084,
                                  municipality_code=KBH, state="in_progress", effective_date=date(2019, 1, 1)))
    db.session.commit()  # the short run has a covered municipality and an entry too (the other panels vary with that)
    client.get(url)
    db.session.expire_all()
    with count_queries() as short:
        assert client.get(url).status_code == 200
    _lots_of_entries(items)
    db.session.expire_all()
    with count_queries() as long:
        assert client.get(url).status_code == 200
    assert long.count == short.count, "\n".join(difflib.unified_diff(
        [x[:160] for x in short.statements], [x[:160] for x in long.statements], lineterm=""))
