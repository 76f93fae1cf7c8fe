"""The evaluator's data package (issue 16, item 5): a valid Frictionless Data Package (every resource,
every row, checked by the ``frictionless`` library) whose row counts and values equal what the test
built; no personal data or free text in it (checked against the demo data's people and texts); the
command line, the working group's page and its zip; a constant number of statements."""
import csv
import io
import json
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import frictionless
import pytest
from sqlalchemy import func, select, update

from crm.demo import load_demo
from crm.demo.pipeline import FIRST_NAMES, LAST_NAMES
from crm.extensions import db
from crm.models import (Activity, AnchoringEntry, AnchoringItem, Contact, CooperationPlan, FidelityRating,
                        FidelityReview, Municipality, Note,
                        OutcomeQuarter, StageChange, Task, User)
from crm.services import evaluation_export as service
from crm.services.fidelity import scale_items
from crm.services.reference import seed_anchoring_items
from tests import factories

ON = date(2026, 3, 1)
NOW = datetime(2026, 3, 1, 9, 30)
ALL_ITEMS = [item.key for item in scale_items()]
# The only resources with a column of names: places, organisations and the scale's items.
NAMED_RESOURCES = {"regions", "municipalities", "psychiatric_centres", "fidelity_items"}


def _municipalities(*codes):
    return [db.session.get(Municipality, code) for code in codes]


def build_data() -> dict[str, int]:
    """Records of every exported kind (and of kinds never exported), built here; returns the row
    count each resource must have, worked out from what was built."""
    d = date
    # Stage history: København 3 changes (the last after ON), Aarhus 2, Køge 1.
    for code, stage, on in [(101, "dialogue", d(2025, 1, 5)), (101, "plan_signed", d(2025, 6, 1)),
                            (101, "in_operation", d(2026, 5, 1)), (751, "plan_signed", d(2024, 9, 9)),
                            (751, "paused", d(2025, 11, 11)), (259, "plan_in_progress", d(2025, 10, 1))]:
        factories.StageChangeFactory(municipality_code=code, stage=stage, effective_date=on,
                                     note="Talte med Hanne Sørensen")
    centre = factories.CentreFactory(region_code=1084, name="Psykiatrisk Center København")
    other_centre = factories.CentreFactory(region_code=1082, name="Regionspsykiatrien Midt")
    # Plans: one signed with two municipalities, a centre and a health cluster; one draft.
    signed = factories.PlanFactory(region_code=1084, title="Plan underskrevet af Hanne Sørensen",
                                   signed_date=d(2025, 6, 1), health_cluster="Sundhedsklynge Byen",
                                   note="Ring til Hanne på 20 30 40 50")
    signed.municipalities = _municipalities(101, 147)
    signed.centres = [centre]
    draft = factories.PlanFactory(region_code=1082, title="Udkast", health_cluster="  ")
    draft.municipalities = _municipalities(751)
    db.session.commit()
    # Activities: regional with municipalities and a centre, national, an evaluation one.
    meeting = factories.ActivityFactory(type="dialogue_meeting", region_code=1084, start_date=d(2025, 3, 3),
                                        title="Møde med Hanne Sørensen", note="hanne@jobcenter.dk",
                                        location="Hannes kontor", participants=6, hours=Decimal("1.50"),
                                        participants_municipality=4, participants_psychiatry=2)
    meeting.municipalities = _municipalities(101, 147)
    meeting.centres = [centre]
    evaluation = factories.ActivityFactory(type="evaluation", region_code=1082, start_date=d(2025, 9, 9),
                                           title="Interview med Ole Bach", participants=3)
    evaluation.municipalities = _municipalities(751)
    factories.ActivityFactory(type="webinar", region_code=None, start_date=d(2025, 4, 4), participants=80)
    factories.ActivityFactory(type="other", region_code=1085, start_date=d(2025, 5, 5), title="Besøg")
    db.session.commit()
    # Fidelity: one complete review (all 25 items), one draft with 3 items scored and 1 unscored.
    complete = FidelityReview(municipality_code=101, centre_id=centre.id, review_date=d(2025, 10, 1), total=103,
                              team="Team Hanne", reviewers="Hanne Sørensen og Ole Bach", action_plan="Ole ringer")
    complete.ratings = [FidelityRating(item_key=key, score=5 if i < 3 else 4, comment="Hanne siger ok")
                        for i, key in enumerate(ALL_ITEMS)]
    draft_review = FidelityReview(municipality_code=751, review_date=d(2026, 1, 15), total=None)
    draft_review.ratings = [FidelityRating(item_key=key, score=3) for key in ALL_ITEMS[:3]]
    draft_review.ratings.append(FidelityRating(item_key=ALL_ITEMS[3], score=None))
    db.session.add_all([complete, draft_review])
    # Outcomes for two municipalities.
    db.session.add_all([
        OutcomeQuarter(municipality_code=101, quarter="2025Q3", citizens=40, with_paid_hours=12, with_employment=9,
                       with_education=3, ever_paid_hours_or_education=20),
        OutcomeQuarter(municipality_code=101, quarter="2025Q4", citizens=44, with_paid_hours=15, with_employment=11,
                       with_education=4, ever_paid_hours_or_education=24),
        OutcomeQuarter(municipality_code=751, quarter="2025Q4", citizens=10, with_paid_hours=2, with_employment=2,
                       with_education=1, ever_paid_hours_or_education=4),
    ])
    # Anchoring: the seeded items, one municipality's entry (with a note that must stay out) and the
    # region's health agreement.
    seed_anchoring_items()
    by_code = {item.code: item.id for item in db.session.scalars(select(AnchoringItem))}
    db.session.add_all([
        AnchoringEntry(anchoring_item_id=by_code["health_cluster"], region_code=1084, municipality_code=101,
                       state="in_place", effective_date=d(2025, 8, 1), note="Aftalt med Hanne Sørensen",
                       evidence_url="https://example.org/hanne"),
        AnchoringEntry(anchoring_item_id=by_code["health_agreement"], region_code=1084, state="in_progress",
                       effective_date=d(2025, 9, 1)),
    ])
    # Never exported: contacts, notes, tasks.
    factories.ContactFactory(name="Hanne Sørensen", email="hanne@jobcenter.dk", phone="+45 20 30 40 50",
                             region_code=1084, municipality_code=101)
    factories.NoteFactory(municipality_code=101, text="Hanne Sørensen er ny leder")
    factories.TaskFactory(municipality_code=101, text="Ring til Ole Bach")
    db.session.commit()
    return {
        "regions": 5, "municipalities": 98, "stage_changes": 6, "cooperation_plans": 2, "plan_municipalities": 3,
        "psychiatric_centres": 2, "activities": 4, "activity_municipalities": 3, "activity_centres": 1,
        "fidelity_reviews": 2, "instrument_versions": 1, "fidelity_items": 25, "fidelity_item_scores": 29,
        "outcome_quarters": 3, "anchoring_items": len(by_code), "anchoring_entries": 2,
    }


def write(package, folder: Path) -> Path:
    for path, data in package.files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    return folder / service.DESCRIPTOR


def table(package, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(package.files[f"data/{name}.csv"].decode("utf-8"))))


def assert_valid(source, expected_rows: dict[str, int]) -> None:
    """frictionless validates the package: valid, every resource, every row (no row limit), with
    the rows expected; keys and foreign keys included."""
    report = frictionless.validate(str(source))
    assert report.valid, report.flatten(["taskName", "rowNumber", "fieldName", "type", "note"])[:20]
    assert {task.name: task.stats["rows"] for task in report.tasks} == expected_rows
    assert all(task.valid and task.stats["errors"] == 0 for task in report.tasks)


# --- Valid, complete and equal to what was built ------------------------------------------------


def test_package_is_valid_and_counts_equal_the_records_built(app, tmp_path):
    expected = build_data()
    package = service.build_package(NOW, ON)
    assert package.row_counts == expected
    assert_valid(write(package, tmp_path), expected)
    zipped = tmp_path / "package.zip"
    zipped.write_bytes(package.zip_bytes())
    assert_valid(zipped, expected)


def test_descriptor_describes_every_csv_and_every_field(app):
    build_data()
    package = service.build_package(NOW, ON)
    descriptor = package.descriptor
    assert descriptor["profile"] == "tabular-data-package" and descriptor["created"] == "2026-03-01T09:30:00Z"
    assert descriptor["licenses"] and descriptor["sources"] and descriptor["name"] == service.PACKAGE_NAME
    csvs = {path for path in package.files if path.endswith(".csv")}
    assert {r["path"] for r in descriptor["resources"]} == csvs
    assert set(package.files) == csvs | {"datapackage.json"}
    for resource in descriptor["resources"]:
        data = package.files[resource["path"]]
        header = next(csv.reader(io.StringIO(data.decode("utf-8"))))
        fields = resource["schema"]["fields"]
        assert header == [f["name"] for f in fields], resource["name"]
        assert all(f["type"] in {"integer", "number", "string", "date", "boolean"} for f in fields)
        assert all(f["title"] and f["description"] for f in fields), resource["name"]
        assert resource["title"] and resource["description"] and resource["bytes"] == len(data)
        assert not data.startswith(b"\xef\xbb\xbf")
    schemas = {r["name"]: r["schema"] for r in descriptor["resources"]}
    assert schemas["stage_changes"]["primaryKey"] == ["municipality_code", "effective_date"]
    assert {"fields": ["municipality_code"], "reference": {"resource": "municipalities", "fields": ["code"]}} in \
        schemas["fidelity_reviews"]["foreignKeys"]
    assert {"fields": ["item_key"], "reference": {"resource": "fidelity_items", "fields": ["item_key"]}} in \
        schemas["fidelity_item_scores"]["foreignKeys"]


def test_values_are_the_stored_ones(app):
    build_data()
    package = service.build_package(NOW, ON)
    municipalities = {row["code"]: row for row in table(package, "municipalities")}
    assert (municipalities["101"]["stage"], municipalities["101"]["stage_since"]) == ("plan_signed", "2025-06-01")
    assert (municipalities["751"]["stage"], municipalities["751"]["stage_since"]) == ("paused", "2025-11-11")
    assert (municipalities["461"]["stage"], municipalities["461"]["stage_since"]) == ("not_contacted", "")
    history = [(r["municipality_code"], r["effective_date"], r["stage"], r["previous_stage"])
               for r in table(package, "stage_changes") if r["municipality_code"] == "101"]
    assert history == [("101", "2025-01-05", "dialogue", ""), ("101", "2025-06-01", "plan_signed", "dialogue"),
                       ("101", "2026-05-01", "in_operation", "plan_signed")]
    plans = table(package, "cooperation_plans")
    assert [(p["signed_date"], p["municipality_count"], p["centre_count"], p["has_health_cluster"])
            for p in plans] == [("2025-06-01", "2", "1", "True"), ("", "1", "0", "False")]
    activities = {row["type"]: row for row in table(package, "activities")}
    assert activities["evaluation"]["track"] == "4" and activities["evaluation"]["region_code"] == "1082"
    assert activities["webinar"]["region_code"] == "" and activities["other"]["track"] == ""
    meeting = activities["dialogue_meeting"]
    assert (meeting["hours"], meeting["participants"], meeting["participants_municipality"],
            meeting["municipality_count"]) == ("1.5", "6", "4", "2")
    reviews = table(package, "fidelity_reviews")
    assert [(r["complete"], r["items_scored"], r["total"], r["band"]) for r in reviews] == [
        ("True", "25", "103", "good"), ("False", "3", "", "")]
    scores = table(package, "fidelity_item_scores")
    assert sum(1 for s in scores if s["score"] == "") == 1
    assert sum(int(s["score"]) for s in scores if s["review_id"] == reviews[0]["id"]) == 103
    outcomes = table(package, "outcome_quarters")
    assert outcomes[1] == {"municipality_code": "101", "quarter": "2025Q4", "citizens": "44", "with_paid_hours": "15",
                           "with_employment": "11", "with_education": "4", "ever_paid_hours_or_education": "24"}


def test_free_text_and_people_stay_out(app):
    build_data()
    package = service.build_package(NOW, ON)
    everything = b"\n".join(package.files.values()).decode("utf-8")
    for text in ("Hanne", "Ole Bach", "jobcenter.dk", "20 30 40 50", "Sundhedsklynge Byen", "Udkast",
                 "Møde med", "Besøg", "Ring til", "ny leder", "siger ok"):
        assert text not in everything, text


# --- No personal data, on the demo data ---------------------------------------------------------


@pytest.fixture
def demo(app):
    """The demo data; afterwards unlink records from demo users, as tests/test_activities_demo.py does."""
    load_demo(today=date(2026, 5, 1))
    yield
    db.session.rollback()
    db.session.execute(update(Task).values(owner_id=None, created_by_id=None, done_by_id=None))
    for table_ in db.metadata.sorted_tables:
        if "updated_by_id" in table_.c:
            db.session.execute(update(table_).values(updated_by_id=None))
    db.session.commit()


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"\+45|\b\d{2} \d{2} \d{2} \d{2}\b|\b\d{8}\b")
PERSONAL_FIELD = re.compile(r"mail|phone|telefon|person|user|owner|created_by|recorded_by|updated_by|done_by|"
                            r"reviewer|contact|kontakt|note|comment|title|location|link|team|action_plan|text")


def _people_and_free_text() -> set[str]:
    """Every person's name, e-mail and phone in the database, and every free text that could name one."""
    texts: set[str] = set()
    for name, email in db.session.execute(select(User.name, User.email)):
        texts |= {name, email}
    for name, email, phone in db.session.execute(select(Contact.name, Contact.email, Contact.phone)):
        texts |= {name, email, phone}
    for column in (Activity.title, Activity.note, Activity.location, Activity.link, CooperationPlan.title,
                   CooperationPlan.note, CooperationPlan.health_cluster, CooperationPlan.health_agreement,
                   CooperationPlan.document_name, StageChange.note, Note.text, Task.text, FidelityReview.team,
                   FidelityReview.reviewers, FidelityReview.action_plan, FidelityRating.comment):
        texts |= set(db.session.scalars(select(column).distinct()))
    texts |= {f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES}
    return {t.strip() for t in texts if t and len(t.strip()) >= 6}


def test_demo_package_is_valid_and_holds_no_personal_data(demo, tmp_path):
    package = service.build_package()
    assert_valid(write(package, tmp_path), service.resource_counts())
    people = _people_and_free_text()
    assert len(people) > 100  # the demo has users, contacts, titles and notes to look for
    for path, data in package.files.items():
        text = data.decode("utf-8")
        assert not EMAIL.search(text), (path, EMAIL.search(text).group(0))
        if path.endswith(".csv"):
            assert not PHONE.search(text), (path, PHONE.search(text).group(0))
        cells = {cell.strip() for row in csv.reader(io.StringIO(text)) for cell in row} if path.endswith(".csv") \
            else set()
        found = sorted(t for t in people if t in cells or (len(t) >= 10 and t in text))
        assert not found, (path, found[:5])
    for resource in package.descriptor["resources"]:
        for field in resource["schema"]["fields"]:
            assert not PERSONAL_FIELD.search(field["name"]), (resource["name"], field["name"])
            if "name" in field["name"]:
                assert resource["name"] in NAMED_RESOURCES, (resource["name"], field["name"])
    demo_users = set(db.session.execute(select(User.name, User.email)).all())
    assert len(demo_users) == 8  # admin, working group, expert panel, five ambassadors
    whole = b"".join(package.files.values()).decode("utf-8")
    assert not [user for user in demo_users if user[0] in whole or user[1] in whole]


# --- Adding a resource is one entry -------------------------------------------------------------


def test_a_new_resource_is_one_entry_in_the_list(app, monkeypatch, users, login_as):
    """What the anchoring items will need: one Resource appended, and the descriptor, the CSV, the
    page's table and its count follow."""
    extra = service.Resource(
        "task_counts", "Opgaver pr. kommune", "Open and done tasks per municipality (counts only).",
        lambda on: select(Task.municipality_code, Task.status, func.count()).group_by(
            Task.municipality_code, Task.status).order_by(Task.municipality_code, Task.status),
        (service.MUNICIPALITY_CODE,
         service.Field("status", "string", "Status", "open or done.", {"enum": ["open", "done"]}),
         service.Field("tasks", "integer", "Opgaver", "Number of tasks.", {"minimum": 0})),
        primary_key=("municipality_code", "status"),
        foreign_keys=(service.ForeignKey(("municipality_code",), "municipalities", ("code",)),),
    )
    monkeypatch.setattr(service, "RESOURCES", service.RESOURCES + (extra,))
    factories.TaskFactory(municipality_code=101)
    factories.TaskFactory(municipality_code=101)
    package = service.build_package(NOW, ON)
    assert table(package, "task_counts") == [{"municipality_code": "101", "status": "open", "tasks": "2"}]
    assert package.descriptor["resources"][-1]["name"] == "task_counts"
    assert service.resource_counts(ON)["task_counts"] == 1
    page = login_as(users["working_group"]).get("/evaluering/").get_data(as_text=True)
    assert "data/task_counts.csv" in page and "Opgaver pr. kommune" in page


# --- Command line -------------------------------------------------------------------------------


def test_cli_writes_a_valid_package(app, runner, tmp_path):
    expected = build_data()
    out = tmp_path / "pakke"
    result = runner.invoke(args=["export", "evaluation", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{len(expected)} resources" in result.output and "datapackage.json" in result.output
    assert_valid(out / "datapackage.json", expected)
    assert sorted(p.name for p in (out / "data").iterdir()) == sorted(f"{name}.csv" for name in expected)

    again = runner.invoke(args=["export", "evaluation", "--out", str(out)])
    assert again.exit_code != 0 and "--overwrite" in again.output
    factories.ActivityFactory(type="evaluation", region_code=1081)
    result = runner.invoke(args=["export", "evaluation", "--out", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert_valid(out / "datapackage.json", {**expected, "activities": 5})


def test_cli_unwritable_folder(app, runner, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(args=["export", "evaluation", "--out", str(blocker / "sub")])
    assert result.exit_code != 0
    assert "Cannot write" in result.output


# --- The working group's page -------------------------------------------------------------------


@pytest.mark.parametrize("who, status", [("working_group", 200), ("admin", 200), ("ambassador", 403),
                                         ("ambassador_b", 403)])
def test_page_and_download_for_the_working_group_and_admins_only(app, users, login_as, who, status):
    client = login_as(users[who])
    assert client.get("/evaluering/").status_code == status
    assert client.get("/evaluering/datapakke.zip").status_code == status
    menu = client.get("/").get_data(as_text=True)
    assert ('href="/evaluering/"' in menu) == (status == 200)


def test_anonymous_visitors_are_sent_to_sign_in(client, app):
    for url in ("/evaluering/", "/evaluering/datapakke.zip"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_page_explains_the_package_and_the_zip_is_the_package(app, users, login_as, tmp_path):
    expected = build_data()
    client = login_as(users["working_group"])
    page = client.get("/evaluering/").get_data(as_text=True)
    assert "Data til evalueringen" in page and "datapackage.json" in page and "Frictionless" in page
    assert "export evaluation --out" in page and "Ingen navne, e-mailadresser eller telefonnumre" in page
    for resource in service.RESOURCES:
        assert f"<code>{resource.path}</code>" in page
        row = re.search(rf"<code>{re.escape(resource.path)}</code></td>.*?</tr>", page, re.S).group(0)
        counts = re.findall(r'<td class="text-end">([\d.]+)</td>', row)
        assert int(counts[-1].replace(".", "")) == expected[resource.name], resource.name
    response = client.get("/evaluering/datapakke.zip")
    assert response.mimetype == "application/zip"
    assert re.fullmatch(r'attachment; filename="ips-evaluering-\d{4}-\d{2}-\d{2}\.zip"',
                        response.headers["Content-Disposition"])
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.namelist()[0] == "datapackage.json"
    assert json.loads(archive.read("datapackage.json"))["name"] == service.PACKAGE_NAME
    zipped = tmp_path / "download.zip"
    zipped.write_bytes(response.data)
    assert_valid(zipped, expected)


def test_english_page(app, users, login_as):
    users["working_group"].locale = "en"
    db.session.commit()
    page = login_as(users["working_group"]).get("/evaluering/").get_data(as_text=True)
    assert "Data for the evaluation" in page and "Download the data package (.zip)" in page


def test_page_and_download_take_a_constant_number_of_statements(app, users, login_as, count_queries):
    client = login_as(users["admin"])

    def counts():
        result = []
        for url in ("/evaluering/", "/evaluering/datapakke.zip"):
            db.session.expire_all()  # as a fresh session per request: the user is loaded again
            with count_queries() as q:
                assert client.get(url).status_code == 200
            result.append(q.count)
        return result

    small = counts()
    build_data()
    for i in range(30):
        activity = factories.ActivityFactory(type="evaluation", region_code=1083, start_date=date(2025, 1, 1 + i % 28))
        activity.municipalities = _municipalities(461)
        review = FidelityReview(municipality_code=461, review_date=date(2024, 1, 1 + i % 28), total=None)
        review.ratings = [FidelityRating(item_key=key, score=2) for key in ALL_ITEMS[:5]]
        db.session.add(review)
    db.session.commit()
    assert counts() == small
    assert small[0] == 2  # the signed-in user, then every resource's rows counted in one statement
    assert small[1] == 1 + len(service.RESOURCES)  # one per resource (fidelity_items: the stored items)
