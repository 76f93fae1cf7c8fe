"""The audit log page speaks Danish (and English): labels, formatted values, Danish time, filters by
user, record and period with visible messages, a link to each record, constant SQL per page."""
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from crm.audit import acting_as
from crm.extensions import db
from crm.models import Activity, AuditEntry, Municipality, StageChange
from tests import factories


def _text(html: str) -> str:
    """The log table as plain text, one entry per line."""
    table = html.split('<table class="table table-sm audit-table">')[1].split("</table>")[0]
    rows = re.findall(r"<tr data-entry[^>]*>(.*?)</tr>", table, re.S)
    return "\n".join(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).replace(" :", ":").strip() for row in rows)


def _page(client, **query) -> str:
    response = client.get("/admin/audit", query_string=query)
    assert response.status_code == 200, response.text
    return _text(response.text)


@pytest.fixture
def history(app, users):
    """An activity created and changed, a user switched off, a stage set: by the ambassador."""
    amb = users["ambassador"]
    amb.name = "Anne Ambassadør"
    db.session.commit()
    with acting_as(amb.email, amb.id):
        activity = Activity(type="workshop", title="Workshop i Aarhus", start_date=date(2026, 3, 2), region_code=1084,
                            hours=Decimal("2.5"), created_by_id=amb.id,
                            municipalities=[db.session.get(Municipality, 101)])
        db.session.add(activity)
        db.session.commit()
        activity.title = "Workshop om IPS"
        activity.start_date = date(2026, 3, 3)
        activity.municipalities.append(db.session.get(Municipality, 147))
        db.session.commit()
        users["ambassador_b"].active = False
        db.session.add(StageChange(municipality_code=101, stage="dialogue", effective_date=date(2026, 3, 4)))
        db.session.commit()
    return activity


def test_labels_values_and_names_are_danish(history, users, login_as):
    text = _page(login_as(users["admin"]))
    assert "activity" not in text and "created_by_id" not in text and "update" not in text
    assert "True" not in text and "False" not in text and "2026-03-0" not in text
    assert re.search(r"Aktivitet \d+ Ændret .*Titel: Workshop i Aarhus → Workshop om IPS", text)
    assert "Dato: 02-03-2026 → 03-03-2026" in text
    assert "Kommuner: tilføjet: Frederiksberg" in text
    assert re.search(r"Aktivitet \d+ Oprettet .*Type: Workshop", text)
    assert "Oprettet af: Anne Ambassadør" in text and "Region: Region Hovedstaden" in text
    assert "Varighed i timer: 2,5" in text
    assert "Bruger" in text and "Aktiv: Ja → Nej" in text
    assert re.search(r"Faseændring \d+ Oprettet Kommune: København Fase: I dialog Dato: 04-03-2026", text)


def test_english_reader_gets_english_labels(history, users, login_as):
    users["working_group"].locale = "en"
    db.session.commit()
    text = _page(login_as(users["working_group"]))
    assert re.search(r"Activity \d+ Changed .*Title: Workshop i Aarhus → Workshop om IPS", text)
    assert "Active: Yes → No" in text
    assert re.search(r"Stage change \d+ Created Municipality: København Stage: In dialogue Date: 04-03-2026", text)
    assert "Aktivitet" not in text and "Ændret" not in text


def test_each_entry_links_to_its_record_while_it_exists(history, users, login_as):
    client = login_as(users["admin"])
    html = client.get("/admin/audit", query_string={"entity": "activity"}).text
    assert f'href="/aktiviteter/{history.id}"' in html
    assert 'href="/kommuner/101"' in client.get("/admin/audit", query_string={"entity": "stage_change"}).text
    with acting_as("tester"):
        db.session.delete(history)
        db.session.commit()
    html = client.get("/admin/audit", query_string={"entity": "activity"}).text
    assert f'href="/aktiviteter/{history.id}"' not in html
    assert "Slettet" in _text(html)


def test_filters_by_user_record_and_period(history, users, login_as):
    client = login_as(users["admin"])
    with acting_as("cli (admin)"):
        factories.NoteFactory(text="Notat fra kommandolinjen")
    by_user = _page(client, user=users["ambassador"].id)
    assert "Workshop om IPS" in by_user and "Notat fra kommandolinjen" not in by_user
    record = _page(client, entity="activity", entity_id=history.id)
    assert record.count("\n") == 2 and "Workshop om IPS" in record  # created, changed, municipality added
    # Period in Danish days: an entry at 23:30 UTC on 31-03-2026 happened on 01-04-2026 in Denmark.
    first = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id).limit(1))
    db.session.execute(update(AuditEntry).values(at=datetime(2026, 1, 10, 12, 0)))
    db.session.execute(update(AuditEntry).where(AuditEntry.id == first).values(at=datetime(2026, 3, 31, 23, 30)))
    db.session.commit()
    april = _page(client, date_from="01-04-2026", date_to="30-04-2026")
    assert april.count("\n") == 0 and "01-04-2026 01:30" in april
    assert _page(client, date_from="2026-03-01", date_to="31-03-2026") == ""


@pytest.mark.parametrize("query, field, message", [
    ({"date_from": "31-02-2026"}, "date_from", "Ugyldig dato"),
    ({"date_to": "i går"}, "date_to", "Ugyldig dato"),
    ({"date_from": "10-03-2026", "date_to": "01-03-2026"}, "date_to", "Perioden slutter før den begynder"),
    ({"user": "abc"}, "user", "Vælg en bruger"),
    ({"entity_id": "7"}, "entity_id", "Vælg også typen"),
    ({"action": "drop"}, "action", "Ukendt handling"),
])
def test_bad_filters_are_answered_beside_the_field_with_the_input_kept(history, users, login_as, query, field,
                                                                       message):
    response = login_as(users["admin"]).get("/admin/audit", query_string=query)
    assert response.status_code == 400
    error = re.search(rf'id="f-{field}-error">([^<]*)<', response.text)
    assert error and message in error.group(1)
    for value in query.values():
        if field in ("date_from", "date_to", "entity_id"):
            assert f'value="{value}"' in response.text


def test_constant_number_of_queries_per_page(app, users, login_as, count_queries):
    client = login_as(users["admin"])
    factories.ActivityFactory()
    client.get("/admin/audit")
    with count_queries() as few:
        client.get("/admin/audit")
    for n in range(30):
        activity = factories.ActivityFactory(created_by_id=users["ambassador"].id)
        factories.StageChangeFactory(municipality_code=(101, 147, 151)[n % 3], effective_date=date(2024, 1, 1 + n),
                                     recorded_by_id=users["admin"].id)
        factories.NoteFactory(municipality_code=101, created_by_id=users["ambassador_b"].id)
        factories.ContactFactory(municipality_code=147)
        activity.title = f"Ny titel {n}"
        db.session.commit()
    with count_queries() as many:
        response = client.get("/admin/audit")
    assert response.status_code == 200
    # Names and links: at most one query per kind of record; the page size bounds nothing else.
    assert many.count <= few.count + 8, many.statements
    with count_queries() as again:
        client.get("/admin/audit?page=2")
    assert again.count <= few.count + 8


def test_every_audited_table_and_column_has_a_label():
    """A new model or column shows in the log by its Danish name, not its table or column name."""
    from crm.audit import SKIPPED_FIELDS
    from crm.extensions import db
    from crm.services import audit_log

    association_tables = {"activity_centre", "activity_municipality", "plan_centre", "plan_municipality",
                          "plan_target_group", "material_author", "material_region",
                          "saved_report_recipient"}  # logged as collections on their owner
    # written only by the database's triggers, never logged
    derived_tables = {"activity_month_total", "data_version"}
    missing = []
    for table in db.metadata.sorted_tables:
        if table.name in association_tables | derived_tables | {"audit_log"}:
            continue
        if table.name not in audit_log.ENTITY_LABELS:
            missing.append(table.name)
        missing += [f"{table.name}.{column.name}" for column in table.columns
                    if column.name not in audit_log.FIELD_LABELS and column.name not in SKIPPED_FIELDS]
    assert missing == []


def test_a_task_entry_is_labelled_and_links_to_its_municipality(app, users, login_as):
    from tests.factories import TaskFactory

    from crm.extensions import db

    TaskFactory(municipality_code=101, text="Ring til jobcentret", owner=users["ambassador"])
    db.session.commit()
    html = login_as(users["admin"]).get("/admin/audit").get_data(as_text=True)
    assert "Opgave" in html and "Ansvarlig" in html and 'href="/kommuner/101"' in html
