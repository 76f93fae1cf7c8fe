"""The personal iCalendar feed, read back with a second, independent parser (vobject, not icalendar):
events, UIDs, time zone, escaping; updates keep the UID and raise SEQUENCE; deletes disappear;
nobody sees another region's activities they may not read; a reset token stops working."""
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import vobject

from crm.clock import local_today
from crm.extensions import db
from crm.models import Activity, Municipality, Task
from crm.services import calendar_feed
from tests import factories

CPH = ZoneInfo("Europe/Copenhagen")
TODAY = local_today()
SOON = TODAY + timedelta(days=14)
TRICKY_TITLE = "Dialogmøde i Ærø, Åbenrå; og Æblegården\nanden linje"
TRICKY_LOCATION = "Rådhuset, 2. sal; lokale \"Øst\""


def _parse(body: bytes):
    """The feed as parsed by vobject: (calendar, {uid: vevent})."""
    cal = vobject.readOne(body.decode("utf-8"))
    events = {ev.uid.value: ev for ev in getattr(cal, "vevent_list", [])}
    return cal, events


def _feed(client, user, **args):
    if not user.calendar_token:
        user.reset_calendar_token()
        db.session.commit()
    response = client.get(f"/kalender/feed/{user.calendar_token}.ics", query_string=args)
    assert response.status_code == 200, response.status_code
    return response


@pytest.fixture
def data(app, users):
    """Activities in regions A (1084), B (1085) and national; open tasks (next steps) in A and B and
    a done one in A; a fidelity review due."""
    own = factories.ActivityFactory(
        region_code=1084, title=TRICKY_TITLE, location=TRICKY_LOCATION, start_date=SOON,
        start_time=time(9, 0), end_time=time(11, 30), type="dialogue_meeting", note="Husk kaffe, kage\nog ølsmagning",
    )
    own.municipalities = [db.session.get(Municipality, 101), db.session.get(Municipality, 147)]
    db.session.commit()
    national = factories.ActivityFactory(region_code=None, title="Landsmøde", start_date=SOON + timedelta(days=1),
                                         end_date=SOON + timedelta(days=2), type="conference")
    other = factories.ActivityFactory(region_code=1085, title="Sjællandsk kursus", start_date=SOON, type="course")
    step_a = factories.TaskFactory(municipality_code=101, text="Ring til jobcenterchefen, igen",
                                   due_date=SOON + timedelta(days=3))
    step_b = factories.TaskFactory(municipality_code=253, text="Møde i Greve", due_date=SOON)
    done = factories.TaskFactory(municipality_code=101, text="Allerede gjort", due_date=SOON, status="done")
    # Plan signed 11 months ago in Frederiksberg (A) and Greve (B): first fidelity review due in a month.
    signed = date(TODAY.year - 1, TODAY.month, 1) + timedelta(days=31)
    factories.StageChangeFactory(municipality_code=147, stage="plan_signed", effective_date=signed)
    factories.StageChangeFactory(municipality_code=253, stage="plan_signed", effective_date=signed)
    return {"own": own, "national": national, "other": other, "step_a": f"task-{step_a.id}@ips-crm",
            "step_b": f"task-{step_b.id}@ips-crm", "done": f"task-{done.id}@ips-crm"}


def test_feed_parses_with_a_second_parser_with_timezone_uids_and_escaping(client, users, data):
    response = _feed(client, users["ambassador"])
    assert response.mimetype == "text/calendar"
    assert "charset=utf-8" in response.headers["Content-Type"]
    cal, events = _parse(response.data)

    own = data["own"]
    uid = f"activity-{own.id}@ips-crm"
    assert uid in events
    event = events[uid]
    # Escaping: Danish letters, commas, semicolons and newlines survive the round trip.
    assert event.summary.value == TRICKY_TITLE
    assert event.location.value == TRICKY_LOCATION
    assert "Kommuner: Frederiksberg, København" in event.description.value
    assert "Husk kaffe, kage\nog ølsmagning" in event.description.value
    assert f"/aktiviteter/{own.id}" in event.description.value
    assert event.url.value.endswith(f"/aktiviteter/{own.id}")
    # Time zone: local wall-clock times in Europe/Copenhagen, with its VTIMEZONE in the file.
    assert cal.vtimezone.tzid.value == "Europe/Copenhagen"
    assert event.dtstart.params["X-VOBJ-ORIGINAL-TZID"] == ["Europe/Copenhagen"]  # vobject's record of TZID
    start, end = event.dtstart.value, event.dtend.value
    assert start.utcoffset() == datetime.combine(SOON, time(9), tzinfo=CPH).utcoffset()
    assert (start.date(), start.time(), end.time()) == (SOON, time(9, 0), time(11, 30))
    assert event.sequence.value == "0"
    assert event.dtstamp.value.tzinfo is not None
    raw = response.data.decode("utf-8")
    assert "DTSTART;TZID=Europe/Copenhagen:" in raw
    assert "\\, " in raw and "\\;" in raw and "\\n" in raw  # RFC 5545 text escaping on the wire
    assert all(len(line.encode("utf-8")) <= 75 for line in raw.split("\r\n"))  # folded lines

    # An activity without a time is an all-day event (VALUE=DATE), DTEND exclusive.
    national = events[f"activity-{data['national'].id}@ips-crm"]
    assert national.dtstart.value == SOON + timedelta(days=1)
    assert national.dtend.value == SOON + timedelta(days=3)
    assert national.dtstart.params.get("VALUE") == ["DATE"]

    # Next steps and fidelity reviews due: all-day events with their own stable UIDs.
    step = events[data["step_a"]]
    assert data["done"] not in events  # a done task is no longer due
    assert step.dtstart.value == SOON + timedelta(days=3)
    assert step.summary.value == "Næste skridt: København"
    assert "Ring til jobcenterchefen, igen" in step.description.value
    review_uids = [u for u in events if u.startswith("fidelity-due-147-")]
    assert len(review_uids) == 1
    assert events[review_uids[0]].summary.value == "Fidelitetsmåling forfalder: Frederiksberg"


def test_ambassador_sees_own_region_and_national_only(client, users, data):
    _cal, events = _parse(_feed(client, users["ambassador"]).data)
    assert f"activity-{data['own'].id}@ips-crm" in events
    assert f"activity-{data['national'].id}@ips-crm" in events
    assert f"activity-{data['other'].id}@ips-crm" not in events
    assert data["step_b"] not in events
    assert not [u for u in events if u.startswith("fidelity-due-253-")]
    # Asking for another region is ignored, never a way around the rule.
    _cal, events = _parse(_feed(client, users["ambassador"], region=1085).data)
    assert f"activity-{data['other'].id}@ips-crm" not in events
    assert f"activity-{data['own'].id}@ips-crm" in events


@pytest.mark.parametrize("role", ["working_group", "admin"])
def test_working_group_and_admin_see_everything_and_can_filter(client, users, data, role):
    user = users[role]
    _cal, events = _parse(_feed(client, user).data)
    for key in ("own", "national", "other"):
        assert f"activity-{data[key].id}@ips-crm" in events
    assert {data["step_a"], data["step_b"]} <= set(events)

    _cal, events = _parse(_feed(client, user, region=1085).data)
    assert f"activity-{data['other'].id}@ips-crm" in events
    assert f"activity-{data['own'].id}@ips-crm" not in events
    assert f"activity-{data['national'].id}@ips-crm" not in events
    assert data["step_b"] in events and data["step_a"] not in events

    _cal, events = _parse(_feed(client, user, region="national").data)
    assert set(events) == {f"activity-{data['national'].id}@ips-crm"}

    _cal, events = _parse(_feed(client, user, type="course").data)
    assert set(events) == {f"activity-{data['other'].id}@ips-crm"}


def test_updated_activity_keeps_uid_and_raises_sequence_and_deleted_disappears(client, users, data):
    user = users["ambassador"]
    own = data["own"]
    uid = f"activity-{own.id}@ips-crm"
    _cal, before = _parse(_feed(client, user).data)
    own.title = "Nyt navn"
    db.session.commit()
    own.location = "Jobcentret"
    db.session.commit()
    _cal, after = _parse(_feed(client, user).data)
    assert after[uid].summary.value == "Nyt navn"
    assert int(after[uid].sequence.value) == int(before[uid].sequence.value) + 2

    db.session.delete(db.session.get(Activity, own.id))
    db.session.commit()
    _cal, gone = _parse(_feed(client, user).data)
    assert uid not in gone
    assert f"activity-{data['national'].id}@ips-crm" in gone


def test_unknown_and_reset_tokens_give_404(client, users, data):
    user = users["ambassador"]
    _feed(client, user)
    old = user.calendar_token
    assert client.get("/kalender/feed/not-a-real-token-at-all-123456.ics").status_code == 404
    assert client.get("/kalender/feed/x.ics").status_code == 404
    wrong = old[:-1] + ("A" if old[-1] != "A" else "B")
    assert client.get(f"/kalender/feed/{wrong}.ics").status_code == 404
    user.reset_calendar_token()
    db.session.commit()
    assert client.get(f"/kalender/feed/{old}.ics").status_code == 404
    assert client.get(f"/kalender/feed/{user.calendar_token}.ics").status_code == 200
    user.active = False
    db.session.commit()
    assert client.get(f"/kalender/feed/{user.calendar_token}.ics").status_code == 404


def test_feed_needs_no_login_but_leaks_nothing_without_a_token(client, users, data):
    response = client.get("/kalender/feed/.ics")
    assert response.status_code == 404
    assert b"BEGIN:VCALENDAR" not in response.data


def test_feed_query_count_is_constant(client, users, data, count_queries):
    user = users["admin"]
    url = _feed(client, user).request.path
    with count_queries() as small:
        assert client.get(url).status_code == 200
    for n in range(15):
        activity = factories.ActivityFactory(region_code=1084 if n % 2 else None, start_date=SOON,
                                             start_time=time(10), title=f"Ekstra {n}")
        activity.municipalities = [db.session.get(Municipality, 101), db.session.get(Municipality, 147)]
        code = (165, 151, 153, 157, 159, 161, 163, 167, 169, 173, 175, 183, 185, 187, 190)[n]
        db.session.add(Task(municipality_code=code, text=f"Opgave {n}", due_date=SOON))
    db.session.commit()
    with count_queries() as large:
        response = client.get(url)
    assert response.data.count(b"BEGIN:VEVENT") >= 30
    assert large.count == small.count


def test_activity_download_is_a_single_event(login_as, users, data):
    client = login_as(users["working_group"])
    response = client.get(f"/kalender/aktivitet/{data['other'].id}.ics")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    cal, events = _parse(response.data)
    assert list(events) == [f"activity-{data['other'].id}@ips-crm"]
    assert events[f"activity-{data['other'].id}@ips-crm"].summary.value == "Sjællandsk kursus"
    assert login_as(users["working_group"]).get("/kalender/aktivitet/999999.ics").status_code == 404


def test_activity_download_needs_login(client, data):
    response = client.get(f"/kalender/aktivitet/{data['own'].id}.ics")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_public_base_url_is_used_for_links(app, users, data):
    app.config["PUBLIC_BASE_URL"] = "https://crm.example.dk/ips"
    body = calendar_feed.user_feed(users["ambassador"], _Args(), today=TODAY)
    _cal, events = _parse(body)
    event = events[f"activity-{data['own'].id}@ips-crm"]
    assert event.url.value == f"https://crm.example.dk/ips/aktiviteter/{data['own'].id}"


class _Args(dict):
    """A query-args stand-in with ``getlist`` (as Werkzeug's MultiDict has)."""

    def getlist(self, key):
        value = self.get(key)
        return [] if value is None else [value]


# Text that would break an iCalendar file (or inject a property) if written as it is.
HOSTILE_TEXTS = [
    "Møde\r\nATTENDEE:mailto:angriber@example.com",
    "Første linje\nanden linje",
    "Kun CR\rEND:VCALENDAR",
    "Escape \x1b[31mrød\x7f og \x0bvt\x08",
    "Æøå " * 74 + "slut",  # 300 characters of non-ASCII: folded across many lines
]
NUL_TEXT = "Nul\x00tegn\r\nDTSTART:19700101"  # PostgreSQL stores no NUL: tested on the service alone
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _unfolded_lines(raw: str) -> list[str]:
    """The content lines of a calendar file, with RFC 5545 folding undone."""
    return raw.replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")


def _assert_well_formed(raw_bytes: bytes) -> list[str]:
    """Every physical line within 75 octets, no control character except the CRLF line breaks,
    and the lines are only the properties we write (nothing injected). Returns the content lines."""
    raw = raw_bytes.decode("utf-8")
    assert raw.endswith("\r\n")
    physical = raw.split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in physical)
    assert not any(CONTROL_CHARACTERS.search(line) for line in physical)
    lines = _unfolded_lines(raw)
    names = {line.split(":", 1)[0].split(";", 1)[0] for line in lines if line}
    assert "ATTENDEE" not in names and lines.count("END:VCALENDAR") == 1
    return lines


def _expected_text(text: str) -> str:
    """What a calendar shows: line breaks kept (as escaped newlines), other control characters gone."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(CONTROL_CHARACTERS.sub("", line) for line in lines)


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_activity_download_with_hostile_text_is_a_valid_calendar(login_as, users, app, text):
    activity = factories.ActivityFactory(region_code=1084, title=text, location=text, note=text * 20,
                                         start_date=SOON, start_time=time(9, 0))
    response = login_as(users["ambassador"]).get(f"/kalender/aktivitet/{activity.id}.ics")
    assert response.status_code == 200
    _assert_well_formed(response.data)
    _cal, events = _parse(response.data)
    [event] = events.values()
    assert event.summary.value == _expected_text(text)
    assert event.location.value == _expected_text(text)
    assert _expected_text(text * 20) in event.description.value


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_feed_with_hostile_text_is_a_valid_calendar(client, users, app, text):
    users["ambassador"].name = text[:120]
    factories.ActivityFactory(region_code=1084, title=text, location=text, start_date=SOON)
    task = factories.TaskFactory(municipality_code=101, text=text, due_date=SOON, owner=users["ambassador"])
    db.session.commit()
    response = _feed(client, users["ambassador"])
    lines = _assert_well_formed(response.data)
    calname = next(line for line in lines if line.startswith("X-WR-CALNAME:"))
    assert "\\n" not in calname  # a calendar's name is one line
    _cal, events = _parse(response.data)
    assert {event.summary.value for event in events.values()} >= {_expected_text(text)}
    assert _expected_text(text) in events[f"task-{task.id}@ips-crm"].description.value


def test_nul_and_line_breaks_never_reach_the_calendar_file(app, users):
    """A NUL cannot be stored in PostgreSQL, so it is put on a loaded activity without saving it."""
    activity = factories.ActivityFactory(region_code=1084, title="Pænt", start_date=SOON)
    users["ambassador"].name = NUL_TEXT
    with db.session.no_autoflush:
        activity.title = activity.location = activity.note = NUL_TEXT
        body = calendar_feed.activity_ics(activity)
        feed = calendar_feed.user_feed(users["ambassador"], _Args(), today=TODAY)
    db.session.rollback()
    for raw in (body, feed):
        lines = _assert_well_formed(raw)
        assert sum(line.startswith("DTSTART") for line in lines) == 1
    _cal, events = _parse(body)
    [event] = events.values()
    assert event.summary.value == "Nultegn\nDTSTART:19700101"
