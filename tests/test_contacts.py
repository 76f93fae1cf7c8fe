"""Contacts: create/edit within the own region, hard delete (row gone, personal data out of the
audit copies), filters and export, region rule."""
import re

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry, Contact
from tests import factories

KBH, GREVE = 101, 253


def _form(**overrides) -> dict:
    data = {"name": "Mette Hansen", "organisation": "Jobcenter København", "role": "Jobcenterchef",
            "email": "Mette.Hansen@kk.dk", "phone": "+45 33 66 33 66", "region": "1084",
            "municipality": str(KBH), "centre": ""}
    data.update(overrides)
    return data


def test_create_edit_and_list_contact(login_as, users):
    client = login_as(users["ambassador"])
    assert client.get(f"/kontakter/ny?municipality={KBH}").status_code == 200
    response = client.post("/kontakter/ny", data=_form())
    assert response.status_code == 302 and response.location.endswith(f"/kommuner/{KBH}")
    contact = db.session.scalar(select(Contact))
    assert (contact.name, contact.email, contact.municipality_code, contact.region_code) == (
        "Mette Hansen", "mette.hansen@kk.dk", KBH, 1084)
    edited = client.post(f"/kontakter/{contact.id}", data=_form(role="Afdelingsleder", version=str(contact.version)))
    assert edited.status_code == 302
    db.session.refresh(contact)
    assert contact.role == "Afdelingsleder"
    assert "Mette Hansen" in client.get(f"/kommuner/{KBH}").text
    listing = client.get("/kontakter/?q=mette").text
    assert "Mette Hansen" in listing and "mailto:mette.hansen@kk.dk" in listing
    assert "Mette Hansen" not in client.get("/kontakter/?region=1085").text
    csv = client.get("/kontakter/?format=csv").data.decode("utf-8-sig").splitlines()
    assert csv[1].startswith("Mette Hansen,Jobcenter København,Afdelingsleder,mette.hansen@kk.dk")


def test_invalid_contact_shows_errors_and_keeps_input(login_as, users):
    client = login_as(users["ambassador"])
    response = client.post("/kontakter/ny", data=_form(name="", email="ikke-en-mail"))
    assert response.status_code == 400
    assert 'value="ikke-en-mail"' in response.text and 'value="Jobcenter København"' in response.text
    assert client.post("/kontakter/ny", data=_form(municipality=str(GREVE))).status_code == 403
    admin = login_as(users["admin"])
    greve = admin.post("/kontakter/ny", data=_form(municipality=str(GREVE)))
    assert greve.status_code == 400 and "Kommunen ligger ikke i den valgte region" in greve.text
    assert db.session.scalar(select(Contact)) is None


def test_delete_removes_the_row_and_personal_data_from_the_log(login_as, users):
    client = login_as(users["ambassador"])
    client.post("/kontakter/ny", data=_form())
    contact = db.session.scalar(select(Contact))
    contact_id = contact.id
    assert client.post(f"/kontakter/{contact_id}/slet", data={"version": str(contact.version)}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, contact_id) is None
    assert db.session.scalars(select(Contact)).all() == []
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "contact", AuditEntry.entity_id == str(contact_id))
        .order_by(AuditEntry.id)).all()
    assert [(e.action, e.user_id) for e in entries] == [("create", users["ambassador"].id),
                                                        ("delete", users["ambassador"].id)]
    for entry in entries:
        text = str(entry.changes)
        assert "Mette" not in text and "kk.dk" not in text and "33 66" not in text
    assert entries[1].changes["organisation"] == "Jobcenter København"


@pytest.mark.parametrize("url", ["/kontakter/?region=abc&municipality=x", "/kontakter/ny?municipality=abc",
                                 "/kontakter/?format=xlsx"])
def test_bad_arguments_never_fail(login_as, users, url):
    assert login_as(users["ambassador"]).get(url).status_code == 200


def test_unknown_contact_is_404(login_as, users):
    client = login_as(users["ambassador"])
    assert client.get("/kontakter/999999").status_code == 404
    assert client.post("/kontakter/999999/slet").status_code == 404


@pytest.mark.parametrize("who", ["ambassador", "working_group"])
def test_every_write_route_refuses_other_region_and_working_group(app, login_as, users, who):
    contact = factories.ContactFactory(region_code=1085, municipality_code=GREVE)
    client = login_as(users[who])
    posts = {
        "/kontakter/ny": _form(region="1085", municipality=str(GREVE)),
        f"/kontakter/{contact.id}": _form(region="1085", municipality=str(GREVE)),
        f"/kontakter/{contact.id}/slet": {},
    }
    routes = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("contacts.") and "POST" in r.methods}
    assert {re.sub(r"/\d+", "/<int:contact_id>", url) for url in posts} == routes
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 403, url
    assert db.session.scalars(select(Contact)).all() == [contact]
    assert db.session.get(Contact, contact.id).name == contact.name


def _hidden(html: str, name: str) -> str:
    """The value of the hidden input called ``name``."""
    tag = re.search(r'<input[^>]*name="%s"[^>]*>' % re.escape(name), html).group(0)
    return re.search(r'value="([^"]*)"', tag).group(1)


def test_two_edits_of_one_contact_the_second_is_refused_and_input_kept(login_as, users):
    contact = factories.ContactFactory(region_code=1084, municipality_code=KBH, name="Mette Hansen",
                                       role="Jobcenterchef")
    anne = factories.UserFactory(role="ambassador", region_code=1084, name="Anne Andersen", email="anne@test.dk")
    first, second = login_as(anne), login_as(users["ambassador"])
    version_1 = _hidden(first.get(f"/kontakter/{contact.id}").text, "version")
    version_2 = _hidden(second.get(f"/kontakter/{contact.id}").text, "version")
    assert version_1 == version_2 == str(contact.version)

    assert first.post(f"/kontakter/{contact.id}", data=_form(role="Afdelingsleder", version=version_1)).status_code == 302
    refused = second.post(f"/kontakter/{contact.id}", data=_form(role="Teamleder", phone="+45 70 70 70 70",
                                                                 version=version_2))
    assert refused.status_code == 409
    assert "Ændret af Anne Andersen i mellemtiden" in refused.text
    assert 'value="Teamleder"' in refused.text and 'value="+45 70 70 70 70"' in refused.text
    db.session.expire_all()
    stored = db.session.get(Contact, contact.id)
    assert (stored.role, stored.phone, stored.updated_by_id) == ("Afdelingsleder", "+45 33 66 33 66", anne.id)

    # Having seen the new values, the second user saves deliberately with the version now shown.
    retry = second.post(f"/kontakter/{contact.id}", data=_form(role="Teamleder", version=_hidden(refused.text, "version")))
    assert retry.status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).role == "Teamleder"


def test_contact_edit_without_version_is_refused(login_as, users):
    contact = factories.ContactFactory(region_code=1084, municipality_code=KBH, name="Mette Hansen")
    response = login_as(users["ambassador"]).post(f"/kontakter/{contact.id}", data=_form(name="Ny"))
    assert response.status_code == 409 and "i mellemtiden" in response.text and 'value="Ny"' in response.text
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).name == "Mette Hansen"


def test_deleting_a_contact_someone_changed_meanwhile_is_refused(login_as, users):
    contact = factories.ContactFactory(region_code=1084, municipality_code=KBH, name="Mette Hansen")
    anne = factories.UserFactory(role="ambassador", region_code=1084, name="Anne Andersen", email="anne@test.dk")
    client = login_as(users["ambassador"])
    listing = client.get("/kontakter/").text
    delete_form = listing.split(f'action="/kontakter/{contact.id}/slet"')[1].split("</form>")[0]
    seen = delete_form.split('name="version" value="')[1].split('"')[0]
    assert seen == _hidden(client.get(f"/kontakter/{contact.id}").text, "version")
    assert login_as(anne).post(f"/kontakter/{contact.id}", data=_form(name="Mette Holm", version=seen)).status_code == 302

    refused = client.post(f"/kontakter/{contact.id}/slet", data={"version": seen})
    assert refused.status_code == 409 and "Ændret af Anne Andersen i mellemtiden" in refused.text
    assert 'value="Mette Holm"' in refused.text  # the contact as it is now, to decide again
    assert db.session.get(Contact, contact.id) is not None
    fresh = _hidden(refused.text, "version")
    assert client.post(f"/kontakter/{contact.id}/slet", data={"version": fresh}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, contact.id) is None


def test_database_version_check_catches_a_contact_save_between_check_and_commit(app, users):
    """ensure_version passed, then another worker saved before our commit: refused, not overwritten."""
    from sqlalchemy import update

    from crm.services import contacts as contact_service
    from crm.services.errors import Conflict

    contact = factories.ContactFactory(region_code=1084, municipality_code=KBH, name="Mette Hansen")
    anne = factories.UserFactory(role="ambassador", region_code=1084, name="Anne Andersen", email="anne@test.dk")
    with app.test_request_context():
        version = contact.version
        with db.engine.begin() as other_worker:
            other_worker.execute(update(Contact.__table__).where(Contact.id == contact.id).values(
                version=version + 1, name="Mette Holm", updated_by_id=anne.id))
        data = contact_service.ContactData(name="Mette Jensen", region_code=1084, municipality_code=KBH)
        with pytest.raises(Conflict) as refused:
            contact_service.save_contact(contact, data, version, actor=users["ambassador"])
    assert refused.value.field == "version" and str(refused.value).startswith("Ændret af Anne Andersen i mellemtiden")
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).name == "Mette Holm"
