"""Hostile input: stored HTML is escaped everywhere it is shown, and query parameters cannot
inject SQL (or crash a page)."""
import csv
import io
from datetime import datetime

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Activity, Contact, Municipality, Note, StageChange, User
from tests import factories
from tests.test_security_access import _build

PAYLOAD = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
RAW_MARKERS = ('<script>alert("xss")', "<img src=x onerror")
ESCAPED = "&lt;script&gt;alert("


def _store_payload_everywhere(users) -> dict[str, object]:
    """User-typed text fields holding HTML, in one record of each kind; returns URL values."""
    owner = users["ambassador"]
    owner.name = PAYLOAD
    activity = factories.ActivityFactory(title=PAYLOAD, note=PAYLOAD, location=PAYLOAD, created_by_id=owner.id,
                                         region_code=1084)
    activity.municipalities = [db.session.get(Municipality, 101)]
    note = factories.NoteFactory(municipality_code=101, text=PAYLOAD, created_by_id=owner.id)
    change = factories.StageChangeFactory(municipality_code=101, note=PAYLOAD, recorded_by_id=owner.id)
    contact = factories.ContactFactory(name=PAYLOAD, organisation=PAYLOAD, role=PAYLOAD, municipality_code=101)
    centre = factories.CentreFactory(name=PAYLOAD)
    plan = factories.PlanFactory(title=PAYLOAD, note=PAYLOAD)
    task = factories.TaskFactory(municipality_code=101, text=PAYLOAD, owner_id=owner.id)
    factories.TaskFactory(municipality_code=101, text=PAYLOAD, owner_id=owner.id, status="done",
                                 done_by_id=owner.id, done_at=datetime(2026, 1, 5, 9, 0))
    return {"code": 101, "municipality_code": 101, "activity_id": activity.id, "note_id": note.id, "task_id": task.id,
            "change_id": change.id, "stage_change_id": change.id, "contact_id": contact.id,
            "centre_id": centre.id, "plan_id": plan.id, "user_id": owner.id}


def test_stored_html_is_escaped_on_every_page(app, users, login_as):
    values = _store_payload_everywhere(users)
    client = login_as(users["admin"])
    raw, escaped_on = [], set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "bootstrap.static"):
            continue
        url = _build(app, rule, values)
        response = client.get(url)
        assert response.status_code < 500, f"{url}: {response.status_code}"
        if response.mimetype != "text/html":
            continue  # CSV/XLSX/JSON/ICS are not rendered as HTML (and carry nosniff)
        page = response.get_data(as_text=True)
        raw += [f"{url}: {marker}" for marker in RAW_MARKERS if marker in page]
        if ESCAPED in page:
            escaped_on.add(rule.endpoint)
    assert raw == []
    # The payload is really shown (escaped) where these records appear.
    assert {"activities.index", "activities.detail", "municipalities.detail"} <= escaped_on


def test_activity_title_typed_in_the_form_is_escaped(app, users, login_as):
    client = login_as(users["ambassador"])
    response = client.post("/aktiviteter/ny", data={
        "type": "dialogue_meeting", "title": PAYLOAD, "start_date": "03-02-2025", "region_code": "1084",
        "municipality_codes": ["101"], "version": "",
    })
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    activity = db.session.scalar(select(Activity).where(Activity.title == PAYLOAD))
    page = client.get(f"/aktiviteter/{activity.id}").get_data(as_text=True)
    assert not any(marker in page for marker in RAW_MARKERS)
    assert ESCAPED in page


def test_municipality_note_typed_in_the_form_is_escaped(app, users, login_as):
    client = login_as(users["ambassador"])
    response = client.post("/kommuner/101/notater", data={"note-note_date": "03-02-2025", "note-text": PAYLOAD},
                           follow_redirects=True)
    assert response.status_code == 200
    assert db.session.scalar(select(func.count(Note.id)).where(Note.text == PAYLOAD)) == 1
    page = client.get("/kommuner/101").get_data(as_text=True)
    assert not any(marker in page for marker in RAW_MARKERS)
    assert ESCAPED in page


# --------------------------------------------------------------------------------------------
# SQL injection through search and filter parameters


INJECTIONS = ["' OR 1=1 --", "' OR '1'='1", "1 OR 1=1", "1; DROP TABLE activity; --", "101) OR (1=1",
              "' UNION SELECT email, password_hash FROM \"user\" --"]


def _csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))[1:]


def _counts() -> tuple[int, ...]:
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Activity, Municipality, User,
                                                                                  Contact, Note, StageChange))


def test_municipality_search_and_filters_cannot_inject(app, users, login_as):
    client = login_as(users["working_group"])
    everything = _csv_rows(client.get("/kommuner/?format=csv"))
    assert len(everything) == 98
    hovedstaden = db.session.scalar(select(func.count(Municipality.code)).where(Municipality.region_code == 1084))
    assert len(_csv_rows(client.get("/kommuner/?format=csv&region=1084"))) == hovedstaden
    for attack in INJECTIONS:
        assert _csv_rows(client.get("/kommuner/", query_string={"format": "csv", "q": attack})) == []
        response = client.get("/kommuner/", query_string={"format": "csv", "region": attack})
        assert response.status_code == 400 or len(_csv_rows(response)) == 98  # ignored, never widened
        response = client.get("/kommuner/", query_string={"format": "csv", "stage": attack, "sort": attack})
        assert response.status_code == 400 or len(_csv_rows(response)) == 98


def test_activity_filters_cannot_inject(app, users, login_as):
    factories.ActivityFactory(region_code=1084, title="Hovedstaden")
    factories.ActivityFactory(region_code=1085, title="Sjælland")
    client = login_as(users["working_group"])
    assert len(_csv_rows(client.get("/aktiviteter/?format=csv"))) == 2
    assert len(_csv_rows(client.get("/aktiviteter/?format=csv&region=1085"))) == 1
    for attack in INJECTIONS:
        for name in ("region", "type", "track", "municipality", "date_from", "date_to"):
            response = client.get("/aktiviteter/", query_string={"format": "csv", name: attack})
            assert response.status_code == 400 or len(_csv_rows(response)) == 2, (name, attack)


def test_contact_search_cannot_inject(app, users, login_as):
    factories.ContactFactory(name="Anne Jensen", municipality_code=101)
    client = login_as(users["working_group"])
    for attack in INJECTIONS:
        response = client.get("/kontakter/", query_string={"q": attack})
        assert response.status_code in (200, 400)
        assert "Anne Jensen" not in response.get_data(as_text=True), attack


# Every query parameter any list reads, with hostile values: never a 500, never a change in data.
PARAMETERS = ["q", "region", "stage", "sort", "overdue", "type", "track", "municipality", "date_from", "date_to",
              "format", "page", "per_page", "year", "half", "start", "end", "metric", "quarter", "entity",
              "action", "actor", "entity_id", "as_of", "indsendelse", "next"]
HOSTILE = INJECTIONS + ["%", "_", "\\", "-1", "0", "9" * 40, "1e308", "NaN", "31-02-2026", "9999-12-31",
                        "Ω☃😀", "<b>", "csv", "xlsx", ""]


@pytest.mark.parametrize("role", ["admin", "ambassador"])
def test_hostile_query_parameters_never_crash_a_page(app, users, login_as, role):
    values = _store_payload_everywhere(users)
    client = login_as(users[role])
    before = _counts()
    failures = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "bootstrap.static", "health.healthz"):
            continue
        url = _build(app, rule, values)
        for value in HOSTILE:
            response = client.get(url, query_string={name: value for name in PARAMETERS})
            if response.status_code >= 500:
                failures.append(f"{url} with {value!r}: {response.status_code}")
    assert failures == []
    assert _counts() == before


def test_nul_bytes_in_parameters_never_crash(app, users, login_as):
    """PostgreSQL refuses NUL in text; a search for one must be a 200/400, not a 500."""
    client = login_as(users["admin"])
    for url in ("/kommuner/", "/aktiviteter/", "/kontakter/", "/admin/audit"):
        response = client.get(url, query_string={"q": "a\x00b", "actor": "a\x00b", "region": "\x00"})
        assert response.status_code in (200, 400), url


def test_like_wildcards_are_searched_literally(app, users, login_as):
    """A search for '%' or '_' finds names containing that character, not everything."""
    factories.ContactFactory(name="Anne Jensen", municipality_code=101)
    client = login_as(users["working_group"])
    assert _csv_rows(client.get("/kommuner/", query_string={"format": "csv", "q": "%"})) == []
    assert _csv_rows(client.get("/kommuner/", query_string={"format": "csv", "q": "_"})) == []
    assert "Anne Jensen" not in client.get("/kontakter/", query_string={"q": "%"}).get_data(as_text=True)


# --------------------------------------------------------------------------------------------
# Uploaded files are never executed or served as HTML


def test_uploaded_html_is_refused_and_pdfs_are_served_as_downloads(app, users, login_as):
    from io import BytesIO

    from werkzeug.datastructures import FileStorage

    from crm.services.uploads import UploadError, store_pdf

    for name, content in (("evil.html", b"%PDF-1.4"), ("evil.pdf", b"<html><script>alert(1)</script>"),
                          ("../../static/evil.pdf", b"%PDF-1.4")):
        with pytest.raises(UploadError):
            store_pdf(FileStorage(BytesIO(content), filename=name))
    # A real PDF signature followed by HTML: stored under a random .pdf name and only ever sent
    # as an attachment with the PDF type and nosniff, so no browser renders it as a page.
    stored = store_pdf(FileStorage(BytesIO(b"%PDF-1.4\n<html><script>alert(1)</script>"),
                                   filename="plan.html.pdf"))
    assert stored.stored_name.endswith(".pdf") and "html" not in stored.stored_name
    plan = factories.PlanFactory(document_file=stored.stored_name, document_name="plan.html.pdf")
    response = login_as(users["working_group"]).get(f"/planer/{plan.id}/dokument")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # The upload folder is not under static/: there is no URL that serves it directly.
    assert not app.config["UPLOAD_FOLDER"].startswith(app.static_folder)
