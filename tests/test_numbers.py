"""Numbers the Danish way and forms that start where the user is (issue 14, items 1 and 2).

Typed numbers (``12,5`` and ``12.5``; ambiguous ones refused with the text kept), the confirmation
of implausible values, the stage form starting at the current stage and warning on a move
backwards, lists and forms starting in the ambassador's region, municipality pickers grouped by
region, and the warning for a municipality outside the activity's region.
"""
import html as html_lib
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Activity, StageChange
from crm.services.activities import MAX_PLAUSIBLE_HOURS_PER_DAY, MAX_PLAUSIBLE_PARTICIPANTS
from crm.formatting import NumberError, number_as_typed, parse_number
from crm.services.stages import stage_on
from tests import factories
from tests.test_activities import form

ROOT = Path(__file__).resolve().parent.parent
KBH, AARHUS = 101, 751  # København (Hovedstaden, 1084), Aarhus (Midtjylland, 1082)


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Activity))


def confirmation(html: str) -> str:
    """The value of the "Gem alligevel" checkbox on a form that came back with warnings."""
    tag = re.search(r'<input[^>]*name="confirm_warnings"[^>]*>', html).group(0)
    return html_lib.unescape(re.search(r'value="([^"]*)"', tag).group(1))


def input_tag(html: str, name: str) -> str:
    return re.search(r'<input[^>]*name="%s"[^>]*>' % re.escape(name), html).group(0)


# --- the rule --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, places, expected", [
    ("12,5", 2, Decimal("12.5")), ("12.5", 2, Decimal("12.5")), (" 2,25 ", 2, Decimal("2.25")),
    ("12", 2, Decimal("12")), ("0,125", 3, Decimal("0.125")), ("-1", 0, -1), ("1234", 0, 1234),
    ("\u2212" + "2", 0, -2), ("", 0, None), ("  ", 2, None), (None, 2, None),
])
def test_numbers_are_read_with_a_comma_or_a_point(text, places, expected):
    assert parse_number(text, places) == expected


@pytest.mark.parametrize("text, places, message", [
    ("1.234", 0, "Tvetydigt"), ("1,234", 2, "Tvetydigt"), ("12.500", 2, "Tvetydigt"), ("1.234,5", 2, "Tvetydigt"),
    ("1,234.5", 2, "Tvetydigt"), ("1 234", 0, "Tvetydigt"), ("12,5", 0, "helt tal"), ("2,255", 2, "Tvetydigt"),
    ("0,255", 2, "Højst 2 decimaler"), ("to", 2, "Skriv et tal"), ("12a", 0, "Skriv et helt tal"),
    ("1e3", 2, "Skriv et tal"), ("NaN", 2, "Skriv et tal"), ("Infinity", 2, "Skriv et tal"), ("9" * 30, 0, "helt tal"),
    ("١٢", 0, "helt tal"),  # Arabic-Indic digits are not what anyone types here
])
def test_ambiguous_or_unreadable_numbers_are_refused(text, places, message):
    with pytest.raises(NumberError, match=message):
        parse_number(text, places)


@pytest.mark.parametrize("value, text", [(Decimal("2.50"), "2,5"), (Decimal("12.00"), "12"), (7, "7"), (None, ""),
                                         (Decimal("0.25"), "0,25")])
def test_stored_numbers_are_shown_the_way_they_are_typed(value, text):
    assert number_as_typed(value) == text


def test_no_number_input_or_number_field_anywhere():
    """Every count and decimal goes through DanishNumberField; nothing renders type=number."""
    offenders = []
    for path in (ROOT / "crm").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"\b(IntegerField|DecimalField|FloatField|IntegerRangeField|DecimalRangeField|NumberInput)\b",
                     text):
            offenders.append(str(path.relative_to(ROOT)))
    for path in (ROOT / "templates").rglob("*.html"):
        if re.search(r"type=[\"']?number", path.read_text(encoding="utf-8")):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# --- the activity form -----------------------------------------------------------------------------


def test_activity_number_inputs_are_text_inputs_for_danish_typing(app, users, login_as):
    html = login_as(users["ambassador"]).get("/aktiviteter/ny").text
    hours = input_tag(html, "hours")
    assert 'type="text"' in hours and 'inputmode="decimal"' in hours
    for name in ("participants", "participants_municipality", "participants_staff", "sessions"):
        tag = input_tag(html, name)
        assert 'type="text"' in tag and 'inputmode="numeric"' in tag, tag
    assert 'type="number"' not in html


@pytest.mark.parametrize("typed", ["10,5", "10.5"])
def test_hours_typed_with_a_comma_or_a_point_are_ten_and_a_half(app, users, login_as, typed):
    client = login_as(users["ambassador"])
    response = client.post("/aktiviteter/ny", data=form(hours=typed, type="supervision"))
    assert response.status_code == 302
    activity = db.session.scalar(select(Activity))
    assert activity.hours == Decimal("10.5")
    edit = client.get(f"/aktiviteter/{activity.id}/rediger").text
    assert 'value="10,5"' in input_tag(edit, "hours")
    assert "10,5 timer" in client.get(f"/aktiviteter/{activity.id}").text


@pytest.mark.parametrize("field, typed, message", [
    ("hours", "1.234", "Tvetydigt tal"), ("hours", "1.234,5", "Tvetydigt tal"), ("hours", "2,255", "Tvetydigt"),
    ("participants", "1.200", "Tvetydigt tal"), ("participants", "12,5", "Skriv et helt tal"),
    ("participants_staff", "ti", "Skriv et helt tal"),
])
def test_ambiguous_numbers_are_refused_beside_the_field_with_the_text_kept(app, users, login_as, field, typed,
                                                                            message):
    response = login_as(users["ambassador"]).post("/aktiviteter/ny", data=form(**{field: typed}))
    html = response.text
    assert response.status_code == 200 and count() == 0
    tag = input_tag(html, field)
    assert "is-invalid" in tag and f'value="{typed}"' in tag
    assert message in html[html.index(tag):][:1500]


def test_implausible_hours_ask_for_confirmation_before_saving(app, users, login_as):
    client = login_as(users["ambassador"])
    data = form(type="supervision", hours="125")
    first = client.post("/aktiviteter/ny", data=data)
    assert first.status_code == 200 and count() == 0
    assert "Gem alligevel" in first.text and 'value="125"' in input_tag(first.text, "hours")
    assert f"Over {MAX_PLAUSIBLE_HOURS_PER_DAY} timer" in first.text
    # A confirmation given for another value does not cover a changed one.
    changed = client.post("/aktiviteter/ny", data={**form(type="supervision", hours="130"),
                                                   "confirm_warnings": confirmation(first.text)})
    assert changed.status_code == 200 and count() == 0 and "Gem alligevel" in changed.text
    saved = client.post("/aktiviteter/ny", data={**data, "confirm_warnings": confirmation(first.text)})
    assert saved.status_code == 302
    assert db.session.scalar(select(Activity)).hours == Decimal("125")


def test_hours_over_several_days_are_plausible(app, users, login_as):
    client = login_as(users["ambassador"])
    response = client.post("/aktiviteter/ny", data=form(type="conference", hours="20", end_date="06-03-2025"))
    assert response.status_code == 302  # 2 days × 12 hours


def test_implausible_participants_ask_for_confirmation(app, users, login_as):
    client = login_as(users["ambassador"])
    too_many = str(MAX_PLAUSIBLE_PARTICIPANTS + 1)
    data = form(participants=too_many, participants_municipality="7", participants_psychiatry="5",
                participants_staff="10", participants_managers="2")
    first = client.post("/aktiviteter/ny", data=data)
    assert first.status_code == 200 and count() == 0 and "Gem alligevel" in first.text
    assert client.post("/aktiviteter/ny", data={**data, "confirm_warnings": confirmation(first.text)}).status_code == 302
    assert db.session.scalar(select(Activity)).participants == MAX_PLAUSIBLE_PARTICIPANTS + 1
    plausible = client.post("/aktiviteter/ny", data=form(participants=str(MAX_PLAUSIBLE_PARTICIPANTS)))
    assert plausible.status_code == 302


def test_editing_keeps_asking_for_confirmation(app, users, login_as):
    activity = factories.ActivityFactory(region_code=1084, hours=Decimal("2"), type="supervision")
    client = login_as(users["ambassador"])
    data = {**form(type="supervision", hours="99"), "version": str(activity.version)}
    first = client.post(f"/aktiviteter/{activity.id}/rediger", data=data)
    assert first.status_code == 200 and "Gem alligevel" in first.text
    db.session.refresh(activity)
    assert activity.hours == Decimal("2")
    saved = client.post(f"/aktiviteter/{activity.id}/rediger", data={**data, "confirm_warnings": confirmation(first.text)})
    assert saved.status_code == 302
    db.session.refresh(activity)
    assert activity.hours == Decimal("99")


def test_report_year_is_a_text_input(app, users, login_as):
    client = login_as(users["working_group"])
    html = client.get("/rapporter/").text
    assert 'inputmode="numeric"' in input_tag(html, "year") and 'type="number"' not in html
    assert client.get("/rapporter/?year=2.025&half=1").status_code in (200, 400)


def test_messages_and_confirmation_in_english(app, users, login_as):
    users["ambassador"].locale = "en"
    db.session.commit()
    client = login_as(users["ambassador"])
    refused = client.post("/aktiviteter/ny", data=form(hours="1.234")).text
    assert "Ambiguous number: write it without a thousands separator, e.g. 1234 or 1234.5." in refused
    asked = client.post("/aktiviteter/ny", data=form(type="supervision", hours="125")).text
    assert "Save anyway" in asked and "Over 12 hours on one day" in asked and count() == 0
