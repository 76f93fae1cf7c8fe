"""Forms and lists that start where the user is (issue 14, item 2): the stage form at the current
stage with a warning on a move backwards, an ambassador's lists in their own region with one click
to the whole country, municipality pickers grouped by region, and the warning for a municipality
outside the activity's region."""
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from crm.clock import local_today
from crm.extensions import db
from crm.models import Activity, StageChange
from crm.services.stages import stage_on
from tests import factories
from tests.test_activities import form
from tests.test_numbers import confirmation

KBH, AARHUS, GREVE = 101, 751, 253  # Hovedstaden (1084), Midtjylland (1082), Sjælland (1085)
TODAY = local_today()


def rows(html: str) -> list[str]:
    """Municipality names in the list's rows."""
    return re.findall(r'<th scope="row"><a href="/kommuner/\d+">([^<]+)</a>', html)


def selected_option(html: str, select_id: str) -> str:
    select = re.search(r'<select[^>]*id="%s"[^>]*>(.*?)</select>' % re.escape(select_id), html, re.S).group(1)
    match = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', select)
    return match.group(1) or match.group(2)


# --- the stage form --------------------------------------------------------------------------------


def test_stage_form_starts_at_the_current_stage(app, users, login_as):
    factories.StageChangeFactory(municipality_code=KBH, stage="plan_in_progress",
                                 effective_date=TODAY - timedelta(days=10))
    html = login_as(users["ambassador"]).get(f"/kommuner/{KBH}").text
    assert selected_option(html, "stage-stage") == "plan_in_progress"


def test_stage_move_backwards_asks_for_confirmation(app, users, login_as):
    factories.StageChangeFactory(municipality_code=KBH, stage="plan_signed", effective_date=TODAY - timedelta(days=10))
    client = login_as(users["ambassador"])
    data = {"stage-stage": "dialogue", "stage-effective_date": TODAY.strftime("%d-%m-%Y"), "stage-note": "Ny leder"}
    first = client.post(f"/kommuner/{KBH}/faser", data=data)
    assert first.status_code == 200 and "Gem alligevel" in first.text and "tilbage" in first.text
    assert stage_on(KBH, TODAY).stage == "plan_signed"
    assert selected_option(first.text, "stage-stage") == "dialogue" and "Ny leder" in first.text  # input kept
    saved = client.post(f"/kommuner/{KBH}/faser", data={**data, "confirm_warnings": confirmation(first.text)})
    assert saved.status_code == 302
    assert stage_on(KBH, TODAY).stage == "dialogue"


def test_stage_move_forwards_or_to_paused_needs_no_confirmation(app, users, login_as):
    factories.StageChangeFactory(municipality_code=KBH, stage="dialogue", effective_date=TODAY - timedelta(days=10))
    client = login_as(users["ambassador"])
    data = {"stage-stage": "paused", "stage-effective_date": (TODAY - timedelta(days=5)).strftime("%d-%m-%Y")}
    assert client.post(f"/kommuner/{KBH}/faser", data=data).status_code == 302
    data = {"stage-stage": "dialogue", "stage-effective_date": TODAY.strftime("%d-%m-%Y")}  # resumed, not backwards
    assert client.post(f"/kommuner/{KBH}/faser", data=data).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(StageChange)) == 3


# --- lists start in the ambassador's region -----------------------------------------------------------


def test_ambassador_municipality_list_starts_in_their_region(app, users, login_as):
    client = login_as(users["ambassador"])
    html = client.get("/kommuner/").text
    assert len(rows(html)) == 29 and "Aarhus" not in rows(html)
    assert selected_option(html, "region") == "1084"
    assert 'href="/kommuner/?region="' in html  # one click to the whole country
    assert len(rows(client.get("/kommuner/?region=").text)) == 98
    assert len(rows(client.get("/kommuner/?region=1082").text)) == 19
    # Links that carry filters (the dashboard's, the start page's) keep meaning the whole country.
    assert len(rows(client.get("/kommuner/?sort=name").text)) == 98


@pytest.mark.parametrize("role", ["working_group", "admin"])
def test_working_group_and_admin_lists_start_with_the_whole_country(app, users, login_as, role):
    client = login_as(users[role])
    assert len(rows(client.get("/kommuner/").text)) == 98


def test_search_within_the_region_names_matches_elsewhere(app, users, login_as):
    html = login_as(users["ambassador"]).get("/kommuner/?region=1084&q=Aarh").text
    assert rows(html) == []
    assert f'href="/kommuner/{AARHUS}"' in html and "Aarhus" in html


def test_ambassador_activity_list_starts_in_their_region(app, users, login_as):
    factories.ActivityFactory(title="Eget møde", region_code=1084)
    factories.ActivityFactory(title="Andet møde", region_code=1082)
    client = login_as(users["ambassador"])
    html = client.get("/aktiviteter/").text
    assert "Eget møde" in html and "Andet møde" not in html
    assert selected_option(html, "f-region") == "1084"
    assert 'href="/aktiviteter/?region="' in html
    everything = client.get("/aktiviteter/?region=").text
    assert "Eget møde" in everything and "Andet møde" in everything
    assert "Andet møde" in client.get("/aktiviteter/?type=dialogue_meeting").text
    assert "Andet møde" in login_as(users["working_group"]).get("/aktiviteter/").text


def test_board_starts_in_the_ambassadors_region(app, users, login_as):
    assert "Tavle: Region Sjælland" in login_as(users["ambassador_b"]).get("/kommuner/tavle").text


# --- pickers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, name", [("/aktiviteter/ny", "municipality_codes"), ("/planer/ny", "municipalities"),
                                        ("/kontakter/ny", "municipality")])
def test_municipality_pickers_are_grouped_by_region_and_searchable(app, users, login_as, path, name):
    client = login_as(users["admin"])
    html = client.get(path).text
    select = re.search(r'<select[^>]*name="%s"[^>]*>.*?</select>' % name, html, re.S).group(0)
    assert "data-picker" in select
    groups = re.findall(r'<optgroup label="([^"]+)"', select)
    assert groups == ["Region Nordjylland", "Region Midtjylland", "Region Syddanmark", "Region Hovedstaden",
                      "Region Sjælland"]
    assert len(re.findall(r"<option[^>]*value=\"\d+\"", select)) == 98
    assert "vendor/tom-select/tom-select.complete.min.js" in html and "js/pickers.js" in html
    for asset in ("vendor/tom-select/tom-select.complete.min.js", "vendor/tom-select/tom-select.bootstrap5.min.css",
                  "js/pickers.js"):
        assert client.get(f"/static/{asset}").status_code == 200


def test_ambassadors_region_comes_first_in_the_activity_picker(app, users, login_as):
    html = login_as(users["ambassador"]).get("/aktiviteter/ny").text
    select = re.search(r'<select[^>]*name="municipality_codes"[^>]*>.*?</select>', html, re.S).group(0)
    assert re.findall(r'<optgroup label="([^"]+)"', select)[0] == "Region Hovedstaden"


# --- a municipality outside the activity's region -----------------------------------------------------------


def test_municipality_outside_the_activitys_region_asks_for_confirmation(app, users, login_as):
    client = login_as(users["ambassador"])
    data = form(municipality_codes=[str(KBH), str(AARHUS)])
    first = client.post("/aktiviteter/ny", data=data)
    assert first.status_code == 200 and "Gem alligevel" in first.text
    assert "Aarhus ligger uden for Region Hovedstaden" in first.text
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 0
    saved = client.post("/aktiviteter/ny", data={**data, "confirm_warnings": confirmation(first.text)})
    assert saved.status_code == 302
    assert sorted(m.code for m in db.session.scalar(select(Activity)).municipalities) == [KBH, AARHUS]


def test_national_activity_may_name_any_municipality(app, users, login_as):
    response = login_as(users["ambassador"]).post(
        "/aktiviteter/ny", data=form(region_code="", municipality_codes=[str(KBH), str(AARHUS), str(GREVE)]))
    assert response.status_code == 302
