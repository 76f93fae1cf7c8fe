"""One language per page: percentages, plurals and automatic notes follow the reader's language."""
import re
from datetime import date
from pathlib import Path

import pytest
from babel.numbers import format_percent as babel_percent
from flask_babel import force_locale

from crm.extensions import db
from crm.formatting import format_percent
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


# --- One percent format per language ----------------------------------------------------------


@pytest.mark.parametrize("value", [41.37, 0, 100, 66.6667, -3.25, 1234.5])
@pytest.mark.parametrize("locale", ["da", "en"])
def test_format_percent_is_babels_percent_pattern(app, value, locale):
    with app.test_request_context("/"), force_locale(locale):
        expected = babel_percent(value / 100, locale=locale, format="#,##0.0%" if locale == "en" else "#,##0.0\xa0%")
        assert format_percent(value) == expected.replace("\xa0", " ")
    assert format_percent(None) == "–"


def _covered(n: int) -> None:
    codes = [101, 147, 151, 153, 155, 157, 159, 161, 163, 165, 167, 169, 173, 175, 183, 185, 187, 190, 201, 210,
             217, 219, 223, 230, 240, 250, 253, 259, 260, 265, 269, 270, 306, 316, 320, 326, 329, 330, 336, 340, 350]
    for code in codes[:n]:
        factories.StageChangeFactory(municipality_code=code, stage="plan_signed", effective_date=date(2025, 1, 1))
    db.session.commit()


PERCENT_PAGES = ["/", "/overblik/", "/resultater/", "/kommuner/101"]


@pytest.mark.parametrize("path", PERCENT_PAGES)
def test_every_percent_on_a_page_has_the_languages_format(app, users, login_as, path):
    """"41.4 %" beside "41,4 %" no more: Danish pages write 41,4 %, English pages 41.4%."""
    _covered(41)  # 41 of 98 = 41.8 %
    users["working_group"].locale = "en"
    db.session.commit()
    client = login_as(users["working_group"])
    english = client.get(path).text
    users["working_group"].locale = "da"
    db.session.commit()
    danish = client.get(path).text
    number = r"\d[\d.,]*"
    assert re.findall(rf"{number}\.\d %", danish) == []   # an English decimal point on a Danish page
    assert re.findall(rf"{number},\d ?%", english) == []  # a Danish decimal comma on an English page
    assert re.findall(r"\d %", english) == []           # English writes 41.8%
    if path in ("/", "/overblik/"):
        assert "41,8 %" in danish and "41.8%" in english


def test_no_template_writes_a_percent_sign_after_a_number_by_hand():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"\)s ?%%|\|number\(\d\) ?\}\} ?%|\|round\(\d\)\) ?\}\}", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# --- Automatic notes: stored as codes, shown in the reader's language --------------------------
from sqlalchemy import select, text  # noqa: E402

from crm.models import Municipality, StageChange  # noqa: E402
from crm.services import auto_notes  # noqa: E402
from crm.services.pipeline import apply_signed_plan  # noqa: E402


def _reader(users, login_as, locale):
    users["working_group"].locale = locale
    db.session.commit()
    return login_as(users["working_group"])


def test_signed_plan_note_is_a_code_shown_in_the_readers_language(app, users, login_as):
    plan = factories.PlanFactory(title="Plan for København", signed_date=date(2026, 2, 1))
    plan.municipalities.append(db.session.get(Municipality, 101))
    with force_locale("da"):  # saved by a Danish-speaking ambassador
        apply_signed_plan(plan, users["ambassador"])
    db.session.commit()
    change = db.session.scalar(select(StageChange).where(StageChange.municipality_code == 101))
    assert (change.note_kind, change.note_params["title"], change.note) == ("plan_signed", "Plan for København", None)
    english = _reader(users, login_as, "en").get("/kommuner/101").text
    assert "Cooperation plan signed: Plan for København" in english
    assert "Samarbejdsplan underskrevet" not in english
    danish = _reader(users, login_as, "da").get("/kommuner/101").text
    assert "Samarbejdsplan underskrevet: Plan for København" in danish


def test_calendar_import_mark_is_shown_in_the_readers_language(app, users, login_as):
    activity = factories.ActivityFactory(note="Husk æbleskiver.", note_kind=auto_notes.CALENDAR_IMPORT)
    english = _reader(users, login_as, "en").get(f"/aktiviteter/{activity.id}").text
    assert "Imported from calendar" in english and "Importeret fra kalender" not in english
    assert "Husk æbleskiver." in english
    with app.test_request_context("/"), force_locale("da"):
        assert auto_notes.note_text(activity) == "Importeret fra kalender\n\nHusk æbleskiver."


def test_automatic_note_parameters_are_put_into_words(app):
    with app.test_request_context("/"), force_locale("en"):
        assert auto_notes.render(None) == ""
        assert auto_notes.render("plan_signed", {"title": "100 % IPS"}) == "Cooperation plan signed: 100 % IPS"
        assert auto_notes.render("no_such_kind", {}) == "no_such_kind"


def test_stage_and_date_parameters_come_out_in_the_readers_language(app, monkeypatch):
    """A note kind with a stage among its parameters names the stage in the reader's language."""
    from crm.i18n import lazy_gettext

    monkeypatch.setitem(auto_notes.KINDS, "moved", lazy_gettext("Fase ved periodens slutning: %(stage)s"))
    monkeypatch.setitem(auto_notes.KINDS, "dated", lazy_gettext("Siden %(date)s"))
    with app.test_request_context("/"):
        with force_locale("en"):
            assert auto_notes.render("moved", {"stage": "in_operation"}) == "Stage at the end of the period: IPS in operation"
            assert auto_notes.render("dated", {"date": "2026-03-29"}) == "Since 29-03-2026"
        with force_locale("da"):
            assert auto_notes.render("moved", {"stage": "in_operation"}) == "Fase ved periodens slutning: IPS i drift"


def test_migration_turns_recognisable_danish_notes_into_codes(tmp_path):
    """Upgrading a database with notes written as text before this change."""
    from flask_migrate import upgrade

    from crm import create_app
    from tests.conftest import _config_for
    from tests.test_migrations import MIGRATIONS

    migrate_app = create_app(_config_for(f"sqlite:///{tmp_path / 'notes.sqlite'}"))
    with migrate_app.app_context():
        upgrade(directory=MIGRATIONS, revision="863d0b04230e")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO region (code, name) VALUES (1084, 'Region Hovedstaden')"))
            conn.execute(text("INSERT INTO municipality (code, name, region_code, version) VALUES (101, 'København', 1084, 1)"))
            for day, note in [("2026-01-01", "Samarbejdsplan underskrevet: Plan A"),
                              ("2026-01-02", "Cooperation plan signed: Plan B"),
                              ("2026-01-03", "Ringede til chefen")]:
                conn.execute(text("INSERT INTO stage_change (municipality_code, stage, effective_date, note, recorded_at) "
                                  "VALUES (101, 'plan_signed', :day, :note, '2026-01-01')"), {"day": day, "note": note})
            for title, note in [("A", "Importeret fra kalender\n\nHusk æbleskiver."), ("B", "Importeret fra kalender"),
                                ("C", "Importeret fra kalenderen i går, af mig")]:
                conn.execute(text("INSERT INTO activity (type, title, start_date, note, created_at, version) "
                                  "VALUES ('workshop', :title, '2026-01-01', :note, '2026-01-01', 1)"),
                             {"title": title, "note": note})
        upgrade(directory=MIGRATIONS, revision="5d1c0a7e9b21")
        with db.engine.connect() as conn:
            stages = conn.execute(text("SELECT note, note_kind, note_params FROM stage_change ORDER BY effective_date")).all()
            activities = conn.execute(text("SELECT note, note_kind FROM activity ORDER BY title")).all()
        db.engine.dispose()
    import json

    assert [(n, k, json.loads(p) if p else None) for n, k, p in stages] == [
        (None, "plan_signed", {"title": "Plan A"}), (None, "plan_signed", {"title": "Plan B"}),
        ("Ringede til chefen", None, None)]
    assert activities == [("Husk æbleskiver.", "calendar_import"), (None, "calendar_import"),
                          ("Importeret fra kalenderen i går, af mig", None)]


# --- Plurals through ngettext -----------------------------------------------------------------


def test_import_with_one_bad_row_says_one_row_in_either_language(app, users, login_as):
    """"1 rækker med fejl" no more."""
    from tests.test_import import GOOD_ROWS, HEADER, _confirm, _token, _upload, csv_file

    for locale, expected in (("da", ["1 række er importeret.", "0 fandtes allerede og blev sprunget over.",
                                     "1 række med fejl blev ikke importeret.", "Importér kun den 1 gode række"]),
                             ("en", ["1 row was imported.", "0 already existed and were skipped.",
                                     "1 row with errors was not imported.", "Import only the 1 good row"])):
        users["ambassador"].locale = locale
        db.session.commit()
        client = login_as(users["ambassador"])
        row = GOOD_ROWS[0] if locale == "da" else GOOD_ROWS[1]
        html = _upload(client, "activities", csv_file([HEADER, row, "2025-03-05,workshop,Køge,1085,259,4,1,"])).text
        assert expected[3] in html
        page = client.get(_confirm(client, "activities", _token(html), "good_rows_only").headers["Location"]).text
        for sentence in expected[:3]:
            assert sentence in page


@pytest.mark.parametrize("locale, one, many", [("da", "1 aktivitet", "2 aktiviteter"), ("en", "1 activity", "2 activities")])
def test_counts_in_page_headers_use_the_plural_rules(app, users, login_as, locale, one, many):
    users["working_group"].locale = locale
    db.session.commit()
    client = login_as(users["working_group"])
    factories.ActivityFactory()
    assert f">{one}<" in client.get("/aktiviteter/").text.replace("\n", "")
    factories.ActivityFactory()
    assert f">{many}<" in client.get("/aktiviteter/").text.replace("\n", "")
    shown = client.get("/kommuner/?q=Frederiksberg").text
    assert ("1 kommune vist" if locale == "da" else "1 municipality shown") in shown


def test_no_sentence_makes_its_plural_by_hand():
    """"aktivitet(er)", "modtager(e)", "error(s)": a count in a sentence goes through ngettext."""
    pattern = re.compile(r"\w\((?:er|e|r|s)\)")
    offenders = []
    for folder, glob in (("templates", "*.html"), ("crm", "*.py")):
        for path in (ROOT / folder).rglob(glob):
            if "cli" in path.parts:  # command-line output is English and not in the catalog
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                if pattern.search(line) and ("_(" in line or "ngettext(" in line or '"' in line):
                    offenders.append(f"{path.relative_to(ROOT)}: {line.strip()[:80]}")
    catalog = (ROOT / "crm/translations/en/LC_MESSAGES/messages.po").read_text(encoding="utf-8")
    offenders += [line for line in catalog.splitlines() if line.startswith("msgstr") and pattern.search(line)]
    assert offenders == []
