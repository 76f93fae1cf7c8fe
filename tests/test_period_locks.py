"""A submitted period locks its data (issue 17 item 4).

The matrix: every write path × every role (ambassador of the record's region, ambassador of
another region, working group, admin) × every lock state (before the submission, after it, after an
admin reopens the region, after the re-lock). Outcomes are read from the database, not only from
the response: "ok" wrote, "locked" wrote nothing and said which submission locks it, "forbidden"
wrote nothing and answered 403 (or, in an import, refused the row's region).
"""
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from crm.clock import local_today
from crm.extensions import db
from crm.formatting import half_year_period
from crm.models import (Activity, AuditEntry, CostLine, Expense, FidelityReview, PeriodReopening, ReportSubmission,
                        StageChange)
from crm.services import fidelity, ics_import, period_locks
from crm.services import report as report_service
from crm.services.errors import Forbidden, Locked
from crm.services.plans import PlanData, save_plan
from tests.factories import ActivityFactory, ExpenseFactory, StageChangeFactory
from tests.test_fidelity import _form_data, scores_for_total

PERIOD = (date(2025, 1, 1), date(2025, 6, 30))  # 1. halvår 2025
DAY = date(2025, 3, 5)
DAY_TEXT = "05-03-2025"
OUTSIDE_TEXT = "05-09-2025"  # 2. halvår 2025: never submitted here
MUNICIPALITY = 101  # København, Region Hovedstaden (1084): the region of the records
REGION = 1084
LOCK_WORDS = "låst af indsendelsen af 1. halvår 2025"

ROLES = ("ambassador", "ambassador_b", "working_group", "admin")
STATES = ("before", "submitted", "reopened", "relocked")


def submit(period, admin) -> ReportSubmission:
    """A submission of ``period`` as ``submit_report`` stores it, without counting the figures (the
    lock reads only the period; the tests that need the real submission call ``submit_report``)."""
    submission = ReportSubmission(period_start=period[0], period_end=period[1], figures={}, csv_data=b"",
                                  xlsx_data=b"", submitted_by_id=admin.id)
    db.session.add(submission)
    db.session.commit()
    return submission


def set_state(state: str, users, period=PERIOD, regions=(REGION,)) -> None:
    """Bring the period into ``state`` (the submission and reopenings as an admin would)."""
    if state == "before":
        return
    submission = submit(period, users["admin"])
    if state in ("reopened", "relocked"):
        for region in regions:
            reopening = period_locks.reopen_period(submission, str(region), "Rettelse af tal", actor=users["admin"])
            if state == "relocked":
                period_locks.relock(reopening, actor=users["admin"])


def expected(role: str, state: str) -> str:
    if role in ("ambassador_b", "working_group"):
        return "forbidden"
    return "locked" if state in ("submitted", "relocked") else "ok"


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _answer(response, wrote: bool) -> str:
    """What a page did: wrote ("ok"), refused by the lock, or refused by the region rule."""
    text = response.get_data(as_text=True)
    if wrote:
        return "ok"
    if response.status_code == 403 or "Du må ikke registrere for region" in text:
        return "forbidden"
    if LOCK_WORDS in text:
        return "locked"
    return f"unexpected {response.status_code}: {text[:300]}"


# --- The write paths: each returns the outcome, read from the database ------------------------------


def _activity_form(**changes):
    data = {"type": "dialogue_meeting", "title": "Dialogmøde", "start_date": DAY_TEXT, "region_code": str(REGION),
            "municipality_codes": [str(MUNICIPALITY)], "participants": "4", "participants_municipality": "2",
            "participants_psychiatry": "2", "hours": "2"}
    data.update(changes)
    return data


def activity_create(client, users):
    before = _count(Activity)
    response = client.post("/aktiviteter/ny", data=_activity_form())
    return _answer(response, _count(Activity) == before + 1)


def activity_copy(client, users):
    source = ActivityFactory(start_date=date(2025, 9, 1), region_code=REGION, title="Forlæg")
    page = client.get(f"/aktiviteter/{source.id}/kopier")
    if page.status_code == 403:
        return "forbidden"
    before = _count(Activity)
    response = client.post("/aktiviteter/ny", data=_activity_form(title="Forlæg"))
    return _answer(response, _count(Activity) == before + 1)


def activity_edit(client, users):
    activity = ActivityFactory(start_date=DAY, region_code=REGION, title="Før")
    response = client.post(f"/aktiviteter/{activity.id}/rediger",
                           data=_activity_form(title="Efter", version=str(activity.version)))
    return _answer(response, db.session.get(Activity, activity.id).title == "Efter")


def activity_move_out(client, users):
    """Moving a locked activity's date out of the period is a change of a locked record too."""
    activity = ActivityFactory(start_date=DAY, region_code=REGION, title="Flyttes")
    response = client.post(f"/aktiviteter/{activity.id}/rediger",
                           data=_activity_form(title="Flyttes", start_date=OUTSIDE_TEXT, version=str(activity.version)))
    return _answer(response, db.session.get(Activity, activity.id).start_date != DAY)


def activity_move_in(client, users):
    """Moving an open activity into the locked period is refused too."""
    activity = ActivityFactory(start_date=date(2025, 9, 5), region_code=REGION, title="Flyttes ind")
    response = client.post(f"/aktiviteter/{activity.id}/rediger",
                           data=_activity_form(title="Flyttes ind", version=str(activity.version)))
    return _answer(response, db.session.get(Activity, activity.id).start_date == DAY)


def activity_delete(client, users):
    activity = ActivityFactory(start_date=DAY, region_code=REGION)
    activity_id = activity.id
    response = client.post(f"/aktiviteter/{activity_id}/slet")
    return _answer(response, db.session.get(Activity, activity_id) is None)


def stage_add(client, users):
    before = _count(StageChange)
    response = client.post(f"/kommuner/{MUNICIPALITY}/faser",
                           data={"stage-stage": "dialogue", "stage-effective_date": DAY_TEXT})
    return _answer(response, _count(StageChange) == before + 1)


def stage_correct(client, users):
    change = StageChangeFactory(municipality_code=MUNICIPALITY, stage="dialogue", effective_date=DAY)
    response = client.post(f"/kommuner/faser/{change.id}", data={
        "stage": "plan_in_progress", "effective_date": DAY_TEXT, "version": str(change.version)})
    return _answer(response, db.session.get(StageChange, change.id).stage == "plan_in_progress")


def stage_delete(client, users):
    change = StageChangeFactory(municipality_code=MUNICIPALITY, stage="dialogue", effective_date=DAY)
    change_id = change.id
    response = client.post(f"/kommuner/faser/{change_id}/slet", data={"version": str(change.version)})
    return _answer(response, db.session.get(StageChange, change_id) is None)


def board_move(client, users):
    """The board moves a card as of today: the lock of the half-year that holds today."""
    before = _count(StageChange)
    response = client.post(f"/kommuner/{MUNICIPALITY}/flyt", data={"stage": "dialogue"},
                           headers={"Accept": "application/json"})
    wrote = _count(StageChange) == before + 1
    if not wrote and response.status_code == 409:
        assert "låst af indsendelsen af" in response.get_json()["message"]
        return "locked"
    return _answer(response, wrote)


def _review(day=DAY) -> FidelityReview:
    review = fidelity.write_review(None, MUNICIPALITY, {"review_date": day, "team": "Før"},
                                   {key: (score, None) for key, score in scores_for_total(80).items()})
    db.session.commit()
    return review


def review_create(client, users):
    before = _count(FidelityReview)
    response = client.post(f"/fidelitet/kommune/{MUNICIPALITY}/ny",
                           data=_form_data(scores_for_total(90), review_date=DAY_TEXT))
    return _answer(response, _count(FidelityReview) == before + 1)


def review_edit(client, users):
    review = _review()
    response = client.post(f"/fidelitet/{review.id}/ret", data=_form_data(
        scores_for_total(100), review_date=DAY_TEXT, team="Efter", version=str(review.version)))
    return _answer(response, db.session.get(FidelityReview, review.id).team == "Efter")


def review_delete(client, users):
    review_id = _review().id
    response = client.post(f"/fidelitet/{review_id}/slet")
    return _answer(response, db.session.get(FidelityReview, review_id) is None)


def plan_signed(client, users, role):
    """Saving a signed plan moves its municipalities to "plan signed" unless the date is locked."""
    before = _count(StageChange)
    try:
        _plan, outcomes = save_plan(None, PlanData("Plan", REGION, [MUNICIPALITY], signed_date=DAY), actor=users[role])
    except Forbidden:
        return "forbidden"
    if _count(StageChange) == before + 1:
        return "ok"
    assert not outcomes[0].moved and LOCK_WORDS in outcomes[0].message
    return "locked"


def _import(client, kind, body: str, mode="good_rows_only"):
    import re

    upload = client.post("/import/", data={"kind": kind, f"{kind}-file": (io.BytesIO(body.encode("utf-8-sig")), "f.csv")},
                         content_type="multipart/form-data")
    if upload.status_code == 403:
        return upload, None
    text = upload.get_data(as_text=True)
    token = re.search(r'name="token" value="([A-Za-z0-9_-]{32})"', text)
    if token is None:
        return upload, None
    return upload, client.post("/import/bekraeft", data={"kind": kind, "token": token.group(1), "mode": mode})


def activity_import(client, users):
    before = _count(Activity)
    upload, _confirmed = _import(client, "activities",
                                 f"dato;type;titel;region;kommuner;deltagere;timer;bemærkning\n"
                                 f"{DAY_TEXT};dialogue_meeting;Importeret møde;{REGION};{MUNICIPALITY};3;1;\n")
    return _answer(upload, _count(Activity) == before + 1)


def stage_import(client, users):
    before = _count(StageChange)
    upload, _confirmed = _import(client, "stages", f"kommune;fase;dato;bemærkning\n{MUNICIPALITY};dialogue;{DAY_TEXT};\n")
    return _answer(upload, _count(StageChange) == before + 1)


CALENDAR = "\r\n".join([
    "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//DA",
    "BEGIN:VEVENT", "UID:laast-1@test", "DTSTART;VALUE=DATE:20250305", "DTEND;VALUE=DATE:20250306",
    "SUMMARY:Dialogmøde i København", "END:VEVENT", "END:VCALENDAR", ""]).encode()


def calendar_import(client, users):
    import re

    before = _count(Activity)
    upload = client.post("/kalender/import", data={
        "file": (io.BytesIO(CALENDAR), "kalender.ics"), "start": "01-01-2025", "end": "31-12-2025",
        "region": str(REGION)}, content_type="multipart/form-data")
    if upload.status_code == 403:
        return "forbidden"
    text = upload.get_data(as_text=True)
    token = re.search(r'name="token" value="([A-Za-z0-9_-]{32})"', text).group(1)
    confirm = client.post("/kalender/import/bekraeft", data={
        "token": token, "start": "2025-01-01", "end": "2025-12-31", "region": str(REGION),
        "selected": "ics:laast-1@test"}, follow_redirects=True)
    if _count(Activity) == before + 1:
        return "ok"
    if confirm.status_code == 403:
        return "forbidden"
    assert "låst af indsendelsen af 1. halvår 2025" in text  # the preview says so before the confirmation
    return _answer(confirm, False)


def _expense_form(cost_lines, **changes):
    data = {"spent_on": DAY_TEXT, "region": str(REGION), "cost_line": str(cost_lines["courses"].id),
            "amount": "1.234,50", "description": "Lokaleleje", "voucher": "L-1", "activity": ""}
    data.update(changes)
    return data


def _cost_lines():
    from crm.services.reference import seed_cost_lines

    seed_cost_lines()
    db.session.commit()
    return {line.code: line for line in db.session.scalars(select(CostLine))}


def expense_create(client, users):
    before = _count(Expense)
    response = client.post("/oekonomi/udgifter/ny", data=_expense_form(_cost_lines()))
    return _answer(response, _count(Expense) == before + 1)


def expense_edit(client, users):
    lines = _cost_lines()
    expense = ExpenseFactory(spent_on=DAY, region_code=REGION, cost_line_id=lines["courses"].id, description="Før")
    response = client.post(f"/oekonomi/udgifter/{expense.id}",
                           data=_expense_form(lines, description="Efter", voucher=expense.voucher,
                                              version=str(expense.version)))
    return _answer(response, db.session.get(Expense, expense.id).description == "Efter")


def expense_move_out(client, users):
    lines = _cost_lines()
    expense = ExpenseFactory(spent_on=DAY, region_code=REGION, cost_line_id=lines["courses"].id)
    response = client.post(f"/oekonomi/udgifter/{expense.id}",
                           data=_expense_form(lines, spent_on=OUTSIDE_TEXT, voucher=expense.voucher,
                                              version=str(expense.version)))
    return _answer(response, db.session.get(Expense, expense.id).spent_on != DAY)


def expense_delete(client, users):
    expense = ExpenseFactory(spent_on=DAY, region_code=REGION, cost_line_id=_cost_lines()["courses"].id)
    expense_id = expense.id
    response = client.post(f"/oekonomi/udgifter/{expense_id}/slet", data={"version": str(expense.version)},
                           follow_redirects=True)  # refused: back on the expense with the reason
    return _answer(response, db.session.get(Expense, expense_id) is None)


def expense_import(client, users):
    _cost_lines()
    before = _count(Expense)
    upload, _confirmed = _import(client, "expenses", "dato;udgiftspost;beløb;beskrivelse;bilag;region;aktivitet\n"
                                 f"{DAY_TEXT};courses;1.234,50;Lokaleleje;L-9;{REGION};\n")
    return _answer(upload, _count(Expense) == before + 1)


FORM_PATHS = [activity_create, activity_copy, activity_edit, activity_move_out, activity_move_in, activity_delete,
              stage_add, stage_correct, stage_delete, review_create, review_edit, review_delete,
              activity_import, stage_import,
              expense_create, expense_edit, expense_move_out, expense_delete, expense_import]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", FORM_PATHS, ids=lambda p: p.__name__)
def test_every_write_path_respects_the_lock(app, users, login_as, path, role, state):
    set_state(state, users)
    assert path(login_as(users[role]), users) == expected(role, state)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ROLES)
def test_signing_a_plan_does_not_move_a_locked_stage(app, users, role, state):
    set_state(state, users)
    assert plan_signed(None, users, role) == expected(role, state)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ROLES)
def test_board_drag_and_drop_respects_the_lock_of_today(app, users, login_as, role, state):
    set_state(state, users, period=half_year_period(local_today().year, 1 if local_today().month <= 6 else 2))
    assert board_move(login_as(users[role]), users) == expected(role, state)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ROLES)
def test_calendar_import_respects_the_lock(app, users, login_as, role, state):
    """An ambassador imports into their own region whatever the form says: for the other region's
    ambassador that is region 1085, reopened here only for 1084."""
    set_state(state, users)
    want = expected(role, state)
    if role == "ambassador_b":
        want = "ok" if state == "before" else "locked"
    assert calendar_import(login_as(users[role]), users) == want


@pytest.mark.parametrize("state", STATES)
def test_command_line_imports_respect_the_lock(app, users, runner, tmp_path, state):
    """The command line acts as an administrator: locked rows are line-numbered errors; all or
    nothing refuses the file, good rows only writes the rest."""
    set_state(state, users)
    path = tmp_path / "faser.csv"
    path.write_text(f"kommune;fase;dato;bemærkning\n{MUNICIPALITY};dialogue;{DAY_TEXT};\n"
                    f"{MUNICIPALITY};plan_in_progress;{OUTSIDE_TEXT};\n", encoding="utf-8-sig")
    strict = runner.invoke(args=["import", "stages", str(path)])
    locked = state in ("submitted", "relocked")
    if locked:
        assert strict.exit_code != 0
        assert "linje 2, kolonne date: Posten er låst af indsendelsen af 1. halvår 2025" in strict.output
        assert _count(StageChange) == 0
        partial = runner.invoke(args=["import", "stages", str(path), "--good-rows-only"])
        assert partial.exit_code == 0, partial.output
        assert [c.effective_date for c in db.session.scalars(select(StageChange))] == [date(2025, 9, 5)]
    else:
        assert strict.exit_code == 0, strict.output
        assert _count(StageChange) == 2
    activities = tmp_path / "aktiviteter.csv"
    activities.write_text("dato;type;titel;region;kommuner;deltagere;timer;bemærkning\n"
                          f"{DAY_TEXT};dialogue_meeting;Møde;{REGION};{MUNICIPALITY};3;1;\n", encoding="utf-8-sig")
    result = runner.invoke(args=["import", "activities", str(activities)])
    assert (result.exit_code != 0) == locked
    assert _count(Activity) == (0 if locked else 1)


@pytest.mark.parametrize("state", STATES)
def test_expenses_are_checked_by_region_and_date(app, users, cost_lines, state):
    """The expense forms and import (built elsewhere) call ``ensure_unlocked(region, spent_on)``."""
    set_state(state, users)
    line = next(iter(cost_lines.values()))
    expense = Expense(region_code=REGION, spent_on=DAY, cost_line_id=line.id, amount_ore=123_45,
                      description="Kursusmaterialer", voucher="B-1")
    db.session.add(expense)
    db.session.commit()
    locked = state in ("submitted", "relocked")
    for actor in (users["ambassador"], users["admin"], None):
        if locked:
            with pytest.raises(Locked) as refusal:
                period_locks.ensure_unlocked(*period_locks.expense_place(expense), actor=actor, field_name="spent_on")
            assert refusal.value.field == "spent_on" and "1. halvår 2025" in str(refusal.value)
        else:
            period_locks.ensure_unlocked(expense.region_code, expense.spent_on, actor=actor)
    # Another region, and a date outside the period, are never locked by it (reopened only for 1084).
    period_locks.ensure_unlocked(REGION, date(2025, 7, 1), actor=None)
    if state != "before":
        with pytest.raises(Locked):
            period_locks.ensure_unlocked(1085, DAY, actor=None)


# --- The rule and the message ----------------------------------------------------------------------


def test_the_message_names_the_submission_when_and_who_can_unlock(app, users):
    submission = report_service.submit_report(*PERIOD, actor=users["admin"])
    with pytest.raises(Locked) as refusal:
        period_locks.ensure_unlocked(REGION, DAY, actor=users["ambassador"], field_name="start_date")
    message = str(refusal.value)
    submitted_on = submission.submitted_at.strftime("%d-%m-%Y")
    assert "1. halvår 2025" in message
    assert f"indsendt {submitted_on} af {users['admin'].display_name}" in message or "indsendt" in message
    assert users["admin"].display_name in message
    assert "administrator" in message and "genåbne" in message
    assert refusal.value.field == "start_date"


def test_a_national_activity_is_locked_and_reopened_as_national(app, users):
    submission = report_service.submit_report(*PERIOD, actor=users["admin"])
    assert period_locks.lock_for(None, DAY) is not None
    period_locks.reopen_period(submission, period_locks.NATIONAL, "Landsdækkende rettelse", actor=users["admin"])
    assert period_locks.lock_for(None, DAY) is None
    assert period_locks.lock_for(REGION, DAY) is not None


def test_submitting_again_relocks_every_reopening(app, users):
    submission = report_service.submit_report(*PERIOD, actor=users["admin"])
    reopening = period_locks.reopen_period(submission, str(REGION), "Rettelse", actor=users["admin"])
    assert period_locks.lock_for(REGION, DAY) is None
    report_service.submit_report(*PERIOD, actor=users["admin"])
    db.session.refresh(reopening)
    assert reopening.relocked_at is not None and reopening.relocked_by_id == users["admin"].id
    assert period_locks.lock_for(REGION, DAY) is not None


def test_lock_state_is_one_query_however_many_rows(app, users, count_queries):
    report_service.submit_report(*PERIOD, actor=users["admin"])
    with count_queries() as q:
        locks = period_locks.load_locks()
        for offset in range(500):
            locks.lock_for(REGION, DAY + timedelta(days=offset % 200))
    assert q.count == 1


def test_import_checks_many_rows_with_constant_queries(app, users, login_as, count_queries):
    from crm.services.importing import check_file
    from crm.services.stage_import import StageImporter

    report_service.submit_report(*PERIOD, actor=users["admin"])

    def body(n):
        return ("kommune;fase;dato;bemærkning\n" + "".join(
            f"{code};dialogue;{DAY_TEXT};\n" for code in (101, 147, 151, 153, 155, 157, 159, 161)[:n])).encode()

    check_file(StageImporter(users["ambassador"]), body(1), "f.csv")  # what is read once per process
    counts = []
    for n in (2, 8):
        with count_queries() as q:
            result = check_file(StageImporter(users["ambassador"]), body(n), "f.csv")
        counts.append(q.count)
        assert result.error_rows == n
    assert counts[0] == counts[1]


# --- Reopening: administrators only, with a reason; shown on the submission page ------------------------


@pytest.mark.parametrize("role", ["ambassador", "ambassador_b", "working_group"])
def test_only_administrators_reopen_and_relock(app, users, login_as, role):
    submission = report_service.submit_report(*PERIOD, actor=users["admin"])
    client = login_as(users[role])
    response = client.post(f"/rapporter/indsendelser/{submission.id}/genaabn",
                           data={"region": str(REGION), "reason": "Jeg vil rette"})
    assert response.status_code == 403
    assert _count(PeriodReopening) == 0
    with pytest.raises(Forbidden):
        period_locks.reopen_period(submission, str(REGION), "Jeg vil rette", actor=users[role])
    reopening = period_locks.reopen_period(submission, str(REGION), "Admin retter", actor=users["admin"])
    response = client.post(f"/rapporter/indsendelser/{submission.id}/genaabninger/{reopening.id}/laas")
    assert response.status_code == 403
    db.session.refresh(reopening)
    assert reopening.relocked_at is None
    page = client.get(f"/rapporter/indsendelser/{submission.id}").get_data(as_text=True)
    assert "Genåbn perioden for regionen" not in page and "Lås igen" not in page
    assert "Kun en administrator kan genåbne perioden." in page


def test_reopen_needs_a_reason_and_the_page_tells_the_whole_story(app, users, login_as):
    admin = login_as(users["admin"])
    submission = report_service.submit_report(*PERIOD, actor=users["admin"])
    url = f"/rapporter/indsendelser/{submission.id}"
    page = admin.get(url).get_data(as_text=True)
    assert "heller ikke administratorer" in page and "Genåbn perioden for regionen" in page

    missing = admin.post(url + "/genaabn", data={"region": str(REGION), "reason": " "})
    assert missing.status_code == 400 and _count(PeriodReopening) == 0

    assert admin.post(url + "/genaabn", data={"region": str(REGION), "reason": "STAR bad om rettelse"}).status_code == 302
    twice = admin.post(url + "/genaabn", data={"region": str(REGION), "reason": "Igen"})
    assert twice.status_code == 400 and "allerede genåbnet" in twice.get_data(as_text=True)
    reopening = db.session.scalar(select(PeriodReopening))
    assert (reopening.region_code, reopening.reason, reopening.opened_by_id) == (REGION, "STAR bad om rettelse",
                                                                                users["admin"].id)

    # A change while open: made by the ambassador, shown on the submission page (from the audit log).
    ambassador = login_as(users["ambassador"])
    assert ambassador.post("/aktiviteter/ny", data=_activity_form(title="Glemt møde")).status_code == 302
    # Another region's change in the same time is not the reopening's.
    ActivityFactory(start_date=date(2025, 9, 9), region_code=1085, title="Sjællandsk møde")

    page = admin.get(url).get_data(as_text=True)
    assert "STAR bad om rettelse" in page and "Region Hovedstaden" in page
    assert "Tallene er genåbnet 1 gang" in page
    # The activity and its municipality link: two entries of the log, both shown.
    assert "2 ændringer, mens perioden var åben" in page and "Glemt møde" in page
    assert "Sjællandsk møde" not in page
    assert "Åben" in page

    assert admin.post(f"{url}/genaabninger/{reopening.id}/laas").status_code == 302
    db.session.refresh(reopening)
    assert reopening.relocked_by_id == users["admin"].id and reopening.relocked_at is not None
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "period_reopening")).all()
    assert [e.action for e in entries] == ["create", "update"]  # the reopening and the re-lock are audited
    page = admin.get(url).get_data(as_text=True)
    assert "Lås igen" not in page
    # The lock is back: the ambassador is refused again.
    assert LOCK_WORDS in ambassador.post("/aktiviteter/ny", data=_activity_form(title="For sent")).get_data(as_text=True)


def test_locked_records_show_the_lock_and_hide_edit_and_delete(app, users, login_as):
    activity = ActivityFactory(start_date=DAY, region_code=REGION, title="Låst møde")
    open_activity = ActivityFactory(start_date=date(2025, 9, 1), region_code=REGION, title="Åbent møde")
    StageChangeFactory(municipality_code=MUNICIPALITY, stage="dialogue", effective_date=DAY)
    review = _review()
    report_service.submit_report(*PERIOD, actor=users["admin"])
    for role in ("ambassador", "admin"):
        client = login_as(users[role])
        page = client.get(f"/aktiviteter/{activity.id}").get_data(as_text=True)
        assert "Perioden 1. halvår 2025 er låst (indsendt" in page
        assert f"/aktiviteter/{activity.id}/rediger" not in page and f"/aktiviteter/{activity.id}/slet" not in page
        assert f"/aktiviteter/{open_activity.id}/rediger" in client.get(f"/aktiviteter/{open_activity.id}").text
        form = client.get(f"/aktiviteter/{activity.id}/rediger").get_data(as_text=True)
        assert "Perioden 1. halvår 2025 er låst" in form
        municipality = client.get(f"/kommuner/{MUNICIPALITY}").get_data(as_text=True)
        assert "Perioden 1. halvår 2025 er låst" in municipality and "/kommuner/faser/" not in municipality
        detail = client.get(f"/fidelitet/{review.id}").get_data(as_text=True)
        assert "Perioden 1. halvår 2025 er låst" in detail and f"/fidelitet/{review.id}/ret" not in detail


def test_the_refusal_is_shown_beside_the_date_field_with_the_input_kept(app, users, login_as):
    report_service.submit_report(*PERIOD, actor=users["admin"])
    client = login_as(users["ambassador"])
    page = client.post("/aktiviteter/ny", data=_activity_form(title="Mit møde")).get_data(as_text=True)
    assert "is-invalid" in page and LOCK_WORDS in page and "Mit møde" in page
    stage = client.post(f"/kommuner/{MUNICIPALITY}/faser", data={"stage-stage": "dialogue",
                                                                  "stage-effective_date": DAY_TEXT})
    assert stage.status_code == 400 and LOCK_WORDS in stage.get_data(as_text=True)
