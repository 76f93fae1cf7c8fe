"""Track 4, the evaluation track (issue 16, item 4): activity type ``evaluation`` in track 4, offered
by the activity form, read by the spreadsheet and calendar imports, counted in the dashboard's
track-4 column and in the status report's ``evaluation_activities`` (hand counts on both databases)."""
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import ACTIVITY_TYPES, Activity, types_in_track
from crm.services import dashboard, ics_import
from crm.services import report as report_service
from crm.services.activities import ActivityImporter
from crm.services.importing import check_file
from tests.factories import ActivityFactory

HEADER = "date,type,title,region,municipalities,participants,hours,note"


def test_evaluation_is_the_type_of_track_4():
    label, track = ACTIVITY_TYPES["evaluation"]
    assert (str(label), track) == ("Evaluering", 4)
    assert types_in_track(4) == ["evaluation"]


def test_the_activity_form_offers_evaluation_and_saves_it(app, users, login_as):
    client = login_as(users["ambassador"])
    page = client.get("/aktiviteter/ny").get_data(as_text=True)
    assert re.search(r'<option value="evaluation">Evaluering</option>', page)
    response = client.post("/aktiviteter/ny", data={
        "type": "evaluation", "title": "Dataindsamling: interview med IPS-teamet i København",
        "start_date": "12-05-2025", "region_code": "1084", "municipality_codes": ["101"], "participants": "4",
        "hours": "1,5",
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    activity = db.session.scalar(select(Activity))
    assert (activity.type, activity.track, activity.type_label) == ("evaluation", 4, "Evaluering")
    assert "Evaluering" in client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("written", ["evaluation", "Evaluering", "evaluering", "dataindsamling",
                                     "Evalueringsworkshop", "interview", "Evaluation"])
def test_the_import_reads_the_code_the_label_and_everyday_words(app, users, written):
    with app.test_request_context():
        data = f"{HEADER}\r\n2025-04-02,{written},Evalueringsmøde {written},1084,101,6,2,\r\n".encode()
        result = check_file(ActivityImporter(users["ambassador"]), data, "evaluering.csv")
        assert result.ok and result.good_rows == 1, [e.message for e in result.errors]
        result.apply()
    activity = db.session.scalar(select(Activity))
    assert activity.type == "evaluation" and activity.region_code == 1084


def test_the_import_lists_evaluation_among_the_types(app, users):
    with app.test_request_context():
        data = f"{HEADER}\r\n2025-04-02,evalueringz,Noget,1084,101,,,\r\n".encode()
        result = check_file(ActivityImporter(users["ambassador"]), data, "x.csv")
    assert [e.column for e in result.errors] == ["type"]
    assert "evaluation" in result.errors[0].message


@pytest.mark.parametrize("text", ["Dataindsamling i Aalborg", "Evalueringsworkshop med jobcentret",
                                  "Interview med IPS-konsulenter", "Evaluering af samarbejdet"])
def test_calendar_import_guesses_evaluation(text):
    assert ics_import.guess_type(text) == "evaluation"


def test_the_calendar_import_still_guesses_the_others():
    assert ics_import.guess_type("Workshop om arbejdsgange") == "workshop"
    assert ics_import.guess_type("Dialogmøde med jobcentret") == "dialogue_meeting"


def test_dashboard_counts_evaluation_in_track_4_and_links_to_it(app, users, login_as):
    on = date(2026, 3, 15)  # this half: 01-01-2026–15-03-2026; last: 01-07-2025–31-12-2025
    for day, kind, region in [
        (date(2026, 1, 5), "evaluation", 1084), (date(2026, 3, 15), "evaluation", 1084),
        (date(2026, 3, 16), "evaluation", 1084),  # after the as-of date
        (date(2025, 8, 1), "evaluation", 1084), (date(2026, 2, 2), "evaluation", None),
        (date(2026, 2, 3), "dialogue_meeting", 1084),
    ]:
        ActivityFactory(start_date=day, type=kind, region_code=region)
    counts = dashboard.activity_overview(on)
    assert counts[(1084, 4)] == (2, 1)
    assert counts[(None, 4)] == (1, 0)
    assert counts[(1084, 1)] == (1, 0)

    client = login_as(users["working_group"])
    html = client.get("/overblik/?on=15-03-2026").get_data(as_text=True)
    table = re.search(r'<table class="[^"]*activity-table[^"]*">(.*?)</table>', html, re.S).group(1)
    row = re.search(r'<th scope="row">Hovedstaden</th>(.*?)</tr>', table, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[6:8] == ["2", "1"]  # track 4: this half year, last half year
    link = "/aktiviteter/?date_from=2026-01-01&amp;date_to=2026-03-15&amp;region=1084&amp;track=4"
    assert link in html
    listed = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert listed.count('href="/aktiviteter/') >= 2 and "Evaluering" in listed


def test_status_report_counts_evaluation_activities_by_hand(app):
    """Hand count: start date inside the period (both ends included), type evaluation only, a
    national activity in the total only."""
    start, end = date(2025, 1, 1), date(2025, 6, 30)
    rows = [
        (date(2025, 1, 1), "evaluation", 1081), (date(2025, 6, 30), "evaluation", 1081),
        (date(2025, 3, 3), "evaluation", 1084), (date(2025, 3, 3), "evaluation", None),
        (date(2024, 12, 31), "evaluation", 1082), (date(2025, 7, 1), "evaluation", 1082),
        (date(2025, 3, 3), "workshop", 1085), (date(2025, 3, 3), "other", 1085),
    ]
    for day, kind, region in rows:
        ActivityFactory(start_date=day, type=kind, region_code=region)
    expected = {code: sum(1 for day, kind, region in rows
                          if kind == "evaluation" and start <= day <= end and region == code)
                for code in (1081, 1082, 1083, 1084, 1085)}
    expected["total"] = sum(1 for day, kind, _region in rows if kind == "evaluation" and start <= day <= end)
    assert expected == {1081: 2, 1082: 0, 1083: 0, 1084: 1, 1085: 0, "total": 4}
    report = report_service.status_report(start, end)
    assert {c: report.value("evaluation_activities", c) for c in report.columns} == expected
    assert report.value("workshops", 1085) == 1  # the other keys go on as before
    stored = db.session.scalar(select(func.count(Activity.id)).where(Activity.type == "evaluation"))
    assert stored == 6
    csv_rows = report_service.report_to_csv(report).decode("utf-8-sig").splitlines()
    assert csv_rows[0] == "metric,1081,1082,1083,1084,1085,total"
    keys = [line.split(",")[0] for line in csv_rows[1:]]
    assert csv_rows[1 + keys.index("evaluation_activities")] == "evaluation_activities,2,0,0,1,0,4"
    assert keys.index("evaluation_activities") > keys.index("fidelity_reviews")  # appended after the old keys
