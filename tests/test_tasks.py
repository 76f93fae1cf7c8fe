"""Tasks (next steps): several open per municipality, edit/done/reopen/delete through the forms, the
municipality page and timeline, "Mine opgaver", the region rule on every task route, the audit
trail, the start page, the list, board and exports, and constant query counts."""
import io
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.clock import local_now, local_today
from crm.extensions import db
from crm.models import AuditEntry, Municipality, Task
from crm.services import tasks as service
from crm.services.errors import Forbidden
from tests import factories

KBH, FRB, BALLERUP, GREVE = 101, 147, 151, 253  # København, Frederiksberg, Ballerup (1084); Greve (1085)
TODAY = local_today()


def _hidden(html: str, name: str) -> str:
    tag = re.search(r'<input[^>]*name="%s"[^>]*>' % re.escape(name), html).group(0)
    return re.search(r'value="([^"]*)"', tag).group(1)


def _dk(day: date) -> str:
    return day.strftime("%d-%m-%Y")


def _open_task_texts(html: str) -> list[str]:
    block = html.split('id="open-tasks"')[1].split("</ul>")[0]
    return re.findall(r'<div class="text-break" style="white-space: pre-line">([^<]*)</div>', block)


# --- several tasks per municipality, done by whom and when, history ------------------------------


def test_several_open_tasks_per_municipality_through_the_page(login_as, users):
    amb = users["ambassador"]
    client = login_as(amb)
    page = client.get(f"/kommuner/{KBH}").text
    assert 'id="task-form"' in page and 'name="csrf_token"' in page
    assert f'<option selected value="{amb.id}">' in page or f'value="{amb.id}" selected' in page  # starts as mine
    later = TODAY + timedelta(days=10)
    first = client.post(f"/kommuner/{KBH}/opgaver", data={"task-text": "Send materiale", "task-owner": str(amb.id),
                                                         "task-due": _dk(later)})
    assert first.status_code == 302 and first.headers["Location"].endswith(f"/kommuner/{KBH}#opgaver")
    client.post(f"/kommuner/{KBH}/opgaver", data={"task-text": "Ring til jobcenterchefen", "task-owner": "",
                                                 "task-due": _dk(TODAY + timedelta(days=2))})
    client.post(f"/kommuner/{KBH}/opgaver", data={"task-text": "Uden frist", "task-owner": "", "task-due": ""})
    stored = db.session.scalars(select(Task).order_by(Task.id)).all()
    assert [(t.text, t.status, t.created_by_id) for t in stored] == [
        ("Send materiale", "open", amb.id), ("Ring til jobcenterchefen", "open", amb.id), ("Uden frist", "open", amb.id)]
    assert stored[0].owner_id == amb.id and stored[0].due_date == later and stored[1].owner_id is None
    assert stored[0].created_at is not None
    # The page lists all three, earliest due first, undated last; the old one-per-municipality is gone.
    page = client.get(f"/kommuner/{KBH}").text
    assert _open_task_texts(page) == ["Ring til jobcenterchefen", "Send materiale", "Uden frist"]


def test_bad_input_is_shown_beside_the_field_with_the_input_kept(login_as, users):
    client = login_as(users["ambassador"])
    response = client.post(f"/kommuner/{KBH}/opgaver", data={"task-text": "  ", "task-owner": "",
                                                            "task-due": "01-12-2026"})
    assert response.status_code == 400
    assert "Skriv hvad der skal gøres." in response.text and 'value="01-12-2026"' in response.text
    response = client.post(f"/kommuner/{KBH}/opgaver", data={"task-text": "Ring", "task-owner": "",
                                                            "task-due": "31-02-2026"})
    assert response.status_code == 400
    assert "Ugyldig dato" in response.text and "Ring</textarea>" in response.text and 'value="31-02-2026"' in response.text
    retired = factories.UserFactory(role="ambassador", region_code=1084, active=False)
    response = client.post(f"/kommuner/{KBH}/opgaver", data={"task-text": "Ring", "task-owner": str(retired.id)})
    assert response.status_code == 400 and "Ring</textarea>" in response.text
    assert db.session.scalar(select(func.count(Task.id))) == 0


def test_complete_records_who_and_when_and_reopen_clears_it(login_as, users):
    amb = users["ambassador"]
    task = factories.TaskFactory(municipality_code=KBH, text="Ring til chefen", due_date=TODAY - timedelta(days=1),
                                 created_by_id=amb.id)
    client = login_as(amb)
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    response = client.post(f"/opgaver/{task.id}/udfoert", data={"next": "/opgaver/?vis=region"})
    after = datetime.now(timezone.utc).replace(tzinfo=None)
    assert response.status_code == 302 and response.headers["Location"] == "/opgaver/?vis=region"
    db.session.refresh(task)
    assert task.status == "done" and task.done_by_id == amb.id
    assert before - timedelta(seconds=1) <= task.done_at <= after + timedelta(seconds=1)

    page = client.get(f"/kommuner/{KBH}").text
    assert "Ingen åbne opgaver." in page  # not open any more …
    timeline = page.split('id="tidslinje"')[1]
    assert "Opgave udført" in timeline and "Opgave oprettet" in timeline and "Ring til chefen" in timeline
    assert f"Udført af {amb.display_name}" in timeline
    assert timeline.index("Opgave udført") < timeline.index("Opgave oprettet")  # newest first

    # Done twice: nothing changes, the user is told; a foreign "next" is not followed.
    again = client.post(f"/opgaver/{task.id}/udfoert", data={"next": "https://evil.example/"})
    assert again.headers["Location"] == f"/kommuner/{KBH}#opgaver"
    db.session.refresh(task)
    assert task.done_by_id == amb.id

    assert client.post(f"/opgaver/{task.id}/genaabn").status_code == 302
    db.session.refresh(task)
    assert (task.status, task.done_by_id, task.done_at) == ("open", None, None)


def test_history_is_in_the_audit_log(login_as, users):
    amb = users["ambassador"]
    client = login_as(amb)
    client.post(f"/kommuner/{KBH}/opgaver", data={"task-text": "Ring", "task-owner": "", "task-due": "01-12-2026"})
    task = db.session.scalar(select(Task))
    page = client.get(f"/opgaver/{task.id}/ret").text
    client.post(f"/opgaver/{task.id}/ret", data={"text": "Ring igen", "owner": "", "due": "02-12-2026",
                                                 "version": _hidden(page, "version")})
    client.post(f"/opgaver/{task.id}/udfoert")
    client.post(f"/opgaver/{task.id}/genaabn")
    client.post(f"/opgaver/{task.id}/slet")
    assert db.session.get(Task, task.id) is None
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "task").order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["create", "update", "update", "update", "delete"]
    assert all(e.user_id == amb.id and e.entity_id == str(task.id) for e in entries)
    assert entries[0].changes["text"] == "Ring" and entries[0].changes["municipality_code"] == KBH
    assert entries[1].changes["text"] == ["Ring", "Ring igen"]
    assert entries[1].changes["due_date"] == ["2026-12-01", "2026-12-02"]
    assert entries[2].changes["status"] == ["open", "done"] and entries[2].changes["done_by_id"] == [None, amb.id]
    assert entries[3].changes["status"] == ["done", "open"]
    assert entries[4].changes["text"] == "Ring igen"  # the deleted task's copy


def test_edit_keeps_input_on_error(login_as, users):
    task = factories.TaskFactory(municipality_code=KBH, text="Ring")
    client = login_as(users["ambassador"])
    response = client.post(f"/opgaver/{task.id}/ret", data={"text": "", "owner": "", "due": "13-13-2026",
                                                            "version": str(task.version)})
    assert response.status_code == 400 and 'value="13-13-2026"' in response.text
    db.session.refresh(task)
    assert task.text == "Ring"


def test_overdue_is_judged_by_the_date_in_copenhagen():
    # 23:30 UTC on 1 June is 01:30 on 2 June in Copenhagen (summer time).
    assert local_now(datetime(2026, 6, 1, 23, 30)).date() == date(2026, 6, 2)
    assert local_now(datetime(2026, 12, 1, 22, 59, tzinfo=timezone.utc)).date() == date(2026, 12, 1)
    task = Task(municipality_code=KBH, text="x", status="open", due_date=date(2026, 6, 1))
    assert task.is_overdue(local_now(datetime(2026, 6, 1, 23, 30)).date())
    assert not task.is_overdue(local_now(datetime(2026, 6, 1, 21, 30)).date())
    task.status = "done"
    assert not task.is_overdue(date(2027, 1, 1))


def test_overdue_is_one_rule_for_loaded_tasks_and_queries(app):
    """``Task.is_overdue`` (open, due before today) answers the same on a loaded task and in SQL."""
    today = date(2026, 3, 10)
    overdue = {  # text: overdue on ``today``?
        "open, due yesterday": True, "open, due today": False, "open, due tomorrow": False,
        "open, no due date": False, "done, due last week": False,
    }
    dues = {"yesterday": today - timedelta(days=1), "today": today, "tomorrow": today + timedelta(days=1),
            "no due date": None, "last week": today - timedelta(days=7)}
    for text in overdue:
        status, due = text.split(", ")
        factories.TaskFactory(municipality_code=KBH, text=text, status=status,
                              due_date=dues[due.removeprefix("due ")])
    expected = {text for text, late in overdue.items() if late}
    assert {t.text for t in db.session.scalars(select(Task)) if t.is_overdue(today)} == expected
    assert set(db.session.scalars(select(Task.text).where(Task.is_overdue(today)))) == expected


# --- "Mine opgaver" ---------------------------------------------------------------------------


@pytest.fixture
def spread(users):
    """Tasks of the 1084 ambassador, of a colleague in 1084, and in 1085; one done."""
    amb, colleague = users["ambassador"], factories.UserFactory(role="ambassador", region_code=1084, name="Kollega")
    mk = factories.TaskFactory
    return {
        "later": mk(municipality_code=KBH, text="Mine: om en uge", owner_id=amb.id, due_date=TODAY + timedelta(days=7)),
        "undated": mk(municipality_code=FRB, text="Mine: uden frist", owner_id=amb.id),
        "overdue_recent": mk(municipality_code=BALLERUP, text="Mine: i går", owner_id=amb.id,
                             due_date=TODAY - timedelta(days=1)),
        "overdue_old": mk(municipality_code=FRB, text="Mine: for længe siden", owner_id=amb.id,
                          due_date=TODAY - timedelta(days=20)),
        "today": mk(municipality_code=KBH, text="Mine: i dag", owner_id=amb.id, due_date=TODAY),
        "done": mk(municipality_code=KBH, text="Mine: gjort", owner_id=amb.id, due_date=TODAY - timedelta(days=30),
                   status="done", done_by_id=amb.id, done_at=datetime(2026, 1, 2, 10, 0)),
        "colleague": mk(municipality_code=KBH, text="Kollegas opgave", owner_id=colleague.id,
                        due_date=TODAY + timedelta(days=1)),
        "other_region": mk(municipality_code=GREVE, text="Greves opgave", owner_id=users["ambassador_b"].id,
                           due_date=TODAY - timedelta(days=2)),
    }


def _listed(html: str) -> list[str]:
    body = html.split('id="task-table"')[1].split("</table>")[0] if 'id="task-table"' in html else ""
    return re.findall(r'<td class="text-break" style="white-space: pre-line">([^<]*)</td>', body)


def test_my_tasks_overdue_first_then_by_due_date(login_as, users, spread):
    html = login_as(users["ambassador"]).get("/opgaver/").text
    assert _listed(html) == ["Mine: for længe siden", "Mine: i går", "Mine: i dag", "Mine: om en uge",
                             "Mine: uden frist"]
    assert html.count("Overskredet</span>") == 2
    assert "/opgaver/%d/udfoert" % spread["today"].id in html  # buttons for what they may change


def test_my_region_filter_and_done_list(login_as, users, spread):
    client = login_as(users["ambassador"])
    region = _listed(client.get("/opgaver/?vis=region").text)
    assert "Kollegas opgave" in region and "Greves opgave" not in region and len(region) == 6
    # An ambassador cannot widen "region" to another one.
    assert "Greves opgave" not in _listed(client.get("/opgaver/?vis=region&region=1085").text)
    assert _listed(client.get("/opgaver/?status=udfoert").text) == ["Mine: gjort"]


def test_working_group_sees_all_read_only(login_as, users, spread):
    client = login_as(users["working_group"])
    html = client.get("/opgaver/").text
    listed = _listed(html)
    assert len(listed) == 7 and listed[:3] == ["Mine: for længe siden", "Greves opgave", "Mine: i går"]
    assert "/udfoert" not in html and "/ret" not in html
    assert _listed(client.get("/opgaver/?vis=region&region=1085").text) == ["Greves opgave"]
    page = client.get(f"/kommuner/{KBH}").text
    assert 'id="task-form"' not in page and "/udfoert" not in page and "Mine: om en uge" in page


def test_menu_links_to_my_tasks(login_as, users):
    html = login_as(users["ambassador"]).get("/").text
    assert 'href="/opgaver/"' in html and "Mine opgaver" in html


# --- the region rule on every task route --------------------------------------------------------


def _task_routes(app, values: dict) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if (rule.endpoint.startswith("tasks.") or rule.endpoint == "municipalities.add_task") and \
                "POST" in rule.methods:
            url = rule.rule
            for arg in rule.arguments:
                url = re.sub(r"<(?:int:)?%s>" % arg, str(values[arg]), url)
            urls.append(url)
    return sorted(urls)


@pytest.mark.parametrize("who", ["ambassador", "working_group"])
def test_every_task_route_refuses_other_region_and_working_group(app, login_as, users, who):
    task = factories.TaskFactory(municipality_code=GREVE, text="Greve", due_date=date(2026, 1, 1))
    done = factories.TaskFactory(municipality_code=GREVE, text="Gjort", status="done")
    urls = _task_routes(app, {"code": GREVE, "task_id": task.id})
    assert len(urls) == 5
    client = login_as(users[who])
    data = {"task-text": "x", "text": "x", "version": "1", "due": "", "owner": ""}
    for url in urls + [f"/opgaver/{done.id}/genaabn"]:
        assert client.post(url, data=data).status_code == 403, url
    assert client.get(f"/opgaver/{task.id}/ret").status_code == 403
    db.session.expire_all()
    assert db.session.get(Task, task.id).text == "Greve" and db.session.get(Task, done.id).status == "done"
    assert db.session.scalar(select(func.count(Task.id))) == 2
    # The owning region's ambassador may.
    owner = login_as(users["ambassador_b"])
    assert owner.post(f"/opgaver/{task.id}/udfoert").status_code == 302
    assert owner.post(f"/kommuner/{GREVE}/opgaver", data={"task-text": "Ny"}).status_code == 302


def test_services_refuse_other_regions_too(app, users):
    task = factories.TaskFactory(municipality_code=GREVE)
    greve = db.session.get(Municipality, GREVE)
    for call in (lambda: service.create_task(greve, "x", actor=users["ambassador"]),
                 lambda: service.edit_task(task, "x", None, None, actor=users["ambassador"]),
                 lambda: service.complete_task(task, actor=users["working_group"]),
                 lambda: service.delete_task(task, actor=users["working_group"])):
        with pytest.raises(Forbidden):
            call()
    db.session.rollback()
    assert service.complete_task(task, actor=users["admin"]) is True


# --- start page, list, board, exports -----------------------------------------------------------


def test_start_page_lists_overdue_and_upcoming_tasks(login_as, users, spread):
    html = login_as(users["ambassador"]).get("/").text
    overdue = html.split('id="overdue-heading"')[1].split("</ul>")[0]
    upcoming = html.split('id="upcoming-heading"')[1].split("</ul>")[0]
    assert "Overskredne opgaver" in html and "(2)" in overdue[:80]
    assert overdue.index("Mine: for længe siden") < overdue.index("Mine: i går")
    assert "Mine: i dag" in upcoming and "Mine: om en uge" in upcoming and "Kollegas opgave" in upcoming
    assert "Greves opgave" not in html and "Mine: gjort" not in html and "Mine: uden frist" not in overdue + upcoming
    # The region table's "next step" is each municipality's earliest open task.
    kbh_row = re.search(r'<tr[^>]*>\s*<td>101</td>.*?</tr>', html, re.S).group(0)
    assert "Mine: i dag" in kbh_row and 'class="overdue"' not in kbh_row
    frb_row = re.search(r'<tr[^>]*>\s*<td>147</td>.*?</tr>', html, re.S).group(0)
    assert "Mine: for længe siden" in frb_row and 'class="overdue"' in frb_row
    # The working group's start page covers the country.
    assert "Greves opgave" in login_as(users["working_group"]).get("/").text


def test_list_board_and_exports_show_the_earliest_open_task(login_as, users, spread):
    client = login_as(users["ambassador"])
    names = re.findall(r'<th scope="row"><a href="/kommuner/\d+">([^<]+)</a>', client.get("/kommuner/?overdue=1").text)
    assert names == ["Frederiksberg", "Ballerup", "Greve"]  # region then code; KBH's done task does not count
    csv = client.get("/kommuner/?region=1084&format=csv").data.decode("utf-8-sig").splitlines()
    assert csv[0].endswith("Næste skridt,Ansvarlig,Frist,Overskredet")
    kbh = next(line for line in csv if line.startswith("101,"))
    assert kbh.endswith(f"Mine: i dag,{users['ambassador'].display_name},{TODAY.isoformat()},Nej")
    sheet = load_workbook(io.BytesIO(client.get("/kommuner/?region=1084&format=xlsx").data)).active
    frb = next(row for row in sheet.iter_rows(min_row=2, values_only=True) if row[1] == "Frederiksberg")
    assert frb[5] == "Mine: for længe siden" and frb[-1] == "Ja"
    board = client.get("/kommuner/tavle?region=1084").text
    card = board.split('data-code="147"')[1].split("</li>")[0]
    assert "Mine: for længe siden" in card and "Overskredet" in card


# --- constant number of queries ------------------------------------------------------------------


def _many_tasks(owner_id: int, n: int) -> None:
    codes = list(db.session.scalars(select(Municipality.code).where(Municipality.region_code == 1084)))
    for k in range(n):
        db.session.add(Task(municipality_code=codes[k % len(codes)], text=f"Opgave {k}", owner_id=owner_id,
                            due_date=TODAY + timedelta(days=k % 15 - 5), created_by_id=owner_id))
    db.session.add(Task(municipality_code=KBH, text="Gjort", status="done", done_by_id=owner_id,
                        done_at=datetime(2026, 1, 1), created_by_id=owner_id))
    db.session.commit()


@pytest.mark.parametrize("url", ["/opgaver/", "/opgaver/?vis=region", "/opgaver/?status=udfoert", "/",
                                 f"/kommuner/{KBH}", "/kommuner/", "/kommuner/tavle?region=1084"])
def test_task_pages_issue_a_constant_number_of_queries(login_as, users, count_queries, url):
    client = login_as(users["ambassador"])
    _many_tasks(users["ambassador"].id, 2)
    client.get(url)  # warm up
    db.session.expire_all()
    with count_queries() as few:
        assert client.get(url).status_code == 200
    _many_tasks(users["ambassador"].id, 120)
    db.session.expire_all()
    with count_queries() as many:
        assert client.get(url).status_code == 200
    assert many.count == few.count, (few.statements, many.statements)


def test_english_page(login_as, users, spread):
    users["ambassador"].locale = "en"
    db.session.commit()
    html = login_as(users["ambassador"]).get("/opgaver/").text
    assert "My tasks" in html and "Overdue" in html


# --- the daily digest ------------------------------------------------------------------------------


def test_digest_lists_each_overdue_and_upcoming_task(app, users):
    from zoneinfo import ZoneInfo

    from crm.models import OutboxMessage
    from crm.services.jobs import run_job

    amb = users["ambassador"]
    day = date(2026, 6, 3)
    mk = factories.TaskFactory
    mk(municipality_code=KBH, text="Ring til chefen", owner_id=amb.id, due_date=date(2026, 6, 1))
    mk(municipality_code=KBH, text="Send udkast", due_date=date(2026, 6, 3))
    mk(municipality_code=KBH, text="Planlæg workshop", owner_id=amb.id, due_date=date(2026, 6, 10))
    mk(municipality_code=FRB, text="Gjort i forvejen", due_date=date(2026, 5, 1), status="done")
    mk(municipality_code=FRB, text="Langt ude", due_date=date(2026, 6, 11))
    mk(municipality_code=GREVE, text="Sjællands opgave", due_date=date(2026, 6, 2))
    run_job("digest", now=datetime(2026, 6, 3, 7, 0, tzinfo=ZoneInfo("Europe/Copenhagen")))
    [message] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == amb.email)).all()
    body = message.body
    overdue = body.split("Opgaver over fristen (1):")[1].split("\n\n")[0]
    assert f"København: Ring til chefen (frist 01-06-2026, 2 dage over) – {amb.display_name}" in overdue
    upcoming = body.split("Opgaver med frist inden for 7 dage (2):")[1].split("\n\n")[0]
    assert upcoming.index("København: Send udkast (frist i dag)") < upcoming.index(
        "København: Planlæg workshop (frist 10-06-2026)")
    assert "Gjort i forvejen" not in body and "Langt ude" not in body and "Sjællands opgave" not in body
    assert "1 over fristen" in message.subject and day.strftime("%d-%m-%Y") in message.subject


def test_municipality_task_lists_are_the_two_queries(users):
    """The municipality page's one query gives what ``municipality_tasks`` and ``timeline_tasks``
    give: open tasks earliest due first (undated last), the newest tasks by done or created time,
    ties by id, cut at the reach, with open tasks older than the reach still listed as open."""
    start = datetime(2025, 1, 1, 9, 0)
    for n in range(12):
        done = n % 3 == 0
        factories.TaskFactory(
            municipality_code=KBH, text=f"Opgave {n}", owner_id=users["ambassador"].id if n % 2 else None,
            due_date=None if n % 4 == 1 else TODAY + timedelta(days=(n * 5) % 7 - 3),
            created_at=start + timedelta(hours=n % 5), status="done" if done else "open",
            done_at=start + timedelta(hours=n) if done else None, done_by_id=users["admin"].id if done else None)
    factories.TaskFactory(municipality_code=FRB, text="Andetsteds")
    db.session.commit()
    for reach in (1, 4, 26):
        lists = service.municipality_task_lists(KBH, reach)
        assert [t.id for t in lists.open] == [t.id for t in service.municipality_tasks(KBH)]
        assert [t.id for t in lists.newest] == [t.id for t in service.timeline_tasks(KBH, reach)]


def test_owner_choices_name_users_as_display_name_does(app):
    """The owner list reads ``User.display_name`` in SQL; it names users exactly as the property
    does in Python: the name, or the e-mail when the name is missing or empty."""
    from crm.models import User
    from crm.views.forms import user_choices

    people = [factories.UserFactory(name=name, email=f"owner{n}@test.dk") for n, name in enumerate(("Ane", "", None))]
    choices = dict(user_choices())
    assert [choices[str(u.id)] for u in people] == [u.display_name for u in people] == ["Ane", "owner1@test.dk",
                                                                                          "owner2@test.dk"]
    assert db.session.scalars(select(User.display_name).where(User.id.in_([u.id for u in people]))
                              .order_by(User.id)).all() == ["Ane", "owner1@test.dk", "owner2@test.dk"]
