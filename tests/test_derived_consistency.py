"""Derived data is never stale: ``activity_municipality.start_date`` (the copy of the activity's
start date that lets a municipality's timeline read its own activities from an index) is kept by
the database in the same transaction, whatever writes the activity or its links; checked against
a recount after random sequences of writes through every path, on both databases."""
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, text, update

from crm.extensions import db
from crm.models import Activity, activity_municipality
from crm.services.activities import ActivityImporter, delete_activity, save_activity
from crm.services.importing import check_file

CODES = (101, 147, 151, 153, 155)  # Region Hovedstaden
FIRST = date(2024, 1, 1)
days = st.integers(min_value=0, max_value=1000)
codes = st.lists(st.sampled_from(CODES), max_size=3, unique=True)
operations = st.lists(st.one_of(
    st.tuples(st.just("create"), days, codes),
    st.tuples(st.just("edit_date"), st.integers(min_value=0), days),
    st.tuples(st.just("municipalities"), st.integers(min_value=0), codes),
    st.tuples(st.just("edit_both"), st.integers(min_value=0), st.tuples(days, codes)),
    st.tuples(st.just("delete"), st.integers(min_value=0), st.none()),
    st.tuples(st.just("import"), days, codes),
    st.tuples(st.just("bulk_shift"), st.integers(min_value=-30, max_value=30), st.none()),
    st.tuples(st.just("raw_link"), st.integers(min_value=0), st.sampled_from(CODES)),
    st.tuples(st.just("tamper"), st.integers(min_value=0), days),
), min_size=1, max_size=12)


def _values(day: int, title: str) -> dict:
    return {"type": "dialogue_meeting", "title": title, "start_date": FIRST + timedelta(days=day),
            "region_code": 1084}


def _stale_links() -> list:
    """Links whose date differs from a recount off their activity (NULL counts as different)."""
    recount = select(Activity.start_date).where(Activity.id == activity_municipality.c.activity_id).scalar_subquery()
    link = activity_municipality.c
    return db.session.execute(
        select(link.activity_id, link.municipality_code, link.start_date)
        .where(func.coalesce(link.start_date, date(1900, 1, 1)) != func.coalesce(recount, date(1900, 1, 1)))
    ).all()


def _pick(index: int):
    ids = db.session.scalars(select(Activity.id).order_by(Activity.id)).all()
    return db.session.get(Activity, ids[index % len(ids)]) if ids else None


def _apply(operation, users, serial) -> None:
    kind, a, b = operation
    admin = users["admin"]
    if kind == "create":
        save_activity(None, _values(a, f"Møde {serial}"), b, [], actor=admin)
    elif kind == "import":
        day = (FIRST + timedelta(days=a)).isoformat()
        lines = ["date,type,title,region,municipalities,participants,hours,note",
                 f"{day},workshop,Importeret workshop {serial},1084,{'|'.join(map(str, b))},5,2,"]
        result = check_file(ActivityImporter(admin), "\r\n".join(lines).encode() + b"\r\n", "aktiviteter.csv")
        result.apply()
    elif kind == "bulk_shift":  # a Core UPDATE, past any ORM event
        db.session.execute(update(Activity).values(start_date=Activity.start_date + timedelta(days=a))
                           if db.engine.dialect.name == "postgresql"
                           else update(Activity).values(start_date=func.date(Activity.start_date, f"{a:+d} days")))
        db.session.commit()
    else:
        activity = _pick(a)
        if activity is None:
            return
        current = [m.code for m in activity.municipalities]
        if kind == "edit_date":
            save_activity(activity, _values(b, activity.title), current, [], activity.version, actor=admin)
        elif kind == "municipalities":
            save_activity(activity, _values((activity.start_date - FIRST).days, activity.title), b, [],
                          activity.version, actor=admin)
        elif kind == "edit_both":
            save_activity(activity, _values(b[0], activity.title), b[1], [], activity.version, actor=admin)
        elif kind == "delete":
            delete_activity(activity, actor=admin)
        elif kind == "raw_link":  # a Core INSERT of a link, without the date
            db.session.execute(delete(activity_municipality).where(
                activity_municipality.c.activity_id == activity.id, activity_municipality.c.municipality_code == b))
            db.session.execute(insert(activity_municipality).values(activity_id=activity.id, municipality_code=b))
            db.session.commit()
        elif kind == "tamper":  # a hand-written wrong date on the link is put back by the database
            db.session.execute(update(activity_municipality).where(activity_municipality.c.activity_id == activity.id)
                               .values(start_date=FIRST + timedelta(days=b)))
            db.session.commit()
        db.session.expire_all()


@pytest.fixture
def request_context(app):
    with app.test_request_context():
        yield


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=operations)
def test_link_start_dates_match_a_recount_after_random_writes(app, users, request_context, steps):
    db.session.execute(delete(Activity))
    db.session.commit()
    for serial, operation in enumerate(steps):
        _apply(operation, users, serial)
        assert _stale_links() == [], operation
    links = db.session.scalar(select(func.count()).select_from(activity_municipality))
    dated = db.session.scalar(select(func.count()).select_from(activity_municipality)
                              .where(activity_municipality.c.start_date.is_not(None)))
    assert links == dated


def test_the_database_keeps_the_date_in_the_same_transaction(app, users, request_context):
    """Inside one transaction, before any commit: the link carries the new date at once."""
    activity = save_activity(None, _values(10, "Møde"), [101], [], actor=users["admin"])
    db.session.execute(update(Activity).where(Activity.id == activity.id).values(start_date=date(2026, 5, 4)))
    in_transaction = db.session.scalar(select(activity_municipality.c.start_date))
    db.session.rollback()
    assert in_transaction == date(2026, 5, 4)
    assert db.session.scalar(select(activity_municipality.c.start_date)) == FIRST + timedelta(days=10)


def test_the_timeline_reads_a_municipalitys_activities_from_its_own_index(app):
    """PostgreSQL plans the timeline's activity query on the index that starts with the municipality."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL plan")
    link = activity_municipality.c
    query = (select(Activity.id).join(activity_municipality, link.activity_id == Activity.id)
             .where(link.municipality_code == 101).order_by(link.start_date.desc(), link.activity_id.desc()).limit(26))
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db.session.scalars(text(f"EXPLAIN {compiled}")))
    db.session.rollback()
    assert "ix_activity_municipality_code_start" in plan
