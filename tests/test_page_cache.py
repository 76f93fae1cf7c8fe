"""Cached pages are never stale (crm/views/page_cache.py, crm/models/data_version.py).

The database renews one token in the same transaction as any change to any table, and a page is
kept under that token with the user, language, date and URL. Checked here: every table carries the
trigger; after random sequences of committed writes through every path (services, ORM, Core bulk
statements, raw SQL) each cached page equals a fresh rendering; and what must differ per user,
date and session (edit rights, today, the CSRF token, flashed messages) does. On both databases.
"""
import re
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete, insert, select, text, update

from crm.extensions import db
from crm.models import Activity, DataVersion, Municipality, Note, StageChange, User
from crm.models.data_version import trigger_names
from crm.services.activities import delete_activity, save_activity
from crm.views.page_cache import data_token
from tests import factories

CACHED_PAGES = ("/", "/kommuner/", "/kommuner/tavle", "/kommuner/101", "/aktiviteter/", "/overblik/",
                "/overblik/forankring", "/rapporter/", "/fidelitet/")
LIGHT_PAGE = "/import/"
CSRF_VALUE = re.compile(r'(name="[\w-]*csrf_token"[^>]*value=")[^"]*"|(value=")[^"]*("[^>]*name="[\w-]*csrf_token")')


@pytest.fixture
def cached(app):
    """The app with the page cache on, as deployed (the test configuration switches it off)."""
    app.config["PAGE_CACHE"] = True
    return app


def _normal(html: str) -> str:
    """The page without its CSRF tokens (signed with a timestamp, so they differ per second)."""
    return CSRF_VALUE.sub(lambda m: (m.group(1) or m.group(2)) + 'X"' + (m.group(3) or ""), html)


def _fresh(app, client, url: str) -> str:
    """The page rendered now, past the cache."""
    app.config["PAGE_CACHE"] = False
    try:
        return client.get(url).text
    finally:
        app.config["PAGE_CACHE"] = True


def _statements(count_queries, client, url: str) -> tuple[int, str]:
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200, url
    return counter.count, response.text


# --- the token -----------------------------------------------------------------------------------

def tables_without_token_triggers(conn) -> list[str]:
    """The tables the models define that lack the triggers renewing the data token (also used by
    tests/test_migrations.py on the migrations' schema)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        rows = conn.execute(text("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"))
    else:
        rows = conn.execute(text("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"))
    found: dict[str, set[str]] = {}
    for table, name in rows:
        found.setdefault(table.strip('"'), set()).add(name)
    return [table for table in db.metadata.tables
            if table != "data_version" and not trigger_names(dialect, table) <= found.get(table, set())]


def test_every_table_renews_the_token(app):
    """Each table the models define has the triggers; a new table without them fails here."""
    assert tables_without_token_triggers(db.session.connection()) == []


def test_writes_through_every_path_renew_the_token(app, users):
    """ORM, Core bulk insert, raw UPDATE and DELETE: each committed write gives a new token."""
    seen = [data_token()]

    def renewed():
        db.session.commit()
        token = data_token()
        assert token not in seen
        seen.append(token)

    factories.TaskFactory()
    renewed()
    db.session.execute(insert(Note), [{"municipality_code": 101, "note_date": date(2025, 1, 1), "text": "a"},
                                      {"municipality_code": 147, "note_date": date(2025, 1, 2), "text": "b"}])
    renewed()
    db.session.execute(text("UPDATE municipality SET name = 'Kbh.' WHERE code = 101"))
    renewed()
    db.session.execute(text("DELETE FROM task"))
    renewed()


@pytest.mark.parametrize("rows", [1, 50])
def test_token_is_renewed_at_commit_only(app, database_url, rows):
    """A transaction not yet committed leaves the token others read alone; its commit renews it (on
    PostgreSQL once, however many rows it wrote)."""
    before = data_token()
    db.session.commit()
    other = create_engine(database_url)
    try:
        with other.connect() as writer:
            writer.execute(insert(Note), [{"municipality_code": 101, "note_date": date(2025, 1, 1), "text": str(n)}
                                          for n in range(rows)])
            if db.engine.dialect.name == "postgresql":  # SQLite's writer locks out readers instead
                assert data_token() == before
                db.session.commit()
            writer.commit()
        assert data_token() != before
    finally:
        other.dispose()


# --- pages ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", CACHED_PAGES)
def test_second_view_comes_from_the_cache(cached, users, login_as, count_queries, url):
    """The second view of a page costs what the light page costs plus the token's one statement,
    and is the same page."""
    client = login_as(users["ambassador"])
    client.get(LIGHT_PAGE)
    light, _html = _statements(count_queries, client, LIGHT_PAGE)
    first, html = _statements(count_queries, client, url)
    second, again = _statements(count_queries, client, url)
    assert second <= light + 1 < first
    assert _normal(again) == _normal(html)


# One write each: (operation, an index into what exists, a day offset, a municipality)
writes = st.lists(st.tuples(
    st.sampled_from(("activity", "edit_activity", "delete_activity", "stage", "raw_stage", "rename", "task",
                     "bulk_notes", "user")),
    st.integers(min_value=0, max_value=20), st.integers(min_value=-400, max_value=0),
    st.sampled_from((101, 147, 151))), min_size=1, max_size=4)


def _write(operation: str, index: int, offset: int, code: int, actor: User, today: date) -> None:
    """One committed write through the path ``operation`` names."""
    day = today + timedelta(days=offset)
    activities = db.session.scalars(select(Activity).order_by(Activity.id)).all()
    if operation == "activity":
        save_activity(None, {"type": "dialogue_meeting", "title": f"Møde {index}", "start_date": day,
                             "region_code": 1084}, [code], [], actor=actor)
    elif operation == "edit_activity" and activities:
        activity = activities[index % len(activities)]
        db.session.execute(update(Activity).where(Activity.id == activity.id).values(start_date=day))
    elif operation == "delete_activity" and activities:
        delete_activity(activities[index % len(activities)], actor=actor)
    elif operation == "stage":
        db.session.execute(delete(StageChange).where(StageChange.municipality_code == code,
                                                     StageChange.effective_date == day))  # one change a day
        factories.StageChangeFactory(municipality_code=code, stage=("dialogue", "plan_signed", "in_operation")[index % 3],
                                     effective_date=day)
    elif operation == "raw_stage":
        db.session.execute(text("DELETE FROM stage_change WHERE municipality_code = :code"), {"code": code})
    elif operation == "rename":
        db.session.execute(update(Municipality).where(Municipality.code == code).values(name=f"Kommune {code}-{index}"))
    elif operation == "task":
        factories.TaskFactory(municipality_code=code, text=f"Opgave {index}", due_date=day)
    elif operation == "bulk_notes":
        db.session.execute(insert(Note), [{"municipality_code": code, "note_date": day, "text": f"Notat {n}"}
                                          for n in range(index % 3 + 1)])
    elif operation == "user":  # the name every page shows in its menu
        db.session.execute(update(User).where(User.id == actor.id).values(name=f"Ambassadør {index}"))
    db.session.commit()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(sequence=writes)
def test_cached_pages_equal_fresh_ones_after_random_writes(cached, users, login_as, sequence):
    """After each committed write, every cached page (viewed before the write) is the page rendered
    afresh: no write through any path leaves a stale page behind."""
    from crm.clock import local_today

    actor = users["ambassador"]
    client = login_as(actor)
    for url in CACHED_PAGES:
        client.get(url)
    for operation, index, offset, code in sequence:
        _write(operation, index, offset, code, actor, local_today())
        for url in CACHED_PAGES:
            assert _normal(client.get(url).text) == _normal(_fresh(cached, client, url)), (operation, url)


def test_each_user_gets_their_own_page(cached, users, login_as):
    """The ambassador's municipality page has the forms to change it; the working group's, viewed
    after it, has none."""
    assert 'id="note-form"' in login_as(users["ambassador"]).get("/kommuner/101").text
    assert 'id="note-form"' not in login_as(users["working_group"]).get("/kommuner/101").text


def test_a_new_day_renders_afresh(cached, users, login_as, count_queries, monkeypatch):
    client = login_as(users["working_group"])
    client.get("/overblik/")
    hit, _html = _statements(count_queries, client, "/overblik/")
    monkeypatch.setattr("crm.clock.utcnow", lambda: datetime.utcnow() + timedelta(days=1))
    tomorrow, _html = _statements(count_queries, client, "/overblik/")
    assert tomorrow > hit


def test_the_served_csrf_token_is_the_sessions(cached, users, login_as):
    """A page cached in one session and served in another carries the second session's token:
    its form saves."""
    cached.config["WTF_CSRF_ENABLED"] = True
    login_as(users["ambassador"]).get("/kommuner/101")
    client = login_as(users["ambassador"])
    html = client.get("/kommuner/101").text
    form = html.split('id="note-form"')[1]
    token = re.search(r'name="note-csrf_token"[^>]*value="([^"]*)"', form).group(1)
    response = client.post("/kommuner/101/notater", data={
        "note-csrf_token": token, "note-note_date": "01-02-2025", "note-text": "Cachet side"})
    assert response.status_code == 302
    assert db.session.scalar(select(Note.text).where(Note.municipality_code == 101)) == "Cachet side"


def test_flashed_messages_show_once(cached, users, login_as):
    """The page after a save shows its message; it is neither cached with it nor shown again."""
    client = login_as(users["ambassador"])
    client.get("/kommuner/101")
    client.post("/kommuner/101/notater", data={"note-note_date": "01-02-2025", "note-text": "Et notat"})
    assert "Notatet er gemt." in client.get("/kommuner/101").text
    assert "Notatet er gemt." not in client.get("/kommuner/101").text


def test_no_token_row_means_no_cache(cached, users, login_as, count_queries):
    db.session.execute(text("DELETE FROM data_version"))
    db.session.commit()
    client = login_as(users["ambassador"])
    first, _html = _statements(count_queries, client, "/fidelitet/")
    second, _html = _statements(count_queries, client, "/fidelitet/")
    assert second == first
    assert db.session.scalar(select(DataVersion.token)) is None
