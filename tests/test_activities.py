"""Activity pages: forms and their rules, the region rule, the filtered list, export, copy, delete."""
import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Activity, Municipality
from tests.factories import ActivityFactory, CentreFactory

BASE_FORM = {
    "type": "dialogue_meeting",
    "title": "Dialogmøde med Jobcenter København og Psykiatrien",
    "start_date": "05-03-2025",
    "region_code": "1084",
    "municipality_codes": ["101", "147"],
    "participants": "12",
    "participants_municipality": "7",
    "participants_psychiatry": "5",
    "participants_staff": "10",
    "participants_managers": "2",
    "hours": "2,5",
}


def form(**changes):
    data = dict(BASE_FORM)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Activity))


def test_ambassador_logs_an_activity(app, users, login_as):
    centre = CentreFactory(name="Psykiatrisk Center København")
    client = login_as(users["ambassador"])
    assert client.get("/aktiviteter/ny").status_code == 200
    response = client.post("/aktiviteter/ny", data=form(centre_ids=[str(centre.id)]))
    assert response.status_code == 302
    activity = db.session.scalar(select(Activity))
    assert activity.title == BASE_FORM["title"] and activity.start_date == date(2025, 3, 5)
    assert activity.hours == Decimal("2.50") and activity.region_code == 1084
    assert [m.code for m in activity.municipalities] == [147, 101] or sorted(m.code for m in activity.municipalities) == [101, 147]
    assert [c.id for c in activity.centres] == [centre.id]
    assert (activity.participants, activity.participants_municipality, activity.participants_managers) == (12, 7, 2)
    assert activity.created_by_id == users["ambassador"].id
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Frederiksberg" in detail and "05-03-2025" in detail


@pytest.mark.parametrize("changes, field, message", [
    ({"end_date": "01-03-2025"}, "end_date", "Slutdatoen må ikke ligge før startdatoen"),
    ({"participants_psychiatry": "9"}, "participants_municipality", "større end det samlede antal"),
    ({"participants_staff": "13"}, "participants_staff", "større end det samlede antal"),
    ({"participants": "-1"}, "participants", "fra 0 og op"),
    ({"participants": None}, "participants_municipality", "samlede antal deltagere"),
    ({"sessions": "4"}, "sessions", "kun ved undervisningsforløb"),
    ({"type": "material"}, "link", "link til materialet"),
    ({"start_date": "31-02-2025"}, "start_date", "Ugyldig dato"),
    ({"hours": "to"}, "hours", "Skriv et tal"),
    ({"title": ""}, "title", ""),
])
def test_form_errors_are_shown_beside_the_field_with_input_kept(app, users, login_as, changes, field, message):
    client = login_as(users["ambassador"])
    response = client.post("/aktiviteter/ny", data=form(**changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert count() == 0
    # Bootstrap-Flask marks the field invalid and puts the message right after it.
    assert f'id="{field}"' in html and "is-invalid" in html
    after_field = html[html.index(f'id="{field}"'):]
    assert message in after_field[:2000]
    assert 'value="Dialogmøde med Jobcenter København og Psykiatrien"' in html or field == "title"


def test_course_sessions_and_material_link_are_accepted_for_their_types(app, users, login_as):
    client = login_as(users["ambassador"])
    course = client.post("/aktiviteter/ny", data=form(type="course", title="IPS-grundkursus", sessions="6",
                                                       end_date="30-04-2025"))
    assert course.status_code == 302
    material = client.post("/aktiviteter/ny", data=form(type="material", title="Pjece om IPS",
                                                         link="https://example.dk/ips.pdf"))
    assert material.status_code == 302
    stored = {a.type: a for a in db.session.scalars(select(Activity))}
    assert stored["course"].sessions == 6 and stored["course"].end_date == date(2025, 4, 30)
    assert stored["material"].link == "https://example.dk/ips.pdf"


def test_region_rule_on_every_write_route(app, users, login_as):
    own = ActivityFactory(region_code=1084, created_by_id=users["ambassador"].id)
    national = ActivityFactory(region_code=None, created_by_id=users["ambassador"].id, title="Landsdækkende webinar")
    other = login_as(users["ambassador_b"])
    group = login_as(users["working_group"])
    for activity in (own, national):
        for client in (other, group):
            assert client.get(f"/aktiviteter/{activity.id}/rediger").status_code == 403
            assert client.post(f"/aktiviteter/{activity.id}/rediger", data=form()).status_code == 403
            assert client.post(f"/aktiviteter/{activity.id}/slet").status_code == 403
    assert group.get("/aktiviteter/ny").status_code == 403
    assert group.post("/aktiviteter/ny", data=form()).status_code == 403
    assert group.get(f"/aktiviteter/{own.id}/kopier").status_code == 403
    # Creating in another region is refused, not just hidden in the form.
    assert other.post("/aktiviteter/ny", data=form()).status_code == 403
    assert count() == 2
    # Reading is for everyone signed in.
    assert group.get(f"/aktiviteter/{own.id}").status_code == 200
    assert group.get("/aktiviteter/").status_code == 200
    # The owner may edit the national activity; so may an admin.
    owner = login_as(users["ambassador"])
    assert owner.get(f"/aktiviteter/{national.id}/rediger").status_code == 200
    admin = login_as(users["admin"])
    response = admin.post(f"/aktiviteter/{own.id}/rediger", data=form(version=str(own.version), title="Rettet"))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Activity, own.id).title == "Rettet"


def test_edit_with_a_stale_version_is_refused_with_who_changed_it(app, users, login_as):
    activity = ActivityFactory(region_code=1084, created_by_id=users["ambassador"].id, title="Original")
    client = login_as(users["ambassador"])
    stale = str(activity.version)
    assert client.post(f"/aktiviteter/{activity.id}/rediger", data=form(version=stale, title="Første")).status_code == 302
    response = client.post(f"/aktiviteter/{activity.id}/rediger", data=form(version=stale, title="Anden"))
    assert response.status_code == 200 and "i mellemtiden" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).title == "Første"


def test_copy_prefills_a_new_activity_without_dates(app, users, login_as):
    source = ActivityFactory(region_code=1084, title="Supervision af IPS-team", type="supervision", hours=Decimal("1.5"),
                             municipalities=[db.session.get(Municipality, 101)], start_date=date(2025, 1, 8))
    client = login_as(users["ambassador"])
    html = client.get(f"/aktiviteter/{source.id}/kopier").get_data(as_text=True)
    assert 'value="Supervision af IPS-team"' in html
    assert 'action="/aktiviteter/ny"' in html
    assert '<option selected value="101">' in html or 'value="101" selected' in html
    assert "08-01-2025" not in html


def test_delete_is_post_only(app, users, login_as):
    activity = ActivityFactory(region_code=1084)
    client = login_as(users["ambassador"])
    assert client.get(f"/aktiviteter/{activity.id}/slet").status_code == 405
    assert client.post(f"/aktiviteter/{activity.id}/slet").status_code == 302
    assert count() == 0


def _titles(html: str, candidates) -> set[str]:
    return {title for title in candidates if f">{title}</a>" in html}


def test_list_filters(app, users, login_as):
    aarhus, copenhagen = db.session.get(Municipality, 751), db.session.get(Municipality, 101)
    ActivityFactory(title="A-møde", type="dialogue_meeting", region_code=1082, start_date=date(2025, 1, 10),
                    municipalities=[aarhus])
    ActivityFactory(title="B-kursus", type="course", region_code=1084, start_date=date(2025, 2, 1),
                    end_date=date(2025, 4, 1), municipalities=[copenhagen, aarhus])
    ActivityFactory(title="C-webinar", type="webinar", region_code=None, start_date=date(2025, 6, 1))
    ActivityFactory(title="D-andet", type="other", region_code=1084, start_date=date(2024, 6, 1))
    all_titles = {"A-møde", "B-kursus", "C-webinar", "D-andet"}
    client = login_as(users["working_group"])

    def shown(query):
        return _titles(client.get("/aktiviteter/" + query).get_data(as_text=True), all_titles)

    assert shown("") == all_titles
    assert shown("?type=course") == {"B-kursus"}
    assert shown("?track=1") == {"A-møde"}
    assert shown("?track=2") == {"B-kursus"}
    assert shown("?region=1084") == {"B-kursus", "D-andet"}
    assert shown("?region=national") == {"C-webinar"}
    assert shown("?municipality=751") == {"A-møde", "B-kursus"}
    # The course running Feb–Apr counts in a March range; dates in either format.
    assert shown("?date_from=01-03-2025&date_to=2025-12-31") == {"B-kursus", "C-webinar"}
    # Bad values are ignored, never a 500.
    assert shown("?type=zzz&track=9&region=77&date_from=abc&municipality=x&page=abc") == all_titles


def test_export_is_exactly_what_is_filtered(app, users, login_as):
    aarhus = db.session.get(Municipality, 751)
    ActivityFactory(title="Dialogmøde Aarhus", region_code=1082, participants=9, municipalities=[aarhus])
    ActivityFactory(title="Kursus København", type="course", region_code=1084, participants=20)
    ActivityFactory(title="Webinar", type="webinar", region_code=None)
    client = login_as(users["working_group"])
    response = client.get("/aktiviteter/?region=1082&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2 and rows[0][0] == "Startdato"
    assert rows[1][4] == "Dialogmøde Aarhus" and rows[1][6] == "Aarhus" and rows[1][10] == "9"

    xlsx = client.get("/aktiviteter/?track=2&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 2 and values[1][4] == "Kursus København"


def _many(n: int) -> None:
    municipalities = db.session.scalars(select(Municipality).limit(3)).all()
    db.session.add_all(
        Activity(type="workshop", title=f"Workshop {i}", start_date=date(2025, 1, 1 + i % 28),
                 region_code=1081 + i % 5, municipalities=municipalities[: 1 + i % 3])
        for i in range(n)
    )
    db.session.commit()


def test_list_query_count_is_constant(app, users, login_as, count_queries):
    client = login_as(users["working_group"])
    _many(10)
    client.get("/aktiviteter/")
    with count_queries() as small:
        assert client.get("/aktiviteter/").status_code == 200
    _many(290)
    client.get("/aktiviteter/")  # like above: the signed-in user is loaded again after the commit
    with count_queries() as large:
        html = client.get("/aktiviteter/").get_data(as_text=True)
    assert "300 aktiviteter" in html
    assert large.count == small.count
    with count_queries() as page_two:
        assert client.get("/aktiviteter/?page=2&region=1082").status_code == 200
    assert page_two.count == small.count


def _activity_write_urls(app, activity_id: int) -> list[str]:
    """Every route that changes one activity (accepts POST and takes ``activity_id``)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "activity_id" in rule.arguments and "POST" in (rule.methods or ()):
            urls.append(rule.build({"activity_id": activity_id})[1])
    return urls


@pytest.mark.parametrize("role", ["ambassador", "ambassador_b", "working_group"])
def test_a_national_activity_without_a_creator_is_for_admins_only(app, users, login_as, role):
    """Imported from the command line, a national activity has no creator: no ambassador owns it."""
    activity = ActivityFactory(region_code=None, created_by_id=None, title="Landskonference")
    urls = _activity_write_urls(app, activity.id)
    assert f"/aktiviteter/{activity.id}/rediger" in urls and f"/aktiviteter/{activity.id}/slet" in urls
    client = login_as(users[role])
    assert client.get(f"/aktiviteter/{activity.id}/rediger").status_code == 403
    for url in urls:
        assert client.post(url, data=form(region_code="", version=str(activity.version), title="Kapret")).status_code == 403, url
    page = client.get(f"/aktiviteter/{activity.id}").get_data(as_text=True)
    assert f"/aktiviteter/{activity.id}/rediger" not in page
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).title == "Landskonference"


def test_admin_edits_and_deletes_a_national_activity_without_a_creator(app, users, login_as):
    activity = ActivityFactory(region_code=None, created_by_id=None, title="Landskonference")
    admin = login_as(users["admin"])
    assert admin.get(f"/aktiviteter/{activity.id}/rediger").status_code == 200
    assert f"/aktiviteter/{activity.id}/rediger" in admin.get(f"/aktiviteter/{activity.id}").get_data(as_text=True)
    response = admin.post(f"/aktiviteter/{activity.id}/rediger",
                          data=form(region_code="", version=str(activity.version), title="Landskonference 2025"))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).title == "Landskonference 2025"
    assert admin.post(f"/aktiviteter/{activity.id}/slet").status_code == 302
    assert count() == 0
