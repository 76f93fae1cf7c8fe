"""Command-line interface: seed, user management; commands act as the audited administrator."""
from sqlalchemy import func, select, text

from crm.extensions import db
from crm.models import AuditEntry, Municipality, Region, User
from crm.services.reference import read_csv


def test_seed_twice_gives_exactly_the_reference_data(runner):
    db.session.execute(text("DELETE FROM municipality"))
    db.session.execute(text("DELETE FROM region"))
    db.session.commit()
    first = runner.invoke(args=["seed"])
    second = runner.invoke(args=["seed"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "0 added or corrected" in second.output
    assert db.session.scalar(select(func.count()).select_from(Region)) == 5
    assert db.session.scalar(select(func.count()).select_from(Municipality)) == 98
    assert {r.code for r in db.session.scalars(select(Region))} == {1081, 1082, 1083, 1084, 1085}
    expected = {int(r["code"]): (r["name"], int(r["region_code"])) for r in read_csv("municipalities.csv")}
    actual = {m.code: (m.name, m.region_code) for m in db.session.scalars(select(Municipality))}
    assert actual == expected
    # Spot checks against the official codes.
    assert actual[101] == ("København", 1084)
    assert actual[751] == ("Aarhus", 1082)
    assert actual[400] == ("Bornholm", 1084)
    counts = db.session.execute(select(Municipality.region_code, func.count()).group_by(Municipality.region_code)).all()
    assert dict(counts) == {1084: 29, 1085: 17, 1083: 22, 1082: 19, 1081: 11}


def test_seed_corrects_a_changed_name(runner):
    municipality = db.session.get(Municipality, 101)
    municipality.name = "Kbh"
    db.session.commit()
    runner.invoke(args=["seed"])
    db.session.expire_all()
    assert db.session.get(Municipality, 101).name == "København"


def test_user_create_list_disable(runner):
    result = runner.invoke(
        args=["user", "create", "ny@test.dk", "--role", "ambassador", "--region", "1081", "--password-stdin"],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "ny@test.dk"))
    assert user.region_code == 1081 and user.check_password("a-long-password")
    listing = runner.invoke(args=["user", "list"])
    assert "ny@test.dk\tambassador\t1081\tactive" in listing.output
    assert runner.invoke(args=["user", "disable", "ny@test.dk"]).exit_code == 0
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False
    actors = set(db.session.scalars(select(AuditEntry.actor).where(AuditEntry.entity == "user")))
    assert actors == {"cli (admin)"}


def test_user_create_refuses_bad_input(runner):
    no_region = runner.invoke(args=["user", "create", "a@test.dk", "--role", "ambassador", "--password-stdin"], input="a-long-password\n")
    assert no_region.exit_code != 0 and "--region" in no_region.output
    short = runner.invoke(args=["user", "create", "b@test.dk", "--role", "admin", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "12 characters" in short.output
    runner.invoke(args=["user", "create", "c@test.dk", "--role", "admin", "--password-stdin"], input="a-long-password\n")
    duplicate = runner.invoke(args=["user", "create", "C@test.dk", "--role", "admin", "--password-stdin"], input="a-long-password\n")
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    unknown = runner.invoke(args=["user", "disable", "nobody@test.dk"])
    assert unknown.exit_code != 0
