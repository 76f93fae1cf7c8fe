"""Materials with expert-panel review: the workflow as a plain service (who may make each move,
from which states), versions kept with their comments and verdicts, uploads through the PDF
checks, links to ``material`` activities, and the pages through the test client (the expert
panel's view of them included), on SQLite and PostgreSQL."""
import io
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from crm.clock import local_today
from crm.extensions import db
from crm.models import Activity, AuditEntry, Material, MaterialComment, MaterialTransition, MaterialVersion
from crm.services import materials as service
from crm.services.errors import Conflict, FieldError, Forbidden
from crm.services.materials import MaterialData, VersionData
from tests import factories

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ALL_STATES = ("draft", "submitted", "in_review", "changes_requested", "approved", "published", "retired")


@pytest.fixture
def panel(app):
    return factories.UserFactory(role="expert_panel", region_code=None, email="panel@test.dk", name="Panel Pia")


def _data(**overrides) -> MaterialData:
    values = {"title": "Vejledning om samarbejdsplaner", "kind": "guide", "track": 1, "region_codes": [1084]}
    values.update(overrides)
    return MaterialData(**values)


def _create(actor, link="https://example.dk/v1", **overrides) -> Material:
    return service.create_material(_data(**overrides), VersionData(link=link) if link else None, actor=actor)


def _move(material, action, actor, **kwargs):
    db.session.refresh(material)
    return service.move(material, action, actor=actor, version=material.version, **kwargs)


def _verdict(material, verdict, actor, note="Fint"):
    db.session.refresh(material)
    return service.give_verdict(material, verdict, note, actor=actor, version=material.version)


def _in_state(state: str, users, panel) -> Material:
    """A material of region 1084 (the ambassador's) brought to ``state`` through the service."""
    amb, wg = users["ambassador"], users["working_group"]
    material = _create(amb)
    path = {
        "draft": [], "submitted": ["submit"], "in_review": ["submit", "start_review"],
        "changes_requested": ["submit", "start_review", "request_changes"],
        "approved": ["submit", "start_review", "approve"], "published": ["submit", "start_review", "approve", "publish"],
        "retired": ["submit", "start_review", "approve", "publish", "retire"],
    }[state]
    for action in path:
        if action in ("approve", "request_changes"):
            _verdict(material, "approved" if action == "approve" else "changes_requested", panel)
        else:
            _move(material, action, amb if action == "submit" else wg)
    db.session.refresh(material)
    assert material.state == state
    return material


# --- The workflow as data ----------------------------------------------------------------------


def test_the_moves_are_the_documented_workflow():
    """draft → submitted → in review → changes requested / approved → published → retired, and
    who makes each move, as one table."""
    table = {m.action: (set(m.sources), m.target, m.who) for m in service.MOVES}
    assert table == {
        "submit": ({"draft"}, "submitted", "owner"),
        "withdraw": ({"submitted"}, "draft", "owner"),
        "start_review": ({"submitted"}, "in_review", "decider"),
        "request_changes": ({"in_review"}, "changes_requested", "expert_panel"),
        "approve": ({"in_review"}, "approved", "expert_panel"),
        "publish": ({"approved"}, "published", "decider"),
        "retire": ({"approved", "published"}, "retired", "decider"),
        "new_version": ({"draft", "changes_requested", "approved", "published", "retired"}, "draft", "owner"),
    }
    reachable = {"draft"} | {m.target for m in service.MOVES}
    assert reachable == set(ALL_STATES)


def test_a_material_goes_from_draft_to_retired_with_its_trail(app, users, panel):
    amb, wg = users["ambassador"], users["working_group"]
    material = _create(amb, authors_text="Anne Andersen")
    assert (material.state, material.created_by_id, [v.number for v in material.versions]) == ("draft", amb.id, [1])
    _move(material, "submit", amb)
    _move(material, "start_review", wg, note="Til panelet")
    comment = service.add_comment(material.latest_version, "Afsnit 2 kan kortes", actor=panel)
    assert comment.author_id == panel.id
    _verdict(material, "approved", panel, note="Godkendt uden forbehold")
    _move(material, "publish", wg, on=date(2025, 3, 3))
    _move(material, "retire", users["admin"], note="Erstattet af ny vejledning")
    db.session.expire_all()
    material = db.session.get(Material, material.id)
    assert material.state == "retired" and material.published_on == date(2025, 3, 3)
    trail = [(t.action, t.from_state, t.to_state, t.version_number, t.actor_id) for t in material.transitions]
    assert trail == [
        ("create", None, "draft", 1, amb.id), ("submit", "draft", "submitted", 1, amb.id),
        ("start_review", "submitted", "in_review", 1, wg.id), ("approve", "in_review", "approved", 1, panel.id),
        ("publish", "approved", "published", 1, wg.id), ("retire", "published", "retired", 1, users["admin"].id),
    ]
    assert material.transitions[2].note == "Til panelet"
    version = material.versions[0]
    assert (version.verdict, version.verdict_by_id, version.verdict_note) == ("approved", panel.id,
                                                                              "Godkendt uden forbehold")
    assert [c.text for c in version.comments] == ["Afsnit 2 kan kortes"]


def test_changes_requested_then_a_new_version_is_reviewed_again_and_every_version_kept(app, users, panel):
    amb, wg = users["ambassador"], users["working_group"]
    material = _in_state("in_review", users, panel)
    with pytest.raises(FieldError) as refused:
        _verdict(material, "changes_requested", panel, note="  ")
    assert refused.value.field == "note"
    _verdict(material, "changes_requested", panel, note="Tilføj eksempler")
    with pytest.raises(FieldError):  # version 1 has its verdict: a new version first
        _move(material, "submit", amb)
    db.session.refresh(material)
    service.add_version(material, VersionData(link="https://example.dk/v2", note="Eksempler tilføjet"),
                        actor=amb, version=material.version)
    assert material.state == "draft"
    _move(material, "submit", amb)
    _move(material, "start_review", wg)
    _verdict(material, "approved", panel)
    _move(material, "publish", wg)
    db.session.expire_all()
    material = db.session.get(Material, material.id)
    assert [(v.number, v.link, v.verdict) for v in material.versions] == [
        (1, "https://example.dk/v1", "changes_requested"), (2, "https://example.dk/v2", "approved")]
    assert material.state == "published" and material.published_on == local_today()


def test_a_published_material_revised_and_published_again_keeps_its_first_publication_date(app, users, panel):
    amb, wg = users["ambassador"], users["working_group"]
    material = _in_state("approved", users, panel)
    _move(material, "publish", wg, on=date(2025, 2, 1))
    db.session.refresh(material)
    service.add_version(material, VersionData(link="https://example.dk/v2"), actor=amb, version=material.version)
    for action, actor in (("submit", amb), ("start_review", wg)):
        _move(material, action, actor)
    _verdict(material, "approved", panel)
    _move(material, "publish", wg, on=date(2025, 9, 1))
    db.session.refresh(material)
    assert material.published_on == date(2025, 2, 1)
    assert [t.action for t in material.transitions].count("publish") == 2


# Who may make each move: the rule behind each ``who``, tried for every role.
ROLE_KEYS = ("ambassador", "ambassador_b", "working_group", "admin", "expert_panel")
MAY = {
    "owner": {"ambassador", "admin"},
    "decider": {"working_group", "admin"},
    "expert_panel": {"expert_panel"},
}


@pytest.mark.parametrize("action", [m.action for m in service.MOVES])
def test_only_the_right_role_may_make_each_move(app, users, panel, action):
    """A region-1084 material created by the 1084 ambassador: each move is refused (Forbidden,
    nothing written) for every role but the ones its ``who`` names."""
    chosen = service.MOVES_BY_ACTION[action]
    actors = {**users, "expert_panel": panel}
    for role in ROLE_KEYS:
        material = _in_state(chosen.sources[0], users, panel)
        before = (material.state, material.version, len(material.versions))
        try:
            if action in ("approve", "request_changes"):
                _verdict(material, "approved" if action == "approve" else "changes_requested", actors[role])
            elif action == "new_version":
                db.session.refresh(material)
                service.add_version(material, VersionData(link="https://example.dk/ny"), actor=actors[role],
                                    version=material.version)
            else:
                _move(material, action, actors[role])
        except Forbidden:
            db.session.rollback()
            assert role not in MAY[chosen.who], (action, role)
            db.session.refresh(material)
            assert (material.state, material.version, len(material.versions)) == before
        else:
            assert role in MAY[chosen.who], (action, role)
            assert material.state == chosen.target


@pytest.mark.parametrize("state", ALL_STATES)
def test_a_move_from_a_state_it_does_not_leave_is_refused(app, users, panel, state):
    material = _in_state(state, users, panel)
    for chosen in service.MOVES:
        if state in chosen.sources or chosen.action in ("approve", "request_changes", "new_version"):
            continue
        actor = users["admin"]
        with pytest.raises(FieldError):
            _move(material, chosen.action, actor)
        db.session.rollback()
    if state != "in_review":
        with pytest.raises(FieldError):
            _verdict(material, "approved", panel)
        db.session.rollback()


def test_an_ambassador_changes_own_materials_and_those_of_their_region_or_authorship(app, users):
    amb, amb_b = users["ambassador"], users["ambassador_b"]
    national = _create(users["admin"], region_codes=[])
    assert not service.allowed_moves(national, amb)  # not theirs
    co_written = _create(users["admin"], region_codes=[], author_ids=[amb_b.id])
    assert [m.action for m in service.allowed_moves(co_written, amb_b)] == ["submit", "new_version"]
    regional = _create(amb_b, region_codes=[1085])
    with pytest.raises(Forbidden):
        service.update_material(regional, _data(title="Overtaget"), actor=amb, version=regional.version)
    db.session.rollback()
    service.update_material(regional, _data(title="Rettet titel", region_codes=[1085, 1084]), actor=amb_b,
                            version=regional.version)
    db.session.refresh(regional)
    assert regional.title == "Rettet titel" and regional.region_codes == {1084, 1085}
    # Now in Hovedstaden too: its ambassador may change it.
    service.update_material(regional, _data(title="Fælles vejledning", region_codes=[1084, 1085]), actor=amb,
                            version=regional.version)


def test_a_stale_form_is_refused_with_who_changed_it(app, users, panel):
    amb = users["ambassador"]
    material = _create(amb)
    stale = material.version
    service.update_material(material, _data(title="Ny titel"), actor=users["admin"], version=stale)
    with pytest.raises(Conflict) as refused:
        service.move(material, "submit", actor=amb, version=stale)
    assert users["admin"].display_name in str(refused.value)
    db.session.rollback()
    assert db.session.get(Material, material.id).state == "draft"


def test_metadata_is_fixed_once_submitted(app, users, panel):
    material = _in_state("in_review", users, panel)
    with pytest.raises(FieldError):
        service.update_material(material, _data(title="Ændret under review"), actor=users["ambassador"],
                                version=material.version)


@pytest.mark.parametrize("overrides, field", [
    ({"title": "  "}, "title"), ({"kind": "poster"}, "kind"), ({"track": 5}, "track"),
    ({"region_codes": [9999]}, "regions"), ({"author_ids": [987654]}, "authors"),
])
def test_invalid_material_data_names_its_field(app, users, overrides, field):
    with pytest.raises(FieldError) as refused:
        _create(users["ambassador"], **overrides)
    assert refused.value.field == field
    db.session.rollback()
    assert db.session.scalar(select(func.count(Material.id))) == 0


@pytest.mark.parametrize("version, field", [
    (VersionData(link="ftp://example.dk/x"), "link"),
    (VersionData(link="https://example.dk/x", upload=None), None),
    (VersionData(), "document"),
])
def test_a_version_is_a_pdf_or_a_link(app, users, version, field):
    material = _create(users["ambassador"], link=None)
    if field is None:
        service.add_version(material, version, actor=users["ambassador"], version=material.version)
        assert material.latest_version.link == "https://example.dk/x"
        return
    with pytest.raises(FieldError) as refused:
        service.add_version(material, version, actor=users["ambassador"], version=material.version)
    assert refused.value.field == field


def test_submitting_needs_a_version(app, users):
    material = _create(users["ambassador"], link=None)
    with pytest.raises(FieldError):
        _move(material, "submit", users["ambassador"])


def test_comments_only_by_the_panel_while_in_review(app, users, panel):
    material = _in_state("in_review", users, panel)
    with pytest.raises(Forbidden):
        service.add_comment(material.latest_version, "Fra arbejdsgruppen", actor=users["working_group"])
    with pytest.raises(FieldError):
        service.add_comment(material.latest_version, "   ", actor=panel)
    approved = _in_state("approved", users, panel)
    with pytest.raises(Forbidden):  # the panel no longer sees it
        service.add_comment(approved.latest_version, "For sent", actor=panel)
    db.session.rollback()
    assert db.session.scalar(select(func.count(MaterialComment.id))) == 0


def test_the_panel_sees_only_materials_in_review_and_published(app, users, panel):
    for state in ALL_STATES:
        _in_state(state, users, panel)
    seen = [row.material.state for row in service.material_list(panel)]
    assert seen == ["in_review", "published"]
    everything = [row.material.state for row in service.material_list(users["ambassador_b"])]
    assert sorted(everything) == sorted(ALL_STATES)
    assert everything[0] == "published"


def test_linking_a_material_activity(app, users):
    amb = users["ambassador"]
    material = _create(amb)
    own = factories.ActivityFactory(type="material", region_code=1084, created_by_id=amb.id)
    meeting = factories.ActivityFactory(type="dialogue_meeting", region_code=1084)
    foreign = factories.ActivityFactory(type="material", region_code=1085)
    assert [a.id for a in service.linkable_activities(amb)] == [own.id]
    with pytest.raises(FieldError):
        service.link_activity(material, meeting.id, actor=amb, version=material.version)
    db.session.rollback()
    with pytest.raises(Forbidden):
        service.link_activity(material, foreign.id, actor=amb, version=material.version)
    db.session.rollback()
    service.link_activity(material, own.id, actor=amb, version=material.version)
    assert db.session.get(Activity, own.id).material_id == material.id
    other = _create(amb, title="Et andet materiale")
    with pytest.raises(FieldError):
        service.link_activity(other, own.id, actor=amb, version=other.version)
    db.session.rollback()
    db.session.refresh(material)
    service.unlink_activity(material, own.id, actor=amb, version=material.version)
    assert db.session.get(Activity, own.id).material_id is None


# --- Pages -------------------------------------------------------------------------------------


def _hidden(html: str, name: str) -> str:
    tag = re.search(r'<input[^>]*name="%s"[^>]*>' % re.escape(name), html).group(0)
    return re.search(r'value="([^"]*)"', tag).group(1)


def test_an_ambassador_creates_a_material_with_a_pdf_and_everyone_downloads_it(app, users, login_as, panel):
    client = login_as(users["ambassador"])
    page = client.get("/materialer/ny")
    assert page.status_code == 200 and 'name="document"' in page.text
    response = client.post("/materialer/ny", data={
        "title": "Skabelon til samarbejdsplan", "kind": "template", "track": "1", "regions": ["1084", "1085"],
        "authors_text": "Bo Berg", "summary": "Til jobcentre og psykiatri", "link": "", "version_note": "Første udkast",
        "document": (io.BytesIO(PDF), "skabelon.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302
    material = db.session.scalar(select(Material))
    assert (material.title, material.kind, material.region_codes) == ("Skabelon til samarbejdsplan", "template",
                                                                      {1084, 1085})
    version = material.latest_version
    assert version.document_name == "skabelon.pdf" and version.note == "Første udkast"
    download = client.get(f"/materialer/versioner/{version.id}/fil")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert login_as(users["working_group"]).get(f"/materialer/versioner/{version.id}/fil").status_code == 200
    assert login_as(panel).get(f"/materialer/versioner/{version.id}/fil").status_code == 403  # a draft
    detail = client.get(f"/materialer/{material.id}").text
    assert "Skabelon til samarbejdsplan" in detail and "skabelon.pdf" in detail and "Bo Berg" in detail
    assert "Indsend til vurdering" in detail


@pytest.mark.parametrize("filename, content, message", [
    ("notat.pdf", b"PK\x03\x04 zip", "ikke en PDF-fil"),
    ("notat.docx", PDF, "Kun PDF-filer"),
    ("../notat.pdf", PDF, "Filnavnet må ikke indeholde en sti"),
])
def test_an_upload_goes_through_the_pdf_checks(app, users, login_as, filename, content, message):
    client = login_as(users["ambassador"])
    response = client.post("/materialer/ny", data={
        "title": "Pjece", "kind": "guide", "track": "3", "document": (io.BytesIO(content), filename)},
        content_type="multipart/form-data")
    assert response.status_code == 400 and message in response.text
    assert db.session.scalar(select(func.count(Material.id))) == 0


def test_the_workflow_through_the_pages(app, users, login_as, panel):
    amb, wg = login_as(users["ambassador"]), login_as(users["working_group"])
    experts = login_as(panel)
    material = _create(users["ambassador"])

    def version():
        db.session.expire_all()
        return db.session.get(Material, material.id).version

    assert amb.post(f"/materialer/{material.id}/handling",
                    data={"action": "submit", "version": version()}).status_code == 302
    assert experts.get(f"/materialer/{material.id}").status_code == 403  # submitted: not the panel's yet
    page = wg.get(f"/materialer/{material.id}").text
    assert "Send til ekspertpanelet" in page and "Indsend til vurdering" not in page
    assert wg.post(f"/materialer/{material.id}/beslutning",
                   data={"action": "publish", "version": version()}).status_code == 400  # not approved
    assert wg.post(f"/materialer/{material.id}/beslutning",
                   data={"action": "start_review", "version": version()}).status_code == 302
    page = experts.get(f"/materialer/{material.id}").text
    assert "Giv vurdering" in page and "Tilføj kommentar" in page and "Knyttede aktiviteter" not in page
    version_id = material.versions[0].id
    assert experts.post(f"/materialer/versioner/{version_id}/kommentar",
                        data={"text": "Figuren på side 3 mangler kilde"}).status_code == 302
    refused = experts.post(f"/materialer/{material.id}/vurdering",
                           data={"verdict": "changes_requested", "note": "", "version": version()})
    assert refused.status_code == 400 and "Skriv, hvilke ændringer" in refused.text
    assert experts.post(f"/materialer/{material.id}/vurdering",
                        data={"verdict": "approved", "note": "Fin", "version": version()}).status_code == 302
    assert experts.get(f"/materialer/{material.id}").status_code == 403  # approved: the panel's part is done
    assert wg.post(f"/materialer/{material.id}/beslutning",
                   data={"action": "publish", "version": version()}).status_code == 302
    page = experts.get(f"/materialer/{material.id}").text  # published: the review trail for everyone
    assert "Figuren på side 3 mangler kilde" in page and "Godkendt af ekspertpanelet" in page
    assert "Udgivet" in page and "Giv vurdering" not in page
    listing = amb.get("/materialer/?state=published").text
    assert listing.count('class="material-row"') == 1 and material.title in listing


def test_a_stale_move_is_refused_with_409_and_nothing_moves(app, users, login_as):
    material = _create(users["ambassador"])
    stale = material.version
    service.update_material(material, _data(title="Ændret af admin"), actor=users["admin"], version=stale)
    response = login_as(users["ambassador"]).post(f"/materialer/{material.id}/handling",
                                                  data={"action": "submit", "version": stale})
    assert response.status_code == 409 and "i mellemtiden" in response.text
    db.session.expire_all()
    assert db.session.get(Material, material.id).state == "draft"


def test_edit_and_new_version_pages(app, users, login_as):
    client = login_as(users["ambassador"])
    material = _create(users["ambassador"])
    form = client.get(f"/materialer/{material.id}/rediger").text
    assert 'value="Vejledning om samarbejdsplaner"' in form
    response = client.post(f"/materialer/{material.id}/rediger", data={
        "title": "Vejledning om samarbejdsplaner, 2. udgave", "kind": "guide", "track": "1", "regions": ["1084"],
        "version": _hidden(form, "version")})
    assert response.status_code == 302
    form = client.get(f"/materialer/{material.id}/ny-version").text
    refused = client.post(f"/materialer/{material.id}/ny-version", data={
        "link": "https://example.dk/v2", "document": (io.BytesIO(PDF), "v2.pdf"), "version": _hidden(form, "version")},
        content_type="multipart/form-data")
    assert refused.status_code == 400 and "ikke begge dele" in refused.text
    response = client.post(f"/materialer/{material.id}/ny-version", data={
        "document": (io.BytesIO(PDF), "v2.pdf"), "version_note": "Rettet", "version": _hidden(form, "version")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.expire_all()
    material = db.session.get(Material, material.id)
    assert material.title.endswith("2. udgave") and [v.number for v in material.versions] == [1, 2]
    entries = db.session.scalars(select(AuditEntry.entity).where(AuditEntry.entity.like("material%"))).all()
    assert {"material", "material_version", "material_transition"} <= set(entries)


def test_linking_activities_on_the_page(app, users, login_as):
    amb = users["ambassador"]
    material = _create(amb)
    activity = factories.ActivityFactory(type="material", region_code=1084, created_by_id=amb.id,
                                         title="Pjece udsendt")
    client = login_as(amb)
    page = client.get(f"/materialer/{material.id}").text
    assert "Pjece udsendt" in page and "Knyt til materialet" in page
    assert client.post(f"/materialer/{material.id}/aktiviteter",
                       data={"activity": activity.id, "version": _hidden(page, "version")}).status_code == 302
    page = client.get(f"/materialer/{material.id}").text
    assert "Fjern kobling" in page
    assert db.session.get(Activity, activity.id).material_id == material.id
    assert "Pjece udsendt" in login_as(users["working_group"]).get(f"/aktiviteter/{activity.id}").text


def test_list_filters(app, users, panel, login_as):
    _create(users["ambassador"], title="Video om IPS", kind="video", track=3)
    _create(users["ambassador"], title="Kursusmateriale", kind="course_material", track=2)
    _in_state("published", users, panel)
    client = login_as(users["working_group"])

    def titles(query):
        html = client.get("/materialer/" + query).text
        return re.findall(r'<a href="/materialer/\d+">([^<]+)</a>', html)

    assert len(titles("")) == 3
    assert titles("?kind=video") == ["Video om IPS"]
    assert titles("?track=2") == ["Kursusmateriale"]
    assert titles("?state=published") == ["Vejledning om samarbejdsplaner"]
    assert len(titles("?state=nonsense&track=x&kind=")) == 3  # unknown filters are ignored, never a 500


def test_list_and_page_queries_are_constant(app, users, panel, login_as, count_queries):
    client = login_as(users["working_group"])
    material = _in_state("published", users, panel)

    def add(n):
        for i in range(n):
            other = _in_state("in_review", users, panel)
            service.add_comment(other.latest_version, f"Kommentar {i}", actor=panel)
            service.add_comment(other.latest_version, "Mere", actor=panel)
            number = len(material.versions) + 1
            db.session.add(MaterialVersion(material_id=material.id, number=number, link="https://example.dk"))
            db.session.add(MaterialComment(material_version=material.versions[0], text=f"Trail {i}"))
            db.session.commit()
            db.session.refresh(material)

    add(1)
    client.get("/materialer/")
    with count_queries() as small_list:
        assert client.get("/materialer/").status_code == 200
    with count_queries() as small_page:
        assert client.get(f"/materialer/{material.id}").status_code == 200
    add(6)
    client.get("/materialer/")
    with count_queries() as large_list:
        assert client.get("/materialer/").status_code == 200
    with count_queries() as large_page:
        assert client.get(f"/materialer/{material.id}").status_code == 200
    assert (large_list.count, large_page.count) == (small_list.count, small_page.count)


def test_the_expert_panel_lands_in_materials_and_sees_no_crm_page(app, panel, login_as, client):
    response = client.post("/login", data={"email": panel.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    start = client.get("/")
    assert start.status_code == 302 and start.headers["Location"].endswith("/materialer/")
    page = client.get("/materialer/").text
    assert 'href="/kommuner/"' not in page and 'href="/aktiviteter/"' not in page and "Materialer" in page
    for url in ("/kommuner/", "/aktiviteter/", "/rapporter/", "/overblik/", "/fidelitet/", "/kalender/",
                "/admin/centres", "/planer/", "/kontakter/", "/opgaver/"):
        assert client.get(url).status_code == 403, url
    assert client.get("/account").status_code == 200


def test_the_expert_panel_role_is_created_from_the_command_line_and_the_admin_form(app, users, login_as, runner):
    result = runner.invoke(args=["user", "create", "ekspert@star.dk", "--role", "expert_panel",
                                 "--password-stdin"], input="en lang og god adgangskode\n")
    assert result.exit_code == 0, result.output
    from crm.models import User
    created = db.session.scalar(select(User).where(User.email == "ekspert@star.dk"))
    assert created.role == "expert_panel" and created.region_code is None
    form = login_as(users["admin"]).get("/admin/users/new").text
    assert 'value="expert_panel"' in form and "Ekspertpanel" in form


def test_transitions_are_recorded_in_the_audit_log_with_labels(app, users, panel, login_as):
    _in_state("published", users, panel)
    html = login_as(users["admin"]).get("/admin/audit", query_string={"entity": "material_transition"}).text
    assert "Materialets statusskift" in html and "Udgivet" in html
    assert db.session.scalar(select(func.count(MaterialTransition.id))) == 5
