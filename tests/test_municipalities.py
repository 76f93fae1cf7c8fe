"""Municipality list, board and page: filters, export, constant query counts, stage history
through HTTP, notes, tasks (next steps) with optimistic locking, the region rule and the audit log."""
import difflib
import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select

from crm.clock import local_today
from crm.extensions import db
from crm.models import AuditEntry, Municipality, Note, ReportSubmission, StageChange, Task
from crm.services.stages import stage_on
from tests import factories
from tests.test_fidelity import make_review, scores_for_total

KBH, FRB, GREVE = 101, 147, 253  # København, Frederiksberg (1084); Greve (1085)
TODAY = local_today()


def _hidden(html: str, name: str) -> str:
    """The value of the hidden input called ``name``."""
    tag = re.search(r'<input[^>]*name="%s"[^>]*>' % re.escape(name), html).group(0)
    return re.search(r'value="([^"]*)"', tag).group(1)


def _history(codes, per_municipality: int = 15) -> None:
    """Long stage histories (a change a month) for the given municipalities, plus open tasks."""
    owner = factories.UserFactory(role="ambassador", region_code=1084)
    rows = [
        {"municipality_code": code, "stage": ("dialogue", "plan_in_progress", "paused")[n % 3],
         "effective_date": TODAY - timedelta(days=30 * (n + 1))}
        for code in codes for n in range(per_municipality)
    ]
    db.session.execute(insert(StageChange), rows)
    for code in codes:
        for n in range(2):
            db.session.add(Task(municipality_code=code, text=f"Møde {n}", owner_id=owner.id,
                                due_date=TODAY - timedelta(days=code % 3 - n)))
        db.session.add(Note(municipality_code=code, note_date=TODAY, text="n"))
    db.session.commit()


# --- list --------------------------------------------------------------------------------------


def test_list_filters_by_region_stage_overdue_and_search(login_as, users):
    factories.StageChangeFactory(municipality_code=KBH, stage="dialogue", effective_date=date(2025, 1, 1))
    factories.StageChangeFactory(municipality_code=GREVE, stage="dialogue", effective_date=date(2025, 1, 1))
    factories.TaskFactory(municipality_code=KBH, text="Ring til jobcentret", due_date=TODAY - timedelta(days=1))
    factories.TaskFactory(municipality_code=FRB, text="Send materiale", due_date=TODAY + timedelta(days=5))
    client = login_as(users["working_group"])

    def names(query: str) -> list[str]:
        html = client.get("/kommuner/" + query).text
        return re.findall(r'<th scope="row"><a href="/kommuner/\d+">([^<]+)</a>', html)

    assert len(names("")) == 98
    assert names("?stage=dialogue&sort=name") == ["Greve", "København"]
    assert names("?stage=dialogue&region=1084") == ["København"]
    assert names("?overdue=1") == ["København"]
    assert names("?q=frederiks&sort=name") == ["Frederiksberg", "Frederikshavn", "Frederikssund"]
    assert names("?q=101") == ["København"]
    assert len(names("?region=1084")) == 29
    html = client.get("/kommuner/?overdue=1").text
    assert "Overskredet" in html and 'class="overdue"' in html


@pytest.mark.parametrize("query", ["?region=abc", "?stage=nonsense", "?sort=evil", "?overdue=maybe&q=%27%22",
                                   "?region=99999", "?format=pdf", "?region=&stage=&sort="])
def test_list_ignores_bad_arguments(login_as, users, query):
    response = login_as(users["ambassador"]).get("/kommuner/" + query)
    assert response.status_code == 200


def test_export_is_what_is_shown(login_as, users):
    factories.StageChangeFactory(municipality_code=KBH, stage="plan_signed", effective_date=date(2025, 2, 3))
    client = login_as(users["ambassador"])
    csv = client.get("/kommuner/?region=1084&stage=plan_signed&format=csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.data.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("Kode,Kommune,Region,Fase")
    assert lines[1:] == ["101,København,Region Hovedstaden,Samarbejdsplan underskrevet,2025-02-03,,,,Nej"]
    xlsx = client.get("/kommuner/?region=1085&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.max_row == 1 + 17  # Region Sjælland has 17 municipalities
    assert {row[2] for row in sheet.iter_rows(min_row=2, values_only=True)} == {"Region Sjælland"}


# --- constant number of queries ------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/kommuner/", "/kommuner/?sort=stage&overdue=1", "/kommuner/tavle?region=1084",
                                 "/kommuner/?format=csv"])
def test_pages_issue_the_same_number_of_queries_for_10_and_98_municipalities(
        login_as, users, count_queries, url):
    client = login_as(users["ambassador"])
    all_codes = list(db.session.scalars(select(Municipality.code).order_by(Municipality.code)))
    region_codes = list(db.session.scalars(select(Municipality.code).where(Municipality.region_code == 1084)))
    _history(region_codes[:10])
    client.get(url)  # warm up (first-request work is not per-row)
    db.session.expire_all()  # the test shares the app's session: start both runs from the same state
    with count_queries() as small:
        assert client.get(url).status_code == 200
    _history([c for c in all_codes if c not in region_codes[:10]])
    db.session.expire_all()
    with count_queries() as large:
        response = client.get(url)
    assert response.status_code == 200
    assert db.session.scalar(select(StageChange.id).order_by(StageChange.id.desc()).limit(1)) >= 98 * 15
    assert large.count == small.count, (small.statements, large.statements)


def test_municipality_page_queries_do_not_grow_with_its_history(login_as, users, count_queries):
    client = login_as(users["ambassador"])
    _history([KBH], per_municipality=2)
    client.get(f"/kommuner/{KBH}")
    db.session.expire_all()
    with count_queries() as small:
        client.get(f"/kommuner/{KBH}")
    db.session.execute(insert(StageChange), [
        {"municipality_code": KBH, "stage": "dialogue", "effective_date": date(2020, 1, 1) + timedelta(days=n)}
        for n in range(40)])
    db.session.execute(insert(Note), [{"municipality_code": KBH, "note_date": TODAY, "text": str(n)} for n in range(40)])
    db.session.commit()
    db.session.expire_all()
    with count_queries() as large:
        client.get(f"/kommuner/{KBH}")
    assert large.count == small.count


def _everything(code: int, admin) -> None:
    """Every kind of record the municipality page shows, with more activities than a timeline
    page holds (so page 1 has no stage change on it), plus a submitted (locking) period."""
    sign = factories.StageChangeFactory(municipality_code=code, stage="plan_signed", effective_date=date(2024, 3, 1))
    factories.StageChangeFactory(municipality_code=code, stage="dialogue", effective_date=date(2023, 1, 1))
    make_review(code, date(2024, 9, 1), scores_for_total(100), team="Team Nord")
    make_review(code, date(2025, 1, 1), {"Staffing-1": 3})  # a draft
    municipality = db.session.get(Municipality, code)
    for n in range(30):
        factories.ActivityFactory(start_date=TODAY - timedelta(days=n), municipalities=[municipality])
    factories.PlanFactory(signed_date=date(2024, 3, 1), municipalities=[municipality])
    factories.NoteFactory(municipality_code=code, note_date=TODAY)
    factories.TaskFactory(municipality_code=code, due_date=TODAY - timedelta(days=3))
    factories.ContactFactory(municipality_code=code)
    db.session.add(ReportSubmission(period_start=date(2024, 1, 1), period_end=date(2024, 6, 30), figures={},
                                    csv_data=b"", xlsx_data=b"", submitted_by_id=admin.id))
    db.session.commit()
    assert sign.id


def test_municipality_page_statements_do_not_depend_on_its_data(login_as, users, count_queries):
    """The same statements for a municipality with nothing recorded and one with every kind of
    record (a covered stage, a complete review and a draft, a page full of activities, notes,
    tasks, contacts, a locked period), on the first and an older timeline page: no query is
    skipped for an empty list or run only for some rows."""
    _everything(KBH, users["admin"])
    client = login_as(users["ambassador"])
    client.get(f"/kommuner/{FRB}")  # warm up (the signed-in user is loaded once)
    counts = {}
    for url in (f"/kommuner/{FRB}", f"/kommuner/{KBH}", f"/kommuner/{KBH}?side=2"):
        db.session.expire_all()  # the test shares the app's session: start each from the same state
        with count_queries() as counted:
            response = client.get(url)
        assert response.status_code == 200
        counts[url] = counted
    empty, full, older = counts.values()
    assert full.count == empty.count == older.count, "\n".join(difflib.unified_diff(
        [x[:160] for x in empty.statements], [x[:160] for x in full.statements], lineterm=""))
    html = client.get(f"/kommuner/{KBH}").text
    # The panel's figures as before: the latest complete review, its band, the draft, the due date.
    assert "samlet score 100" in html and "God fidelitet" in html and "1 kladde under arbejde" in html
    assert "Næste måling senest" in html
    assert "Næste måling senest" not in client.get(f"/kommuner/{FRB}").text


# --- board -------------------------------------------------------------------------------------


def test_board_has_one_column_per_stage_and_region_choice(login_as, users):
    factories.StageChangeFactory(municipality_code=GREVE, stage="plan_in_progress", effective_date=date(2025, 1, 1))
    html = login_as(users["working_group"]).get("/kommuner/tavle?region=1085").text
    assert html.count('class="border rounded h-100 p-2 board-column"') == 6
    column = html.split('data-stage="plan_in_progress"')[1].split('data-stage="plan_signed"')[0]
    assert "Greve" in column and "København" not in html
    assert "board-move" not in html  # the working group gets no move forms
    assert "js/board.js" in html


@pytest.mark.parametrize("query", ["", "?region=abc", "?region=99999", "?region=1081"])
def test_board_region_argument_never_fails(login_as, users, query):
    assert login_as(users["ambassador"]).get("/kommuner/tavle" + query).status_code == 200


def test_board_card_form_moves_the_municipality_today(login_as, users):
    client = login_as(users["ambassador"])
    response = client.post(f"/kommuner/{KBH}/flyt", data={"stage": "dialogue"})
    assert response.status_code == 302 and "/kommuner/tavle?region=1084" in response.location
    assert (stage_on(KBH, TODAY).stage, stage_on(KBH, TODAY).since) == ("dialogue", TODAY)
    assert stage_on(KBH, TODAY - timedelta(days=1)).stage == "not_contacted"
    assert "er flyttet til" in client.get("/kommuner/tavle").text


def test_board_drag_and_drop_request_with_csrf_token(app, login_as, users):
    """What board.js sends: the card form's fields (CSRF token included), asking for JSON."""
    app.config["WTF_CSRF_ENABLED"] = True
    client = login_as(users["ambassador"])
    html = client.get("/kommuner/tavle").text
    token = _hidden(html, "csrf_token")
    response = client.post(f"/kommuner/{KBH}/flyt", data={"stage": "plan_in_progress", "csrf_token": token},
                           headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.json == {"ok": True, "stage": "plan_in_progress", "code": KBH,
                             "message": "København er flyttet til »Samarbejdsplan undervejs«.",
                             "since": f"Siden {TODAY:%d-%m-%Y}"}
    missing = client.post(f"/kommuner/{KBH}/flyt", data={"stage": "dialogue"}, headers={"Accept": "application/json"})
    assert missing.status_code == 400
    bad = client.post(f"/kommuner/{KBH}/flyt", data={"stage": "nonsense", "csrf_token": token},
                      headers={"Accept": "application/json"})
    assert bad.status_code == 400 and bad.json["ok"] is False
    other = client.post(f"/kommuner/{GREVE}/flyt", data={"stage": "dialogue", "csrf_token": token},
                        headers={"Accept": "application/json"})
    assert other.status_code == 403
    assert other.json["message"] == "Du har ikke adgang til at gøre dette."  # a refusal says why
    assert stage_on(KBH, TODAY).stage == "plan_in_progress" and stage_on(GREVE, TODAY).stage == "not_contacted"


# --- municipality page: stage history, notes, timeline -------------------------------------------


def test_add_backdated_stage_change_and_refuse_duplicate_date(login_as, users):
    client = login_as(users["ambassador"])
    data = {"stage-stage": "dialogue", "stage-effective_date": "15-01-2025", "stage-note": "Første møde"}
    assert client.post(f"/kommuner/{KBH}/faser", data=data).status_code == 302
    assert stage_on(KBH, date(2025, 1, 15)).stage == "dialogue"
    assert stage_on(KBH, date(2025, 1, 14)).stage == "not_contacted"
    again = client.post(f"/kommuner/{KBH}/faser", data={**data, "stage-stage": "plan_in_progress"})
    assert again.status_code == 400
    assert "Der er allerede registreret en faseændring for denne kommune den 15-01-2025." in again.text
    assert '<option selected value="plan_in_progress">' in again.text  # the input is kept
    assert 'value="15-01-2025"' in again.text
    future = client.post(f"/kommuner/{KBH}/faser", data={**data, "stage-effective_date": "01-01-2099"})
    assert future.status_code == 400 and "fremtiden" in future.text
    garbled = client.post(f"/kommuner/{KBH}/faser", data={**data, "stage-effective_date": "32-13-2025"})
    assert garbled.status_code == 400 and "Ugyldig dato" in garbled.text
    assert len(db.session.scalars(select(StageChange)).all()) == 1


def test_correct_and_delete_a_wrong_entry(login_as, users):
    wrong = factories.StageChangeFactory(municipality_code=KBH, stage="in_operation", effective_date=date(2025, 3, 1))
    other = factories.StageChangeFactory(municipality_code=KBH, stage="dialogue", effective_date=date(2025, 1, 1))
    client = login_as(users["ambassador"])
    assert client.get(f"/kommuner/faser/{wrong.id}").status_code == 200
    clash = client.post(f"/kommuner/faser/{wrong.id}", data={"stage": "plan_signed", "effective_date": "01-01-2025",
                                                             "version": str(wrong.version)})
    assert clash.status_code == 200 and "allerede registreret" in clash.text
    ok = client.post(f"/kommuner/faser/{wrong.id}", data={"stage": "plan_signed", "effective_date": "2025-02-20",
                                                          "version": str(wrong.version)})
    assert ok.status_code == 302
    assert stage_on(KBH, date(2025, 2, 20)).stage == "plan_signed"
    assert stage_on(KBH, date(2025, 2, 19)).stage == "dialogue"
    assert client.post(f"/kommuner/faser/{other.id}/slet", data={"version": str(other.version)}).status_code == 302
    assert stage_on(KBH, date(2025, 2, 19)).stage == "not_contacted"
    assert client.post("/kommuner/faser/999999/slet").status_code == 404
    assert client.get("/kommuner/faser/999999").status_code == 404


def test_timeline_newest_first_with_notes_plans_and_stage_changes(login_as, users):
    factories.StageChangeFactory(municipality_code=KBH, stage="dialogue", effective_date=date(2024, 5, 1))
    factories.NoteFactory(municipality_code=KBH, note_date=date(2024, 9, 9), text="Notat om møde")
    plan = factories.PlanFactory(title="Plan for København", signed_date=date(2025, 2, 2))
    plan.municipalities = [db.session.get(Municipality, KBH)]
    db.session.commit()
    client = login_as(users["working_group"])
    html = client.get(f"/kommuner/{KBH}").text
    positions = [html.index(s) for s in ("Plan for København", "Notat om møde", 'datetime="2024-05-01"')]
    assert positions == sorted(positions)
    assert "stage-form" not in html and "task-form" not in html  # read-only for the working group


def test_add_and_delete_note(login_as, users):
    client = login_as(users["ambassador"])
    assert client.post(f"/kommuner/{KBH}/notater", data={"note-note_date": "02-03-2025", "note-text": "Godt møde"}
                       ).status_code == 302
    note = db.session.scalar(select(Note))
    assert (note.note_date, note.text, note.created_by_id) == (date(2025, 3, 2), "Godt møde", users["ambassador"].id)
    empty = client.post(f"/kommuner/{KBH}/notater", data={"note-note_date": "02-03-2025", "note-text": ""})
    assert empty.status_code == 400
    assert client.post(f"/kommuner/notater/{note.id}/slet").status_code == 302
    assert db.session.scalar(select(Note)) is None


@pytest.mark.parametrize("url", ["/kommuner/99999", "/kommuner/abc", "/kommuner/-1"])
def test_unknown_municipality_is_404(login_as, users, url):
    assert login_as(users["ambassador"]).get(url).status_code == 404


# --- tasks (next steps) and the lost update -----------------------------------------------------


def test_task_lost_update_is_refused_and_input_kept(login_as, users):
    anne = factories.UserFactory(role="ambassador", region_code=1084, name="Anne Andersen", email="anne@test.dk")
    task = factories.TaskFactory(municipality_code=KBH, text="Ring")
    first, second = login_as(anne), login_as(users["ambassador"])
    version_1 = _hidden(first.get(f"/opgaver/{task.id}/ret").text, "version")
    version_2 = _hidden(second.get(f"/opgaver/{task.id}/ret").text, "version")
    assert version_1 == version_2

    saved = first.post(f"/opgaver/{task.id}/ret", data={
        "text": "Møde med jobcenterchefen", "owner": str(anne.id), "due": "01-12-2026", "version": version_1})
    assert saved.status_code == 302
    refused = second.post(f"/opgaver/{task.id}/ret", data={
        "text": "Sende materiale om IPS", "owner": "", "due": "15-12-2026", "version": version_2})
    assert refused.status_code == 409
    assert "Ændret af Anne Andersen i mellemtiden" in refused.text
    assert "Sende materiale om IPS</textarea>" in refused.text and 'value="15-12-2026"' in refused.text

    db.session.refresh(task)
    assert (task.text, task.owner_id, task.due_date) == ("Møde med jobcenterchefen", anne.id, date(2026, 12, 1))
    assert task.updated_by_id == anne.id

    # Having seen the new values, the second user can save deliberately (the form now carries them).
    retry = second.post(f"/opgaver/{task.id}/ret", data={
        "text": "Sende materiale om IPS", "owner": "", "due": "15-12-2026",
        "version": _hidden(refused.text, "version")})
    assert retry.status_code == 302
    db.session.refresh(task)
    assert task.text == "Sende materiale om IPS"


def test_task_edit_without_version_is_refused(login_as, users):
    task = factories.TaskFactory(municipality_code=KBH)
    response = login_as(users["ambassador"]).post(f"/opgaver/{task.id}/ret", data={
        "text": "x", "owner": "", "due": ""})
    assert response.status_code == 409 and "i mellemtiden" in response.text


def test_overdue_task_highlighted_on_page(login_as, users):
    factories.TaskFactory(municipality_code=KBH, text="Ring", due_date=TODAY - timedelta(days=3))
    html = login_as(users["working_group"]).get(f"/kommuner/{KBH}").text
    assert "Overskredet" in html


# --- region rule and audit ---------------------------------------------------------------------


def _municipality_write_urls(app, values: dict) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("municipalities.") and "POST" in rule.methods:
            url = rule.rule
            for arg in rule.arguments:
                url = re.sub(r"<(?:int:)?%s>" % arg, str(values[arg]), url)
            urls.append(url)
    return urls


@pytest.mark.parametrize("who", ["ambassador", "working_group"])
def test_every_write_route_refuses_other_region_and_working_group(app, login_as, users, who):
    change = factories.StageChangeFactory(municipality_code=GREVE, effective_date=date(2025, 2, 3))
    note = factories.NoteFactory(municipality_code=GREVE)
    values = {"code": GREVE, "change_id": change.id, "note_id": note.id}
    urls = _municipality_write_urls(app, values)
    assert len(urls) == 7
    client = login_as(users[who])
    valid = {"stage": "dialogue", "effective_date": "01-01-2025", "stage-stage": "dialogue",
             "stage-effective_date": "01-01-2025", "note-note_date": "01-01-2025", "note-text": "x",
             "task-text": "x", "task-version": "1"}
    for url in urls:
        assert client.post(url, data=valid).status_code == 403, url
    assert client.get(f"/kommuner/faser/{change.id}").status_code == 403
    assert db.session.get(StageChange, change.id).stage == "dialogue"
    assert db.session.get(Note, note.id) is not None
    # The owning region's ambassador may.
    assert login_as(users["ambassador_b"]).post(f"/kommuner/{GREVE}/flyt", data={"stage": "dialogue"}).status_code == 302


def test_every_change_is_audited_with_the_user(login_as, users):
    amb = users["ambassador"]
    client = login_as(amb)
    client.post(f"/kommuner/{KBH}/faser", data={"stage-stage": "dialogue", "stage-effective_date": "01-02-2025"})
    change = db.session.scalar(select(StageChange))
    client.post(f"/kommuner/faser/{change.id}", data={"stage": "plan_in_progress", "effective_date": "01-02-2025",
                                                      "version": "1"})
    client.post(f"/kommuner/{KBH}/flyt", data={"stage": "plan_signed"})
    client.post(f"/kommuner/faser/{change.id}/slet", data={"version": "2"})
    client.post(f"/kommuner/{KBH}/notater", data={"note-note_date": "02-03-2025", "note-text": "Notat"})
    client.post(f"/kommuner/{KBH}/opgaver", data={"task-text": "Ring", "task-owner": "", "task-due": ""})
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    mine = [(e.entity, e.action) for e in entries if e.user_id == amb.id]
    assert mine == [("stage_change", "create"), ("stage_change", "update"), ("stage_change", "create"),
                    ("stage_change", "delete"), ("note", "create"), ("task", "create")]
    assert all(e.actor == amb.email for e in entries if e.user_id == amb.id)
    update = next(e for e in entries if e.entity == "stage_change" and e.action == "update")
    assert update.changes["stage"] == ["dialogue", "plan_in_progress"]


def test_database_version_check_catches_a_save_between_check_and_commit(app, users):
    """ensure_version passed, then another worker saved before our commit: the version column
    makes the UPDATE match nothing, and the user gets the same message instead of overwriting."""
    from sqlalchemy import update

    from crm.services.errors import Conflict
    from crm.services.locking import ensure_version
    from crm.services.tasks import edit_task

    anne = factories.UserFactory(role="ambassador", region_code=1084, name="Anne Andersen")
    task = factories.TaskFactory(municipality_code=KBH, text="Ring")
    with app.test_request_context():
        version = str(task.version)
        ensure_version(task, version)  # current: no Conflict
        with db.engine.begin() as other_worker:
            other_worker.execute(update(Task.__table__).where(Task.id == task.id).values(
                version=task.version + 1, text="Annes skridt", updated_by_id=anne.id))
        with pytest.raises(Conflict) as refused:
            edit_task(task, "Mit skridt", None, None, version, actor=users["ambassador"])
        message = str(refused.value)
    assert message and message.startswith("Ændret af Anne Andersen i mellemtiden")
    assert task.text == "Annes skridt"


def test_timeline_pages_through_years_of_activities_and_notes(login_as, users):
    """A municipality with years of activities and notes: the page shows the newest 25 items and
    pages back through the rest, each item exactly once; nonsense page numbers are harmless."""
    from datetime import date, timedelta

    from crm.extensions import db as _db
    from crm.models import Activity, Municipality, Note
    from crm.services.pipeline import TIMELINE_PAGE_SIZE, timeline

    municipality = _db.session.get(Municipality, 101)
    for n in range(30):
        day = date(2020, 1, 1) + timedelta(days=2 * n)
        _db.session.add(Activity(type="dialogue_meeting", title=f"Møde nr. {n}", region_code=1084,
                                 start_date=day, municipalities=[municipality]))
        _db.session.add(Note(municipality_code=101, note_date=day + timedelta(days=1), text=f"Notat nr. {n}"))
    _db.session.commit()

    pages = [timeline(101, page) for page in (1, 2, 3)]
    assert [len(p.items) for p in pages] == [TIMELINE_PAGE_SIZE, TIMELINE_PAGE_SIZE, 60 - 2 * TIMELINE_PAGE_SIZE]
    assert [p.has_next for p in pages] == [True, True, False]
    seen = [i.obj.title if i.kind == "activity" else i.obj.text for p in pages for i in p.items]
    expected = [f"{kind} nr. {n}" for n in reversed(range(30)) for kind in ("Notat", "Møde")]
    assert seen == expected  # newest first, nothing lost or repeated across pages

    client = login_as(users["working_group"])
    first = client.get("/kommuner/101").text
    assert "Notat nr. 29" in first and "Møde nr. 18<" in first and "Møde nr. 17<" not in first
    assert "/kommuner/101?side=2#tidslinje" in first and "/aktiviteter/?municipality=101" in first
    second = client.get("/kommuner/101?side=2").text
    assert "Møde nr. 17<" in second and "Notat nr. 29" not in second and "?side=1#tidslinje" in second
    for nonsense in ("0", "-3", "x", "9" * 40):
        assert client.get(f"/kommuner/101?side={nonsense}").status_code == 200
    assert "Ingen ældre hændelser." in client.get("/kommuner/101?side=50").text

def test_two_corrections_of_one_stage_change_the_second_is_refused_and_input_kept(login_as, users):
    change = factories.StageChangeFactory(municipality_code=KBH, stage="dialogue", effective_date=date(2025, 3, 1))
    anne = factories.UserFactory(role="ambassador", region_code=1084, name="Anne Andersen", email="anne@test.dk")
    first, second = login_as(anne), login_as(users["ambassador"])
    version_1 = _hidden(first.get(f"/kommuner/faser/{change.id}").text, "version")
    version_2 = _hidden(second.get(f"/kommuner/faser/{change.id}").text, "version")
    assert version_1 == version_2 == str(change.version)

    saved = first.post(f"/kommuner/faser/{change.id}", data={
        "stage": "plan_in_progress", "effective_date": "01-03-2025", "note": "Annes rettelse", "version": version_1})
    assert saved.status_code == 302
    refused = second.post(f"/kommuner/faser/{change.id}", data={
        "stage": "plan_signed", "effective_date": "05-03-2025", "note": "Min rettelse", "version": version_2})
    assert refused.status_code == 409
    assert "Ændret af Anne Andersen i mellemtiden" in refused.text
    assert "Min rettelse</textarea>" in refused.text and 'value="05-03-2025"' in refused.text
    assert '<option selected value="plan_signed">' in refused.text
    db.session.expire_all()
    stored = db.session.get(StageChange, change.id)
    assert (stored.stage, stored.effective_date, stored.note) == ("plan_in_progress", date(2025, 3, 1), "Annes rettelse")

    # Having seen the new values, the second user saves deliberately with the version now shown.
    retry = second.post(f"/kommuner/faser/{change.id}", data={
        "stage": "plan_signed", "effective_date": "05-03-2025", "note": "Min rettelse",
        "version": _hidden(refused.text, "version")})
    assert retry.status_code == 302
    db.session.expire_all()
    assert db.session.get(StageChange, change.id).stage == "plan_signed"


def test_deleting_a_stage_change_someone_corrected_meanwhile_is_refused(login_as, users):
    change = factories.StageChangeFactory(municipality_code=KBH, stage="dialogue", effective_date=date(2025, 3, 1))
    anne = factories.UserFactory(role="ambassador", region_code=1084, name="Anne Andersen", email="anne@test.dk")
    page = login_as(users["ambassador"]).get(f"/kommuner/{KBH}").text
    delete_form = page.split(f'action="/kommuner/faser/{change.id}/slet"')[1].split("</form>")[0]
    seen = delete_form.split('name="version" value="')[1].split('"')[0]
    assert seen == str(change.version)
    corrected = login_as(anne).post(f"/kommuner/faser/{change.id}", data={
        "stage": "in_operation", "effective_date": "01-03-2025", "version": seen})
    assert corrected.status_code == 302

    client = login_as(users["ambassador"])
    refused = client.post(f"/kommuner/faser/{change.id}/slet", data={"version": seen}, follow_redirects=True)
    assert "Ændret af Anne Andersen i mellemtiden" in refused.text
    db.session.expire_all()
    assert db.session.get(StageChange, change.id).stage == "in_operation"
    assert client.post(f"/kommuner/faser/{change.id}/slet", data={}).status_code == 302  # no version: refused too
    assert db.session.get(StageChange, change.id) is not None
    current = str(db.session.get(StageChange, change.id).version)
    assert client.post(f"/kommuner/faser/{change.id}/slet", data={"version": current}).status_code == 302
    db.session.expire_all()
    assert db.session.get(StageChange, change.id) is None


def test_database_version_check_catches_a_stage_correction_between_check_and_commit(login_as, users):
    """The form's version was current when checked, but another worker saved before our commit."""
    from sqlalchemy import event, update

    change = factories.StageChangeFactory(municipality_code=KBH, stage="dialogue", effective_date=date(2025, 3, 1))
    anne = factories.UserFactory(role="ambassador", region_code=1084, name="Anne Andersen", email="anne@test.dk")
    client = login_as(users["ambassador"])
    version = _hidden(client.get(f"/kommuner/faser/{change.id}").text, "version")

    done = []

    def other_worker_saves(session, flush_context, instances):
        if done:
            return
        done.append(True)
        with db.engine.begin() as other:
            other.execute(update(StageChange.__table__).where(StageChange.id == change.id).values(
                version=StageChange.version + 1, stage="in_operation", updated_by_id=anne.id))

    event.listen(db.session, "before_flush", other_worker_saves)
    try:
        refused = client.post(f"/kommuner/faser/{change.id}", data={
            "stage": "plan_signed", "effective_date": "01-03-2025", "note": "Min rettelse", "version": version})
    finally:
        event.remove(db.session, "before_flush", other_worker_saves)
    assert done
    assert refused.status_code == 409
    assert "Ændret af Anne Andersen i mellemtiden" in refused.text and "Min rettelse</textarea>" in refused.text
    db.session.expire_all()
    assert db.session.get(StageChange, change.id).stage == "in_operation"


def test_board_move_that_meets_a_concurrent_correction_of_todays_entry_is_refused_not_a_500(login_as, users):
    """Moving a card twice on one day corrects today's entry; if someone else corrects or deletes
    that entry in the same instant, the version check refuses the move with a message."""
    from sqlalchemy import event, update

    today = factories.StageChangeFactory(municipality_code=KBH, stage="dialogue", effective_date=local_today())
    client = login_as(users["ambassador"])
    done = []

    def other_worker_saves(session, flush_context, instances):
        if not done:
            done.append(True)
            with db.engine.begin() as other:
                other.execute(update(StageChange.__table__).where(StageChange.id == today.id).values(
                    version=StageChange.version + 1, stage="paused"))

    event.listen(db.session, "before_flush", other_worker_saves)
    try:
        response = client.post(f"/kommuner/{KBH}/flyt", data={"stage": "plan_in_progress"},
                               headers={"Accept": "application/json"})
    finally:
        event.remove(db.session, "before_flush", other_worker_saves)
    assert done and response.status_code == 409
    assert response.get_json()["ok"] is False and "i samme øjeblik" in response.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(StageChange, today.id).stage == "paused"
