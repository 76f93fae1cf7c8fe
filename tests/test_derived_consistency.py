"""Derived data is never stale: ``activity_municipality.start_date`` (the copy of the activity's
start date that lets a municipality's timeline read its own activities from an index) and
``activity_month_total`` (counts and sums per month, region and type) are kept by the database in
the same transaction, whatever writes the activity or its links; checked against a recount after
random sequences of writes through every path, on both databases."""
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Date, DateTime, Numeric, bindparam, delete, func, insert, select, text, update

from crm.extensions import db
from crm.models import Activity, ActivityMonthTotal, activity_municipality
from crm.services.activities import ActivityImporter, delete_activity, save_activity
from crm.services.importing import check_file

CODES = (101, 147, 151, 153, 155)  # Region Hovedstaden
FIRST = date(2024, 1, 1)
days = st.integers(min_value=0, max_value=1000)
codes = st.lists(st.sampled_from(CODES), max_size=3, unique=True)
# type, region (None: national), participants and hours (None: not known) of an activity
figures = st.tuples(st.sampled_from(("dialogue_meeting", "workshop", "course")), st.sampled_from((1084, 1085, None)),
                    st.one_of(st.none(), st.integers(min_value=0, max_value=500)),
                    st.one_of(st.none(), st.decimals(min_value=0, max_value=999, places=2)))
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
    st.tuples(st.just("figures"), st.integers(min_value=0), figures),
    st.tuples(st.just("orm_figures"), st.integers(min_value=0), figures),
    st.tuples(st.just("raw_figures"), st.integers(min_value=0), figures),
    st.tuples(st.just("raw_insert"), days, figures),
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


def _stale_month_totals() -> tuple[list, list]:
    """(totals, recount): the non-empty rows of activity_month_total and a GROUP BY over activity
    the same way (region 0 = national, sums of the known values and how many were known)."""
    if db.engine.dialect.name == "postgresql":
        month = func.cast(func.date_trunc("month", Activity.start_date), Date)
    else:
        month = func.date(Activity.start_date, "start of month", type_=Date)
    region = func.coalesce(Activity.region_code, 0)
    recount = db.session.execute(
        select(month, region, Activity.type, func.count(), func.coalesce(func.sum(Activity.participants), 0),
               func.count(Activity.participants), func.coalesce(func.sum(Activity.hours), 0),
               func.count(Activity.hours))
        .group_by(month, region, Activity.type)).all()
    total = ActivityMonthTotal
    kept = db.session.execute(
        select(total.month, total.region_key, total.type, total.activities, total.participants,
               total.participants_known, total.hours, total.hours_known)).all()
    emptied = [row for row in kept if row[3] == 0]
    assert all(tuple(row[3:]) == (0, 0, 0, 0, 0) for row in emptied), emptied  # an emptied group is all zeros

    def normal(rows):
        return sorted((m, r, t, n, int(p), pk, Decimal(h).quantize(Decimal("0.01")), hk)
                      for m, r, t, n, p, pk, h, hk in rows)
    return normal(row for row in kept if row[3] != 0), normal(recount)


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
    elif kind == "raw_insert":  # hand-written SQL, a national activity possible
        kind_, region, participants, hours = b
        db.session.execute(text(
            "INSERT INTO activity (type, title, start_date, region_code, participants, hours, created_at, version) "
            "VALUES (:type, :title, :start, :region, :participants, :hours, :created, 1)").bindparams(*RAW_TYPES),
            {"type": kind_, "title": f"Rå {serial}", "start": FIRST + timedelta(days=a), "region": region,
             "participants": participants, "hours": hours, "created": datetime(2024, 1, 1, 8)})
        db.session.commit()
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
        elif kind in ("figures", "orm_figures", "raw_figures"):
            _write_figures(kind, activity, *b)
        elif kind == "tamper":  # a hand-written wrong date on the link is put back by the database
            db.session.execute(update(activity_municipality).where(activity_municipality.c.activity_id == activity.id)
                               .values(start_date=FIRST + timedelta(days=b)))
            db.session.commit()
        db.session.expire_all()


# Raw SQL still needs the driver's types: SQLite's driver takes no Decimal, nor (soon) a date.
RAW_TYPES = (bindparam("start", type_=Date), bindparam("hours", type_=Numeric(8, 2)),
             bindparam("created", type_=DateTime))


def _write_figures(kind: str, activity, activity_type, region, participants, hours) -> None:
    """Change what the totals group on and sum: a Core UPDATE, an ORM flush or raw SQL."""
    values = {"type": activity_type, "region_code": region, "participants": participants, "hours": hours}
    if kind == "figures":
        db.session.execute(update(Activity).where(Activity.id == activity.id).values(**values))
    elif kind == "orm_figures":
        for name, value in values.items():
            setattr(activity, name, value)
    else:
        db.session.execute(text("UPDATE activity SET participants = :participants, hours = :hours WHERE id = :id")
                           .bindparams(RAW_TYPES[1]),
                           {"participants": participants, "hours": hours, "id": activity.id})
    db.session.commit()


@pytest.fixture
def request_context(app):
    with app.test_request_context():
        yield


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=operations)
def test_link_start_dates_match_a_recount_after_random_writes(app, users, request_context, steps):
    db.session.execute(delete(Activity))
    db.session.commit()
    for serial, operation in enumerate(steps):
        _apply(operation, users, serial)
        assert _stale_links() == [], operation
        kept, recount = _stale_month_totals()
        assert kept == recount, operation
    links = db.session.scalar(select(func.count()).select_from(activity_municipality))
    dated = db.session.scalar(select(func.count()).select_from(activity_municipality)
                              .where(activity_municipality.c.start_date.is_not(None)))
    assert links == dated


def test_the_month_totals_change_in_the_same_transaction(app, users, request_context):
    """Inside one transaction, before any commit, the totals follow; a rollback takes both back."""
    activity = save_activity(None, _values(10, "Møde"), [101], [], actor=users["admin"])
    db.session.execute(update(Activity).where(Activity.id == activity.id)
                       .values(start_date=date(2026, 5, 4), region_code=None, participants=7))
    in_transaction = _stale_month_totals()
    db.session.rollback()
    assert in_transaction[0] == in_transaction[1]
    assert [row[:5] for row in in_transaction[0]] == [(date(2026, 5, 1), 0, "dialogue_meeting", 1, 7)]
    kept, recount = _stale_month_totals()
    assert kept == recount
    assert [row[:5] for row in kept] == [(date(2024, 1, 1), 1084, "dialogue_meeting", 1, 0)]


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
