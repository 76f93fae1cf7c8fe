"""Importing an Outlook .ics export: recurring events expanded within the range, Danish text,
guessed types and municipalities, the user's choice, and nothing created twice."""
import io
from datetime import date, time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Activity
from crm.services import auto_notes, ics_import

UID = "040000008200E00074C5B7101A82E00800000000D0F4A7C1C3A5DA01000000000000000010000000F2D3"
# As Outlook exports it: Windows time zone name with its VTIMEZONE, CRLF lines, a weekly series
# with one cancelled (EXDATE) and one moved (RECURRENCE-ID) occurrence, and a one-off all-day event.
OUTLOOK_ICS = "\r\n".join([
    "BEGIN:VCALENDAR",
    "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
    "VERSION:2.0",
    "METHOD:PUBLISH",
    "X-WR-CALNAME:Kalender",
    "BEGIN:VTIMEZONE",
    "TZID:Romance Standard Time",
    "BEGIN:STANDARD",
    "DTSTART:16011028T030000",
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "END:STANDARD",
    "BEGIN:DAYLIGHT",
    "DTSTART:16010325T020000",
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "END:DAYLIGHT",
    "END:VTIMEZONE",
    "BEGIN:VEVENT",
    f"UID:{UID}",
    "SUMMARY:Supervision af IPS-teamet i Køge",
    "DTSTART;TZID=Romance Standard Time:20260302T130000",
    "DTEND;TZID=Romance Standard Time:20260302T150000",
    "RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260427T110000Z",
    "EXDATE;TZID=Romance Standard Time:20260406T130000",
    "LOCATION:Jobcenter Køge\\, mødelokale Ø",
    "DESCRIPTION:Med deltagere fra Stevns og Faxe.\\nHusk æbleskiver.",
    "DTSTAMP:20260201T090000Z",
    "END:VEVENT",
    "BEGIN:VEVENT",
    f"UID:{UID}",
    "RECURRENCE-ID;TZID=Romance Standard Time:20260316T130000",
    "SUMMARY:Supervision af IPS-teamet i Køge (flyttet)",
    "DTSTART;TZID=Romance Standard Time:20260317T140000",
    "DTEND;TZID=Romance Standard Time:20260317T163000",
    "DTSTAMP:20260201T090000Z",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "UID:single-aarhus-1",
    "SUMMARY:Dialogmøde med Aarhus Kommune om IPS",
    "DTSTART;VALUE=DATE:20260310",
    "DTEND;VALUE=DATE:20260311",
    "DTSTAMP:20260201T090000Z",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "UID:long-ago",
    "SUMMARY:Gammelt kursus",
    "DTSTART:20250101T100000Z",
    "DTEND:20250101T110000Z",
    "DTSTAMP:20250101T090000Z",
    "END:VEVENT",
    "END:VCALENDAR",
    "",
]).encode("utf-8")

MONDAYS = [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 23), date(2026, 3, 30),
           date(2026, 4, 13), date(2026, 4, 20), date(2026, 4, 27)]  # 6 April cancelled, 16 March moved


def _activity_count() -> int:
    return db.session.scalar(select(func.count(Activity.id)))


def test_recurring_series_is_expanded_within_the_range(app):
    proposals = ics_import.read_events(OUTLOOK_ICS, date(2026, 3, 1), date(2026, 4, 30))
    series = [p for p in proposals if p.key.startswith(f"ics:{UID}:")]
    assert sorted(p.start_date for p in series) == sorted(MONDAYS + [date(2026, 3, 17)])
    assert len({p.key for p in series}) == 8
    regular = next(p for p in series if p.start_date == date(2026, 3, 9))
    assert regular.key == f"ics:{UID}:20260309T130000"
    assert (regular.start_time, regular.end_time, regular.hours) == (time(13), time(15), Decimal("2.00"))
    assert regular.title == "Supervision af IPS-teamet i Køge"
    assert regular.location == "Jobcenter Køge, mødelokale Ø"
    assert regular.type == "supervision"
    assert regular.municipality_codes == [259, 336, 320]  # Køge, Stevns, Faxe in order of mention
    moved = next(p for p in series if p.start_date == date(2026, 3, 17))
    assert moved.key == f"ics:{UID}:20260316T130000"  # the occurrence it replaces, so it is stable
    assert (moved.start_time, moved.hours) == (time(14), Decimal("2.50"))
    single = next(p for p in proposals if p.key == "ics:single-aarhus-1")
    assert (single.start_date, single.end_date, single.start_time, single.hours) == (date(2026, 3, 10), None, None, None)
    assert single.type == "dialogue_meeting"
    assert single.municipality_codes == [751]
    assert not [p for p in proposals if "long-ago" in p.key]
    assert len(proposals) == 9

    narrow = ics_import.read_events(OUTLOOK_ICS, date(2026, 3, 1), date(2026, 3, 10))
    assert sorted(p.start_date for p in narrow) == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 10)]


def test_importing_twice_creates_nothing_the_second_time(app, users):
    user = users["ambassador"]
    proposals = ics_import.read_events(OUTLOOK_ICS, date(2026, 3, 1), date(2026, 4, 30))
    created, skipped = ics_import.create_activities(proposals, 1084, actor=user)
    assert (len(created), skipped) == (9, 0)
    assert _activity_count() == 9
    stored = db.session.scalar(select(Activity).where(Activity.import_key == f"ics:{UID}:20260309T130000"))
    assert stored.note_kind == auto_notes.CALENDAR_IMPORT  # the mark is an automatic note, in the reader's language
    assert "Husk æbleskiver." in stored.note
    assert [m.name for m in stored.municipalities] == ["Faxe", "Køge", "Stevns"]
    assert (stored.region_code, stored.created_by_id, stored.type) == (1084, user.id, "supervision")

    again = ics_import.read_events(OUTLOOK_ICS, date(2026, 1, 1), date(2026, 6, 30))
    assert all(p.already_imported for p in again)
    created, skipped = ics_import.create_activities(again, 1084, actor=user)
    assert (created, skipped) == ([], 9)
    assert _activity_count() == 9


@pytest.mark.parametrize("text, expected", [
    ("Dialogmøde med jobcentret", "dialogue_meeting"),
    ("IPS-dialogmøde", "dialogue_meeting"),
    ("Supervision af team", "supervision"),
    ("Fagligt netværk for IPS-konsulenter", "professional_network"),
    ("Ledernetværk, region Syd", "management_network"),
    ("Kursus i IPS-metoden", "course"),
    ("Undervisning af nye medarbejdere", "course"),
    ("Temakursus", "course"),
    ("Konference om beskæftigelse", "conference"),
    ("Webinar: IPS på 30 minutter", "webinar"),
    ("Frokost", "other"),
])
def test_type_guess_from_danish_keywords(text, expected):
    assert ics_import.guess_type(text) == expected


def test_municipality_guess_respects_word_boundaries_on_danish_letters(app):
    guess = ics_import.guess_municipalities
    assert guess("Møde i Ærøskøbing") == []  # "Ærø" inside a longer word is not Ærø
    assert guess("Møde på Ærø") == [492]
    assert guess("Københavns Kommune og Frederiksberg") == [101, 147]
    assert guess("en skive brød og en odder") == []  # lower-case common words are not names
    assert guess("Skive og Odder") == [779, 727]
    assert guess("Høje Taastrup") == [169]  # a known variant spelling


def test_broken_file_and_bad_range_are_reported(app):
    with pytest.raises(ics_import.IcsError):
        ics_import.read_events(b"this is not a calendar", date(2026, 1, 1), date(2026, 2, 1))
    with pytest.raises(ics_import.IcsError):
        ics_import.read_events(OUTLOOK_ICS, date(2026, 2, 1), date(2026, 1, 1))


def _upload(client, **fields):
    data = {"start": "01-03-2026", "end": "30-04-2026", "file": (io.BytesIO(OUTLOOK_ICS), "kalender.ics")}
    data.update(fields)
    return client.post("/kalender/import", data=data, content_type="multipart/form-data")


def _hidden(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def test_upload_preview_confirm_then_again_creates_nothing(app, users, login_as):
    client = login_as(users["ambassador"])
    response = _upload(client)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Supervision af IPS-teamet i Køge" in html
    assert html.count('name="selected"') == 9
    form = {"token": _hidden(html, "token"), "start": "2026-03-01", "end": "2026-04-30", "region": "",
            "selected": [f"ics:{UID}:20260302T130000", "ics:single-aarhus-1"],
            f"type:ics:{UID}:20260302T130000": "course"}
    response = client.post("/kalender/import/bekraeft", data=form)
    assert response.status_code == 302
    assert _activity_count() == 2
    chosen = db.session.scalar(select(Activity).where(Activity.import_key == f"ics:{UID}:20260302T130000"))
    assert chosen.type == "course"  # the user's choice wins over the guess
    assert chosen.region_code == 1084  # an ambassador's imports belong to their region

    html = _upload(client).get_data(as_text=True)
    assert html.count('name="selected"') == 7  # the two created are shown as imported before
    assert html.count("Importeret før") == 2
    every = [f"ics:{UID}:20260302T130000", "ics:single-aarhus-1"]
    response = client.post("/kalender/import/bekraeft", data={**form, "token": _hidden(html, "token"), "selected": every})
    assert response.status_code == 302
    assert _activity_count() == 2


def test_upload_errors_are_shown_beside_the_field(app, users, login_as):
    client = login_as(users["ambassador"])
    response = _upload(client, file=(io.BytesIO(b"not ics"), "x.ics"))
    assert response.status_code == 200
    assert "kunne ikke læses" in response.get_data(as_text=True)
    response = _upload(client, start="31-02-2026")
    assert "Ugyldig dato" in response.get_data(as_text=True)
    response = client.post("/kalender/import", data={"start": "01-03-2026", "end": "30-04-2026"},
                           content_type="multipart/form-data")
    assert "Vælg en .ics-fil." in response.get_data(as_text=True)
    assert _activity_count() == 0


def test_confirm_with_a_stale_or_foreign_token_creates_nothing(app, users, login_as):
    html = _upload(login_as(users["ambassador"])).get_data(as_text=True)
    token = _hidden(html, "token")
    other = login_as(users["admin"])  # another user cannot use someone else's upload
    response = other.post("/kalender/import/bekraeft", data={
        "token": token, "start": "2026-03-01", "end": "2026-04-30", "selected": ["ics:single-aarhus-1"]})
    assert response.status_code == 302
    assert _activity_count() == 0
    assert other.post("/kalender/import/bekraeft", data={"token": "../../etc/passwd"}).status_code == 400


def test_import_is_refused_to_the_working_group(app, users, login_as):
    client = login_as(users["working_group"])
    assert client.get("/kalender/import").status_code == 403
    assert _upload(client).status_code == 403
    assert client.post("/kalender/import/bekraeft", data={}).status_code == 403


def test_admin_chooses_the_region(app, users, login_as):
    client = login_as(users["admin"])
    html = _upload(client, region="1082").get_data(as_text=True)
    response = client.post("/kalender/import/bekraeft", data={
        "token": _hidden(html, "token"), "start": "2026-03-01", "end": "2026-04-30", "region": "1082",
        "selected": ["ics:single-aarhus-1"]})
    assert response.status_code == 302
    assert db.session.scalar(select(Activity.region_code)) == 1082
