"""Users: the password policy everywhere a password is set (NIST SP 800-63B), the last active
admin, and optimistic locking on the admin's user form."""
import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import User
from crm.services import accounts
from tests.factories import PASSWORD, UserFactory

GOOD = "blå-kaffekande-17"


@pytest.mark.parametrize(
    "password, email, name, problem",
    [
        ("aaaaaaaaaa", "", "", "too_short"),  # the example
        ("kort-kode", "", "", "too_short"),
        ("x" * 201, "", "", "too_long"),
        ("aaaaaaaaaaaa", "", "", "repetitive"),
        ("abababababab", "", "", "repetitive"),
        ("password1234", "", "", "common"),
        ("QWERTY123456", "", "", "common"),  # case does not help
        ("1q2w3e4r5t6y", "", "", "common"),
        ("jens.hansen-2026", "jens.hansen@region.dk", "", "personal"),
        ("mit-HANSEN-kodeord", "jens.hansen@region.dk", "", "personal"),  # a part of the e-mail
        ("frederiksen!2026", "mf@region.dk", "Mette Frederiksen", "personal"),
        ("jørgensens-hus-12", "x@region.dk", "Søren Jørgensen", "personal"),
        (GOOD, "jens.hansen@region.dk", "Jens Hansen", None),
        (PASSWORD, "amb.hov@test.dk", "Bruger 1", None),  # short e-mail and name parts do not count
    ],
)
def test_password_policy(app, password, email, name, problem):
    assert accounts.password_problem(password, email, name) == problem


def test_common_password_list_comes_from_a_maintained_package(app):
    words = accounts.common_passwords()
    assert len(words) >= 10_000 and "password" in words and "iloveyou" in words


def test_demo_password_passes_the_policy_for_every_demo_user(app):
    from crm.demo import DEMO_PASSWORD, DemoContext, _create_users

    import random
    from datetime import date

    ctx = DemoContext(rng=random.Random(1), today=date(2026, 1, 1), scale=0)
    _create_users(ctx)
    demo_users = [ctx.admin, ctx.working_group, *ctx.ambassadors.values()]
    for user in demo_users:
        assert accounts.password_problem(DEMO_PASSWORD, user.email, user.name) is None, user.email
    db.session.rollback()


def _change_own(client, new, current=PASSWORD):
    return client.post("/account", data={"pw-current": current, "pw-new": new, "pw-repeat": new, "pw-submit": "1"})


@pytest.mark.parametrize(
    "new, message",
    [
        ("aaaaaaaaaa", "Mindst 12 tegn."),
        ("aaaaaaaaaaaa", "Brug flere forskellige tegn"),
        ("password1234", "Adgangskoden er for almindelig"),
        ("amb.hov-er-mig", "Adgangskoden må ikke indeholde e-mailadressen eller navnet."),
        ("jeg-hedder-Bruger", "Adgangskoden må ikke indeholde e-mailadressen eller navnet."),
    ],
)
def test_account_page_refuses_weak_passwords_beside_the_field(login_as, users, new, message):
    user = users["ambassador"]
    user.name = "Bruger Brugersen"
    db.session.commit()
    response = _change_own(login_as(user), new)
    assert response.status_code == 200
    page = response.text
    assert message in page
    # Beside the new-password field (Bootstrap's invalid-feedback right after the input).
    field = page.index('id="pw-new"')
    assert page.index(message) > field and page.index(message) < page.index('id="pw-repeat"')
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD)


def test_admin_form_refuses_weak_passwords_beside_the_field(login_as, users):
    client = login_as(users["admin"])
    data = {"email": "mette.frederiksen@test.dk", "name": "Mette Frederiksen", "role": "working_group", "region": "",
            "active": "y"}
    for password, message in [
        ("kort-kode", "Mindst 12 tegn."),
        ("password1234", "Adgangskoden er for almindelig"),
        ("Frederiksen-1234", "Adgangskoden må ikke indeholde e-mailadressen eller navnet."),
    ]:
        response = client.post("/admin/users/new", data={**data, "password": password})
        assert response.status_code == 200 and message in response.text, password
        assert 'value="Mette Frederiksen"' in response.text  # input kept
    assert db.session.scalar(select(User).where(User.email == data["email"])) is None
    assert client.post("/admin/users/new", data={**data, "password": GOOD}).status_code == 302


@pytest.mark.parametrize(
    "password, message",
    [
        ("password1234", "commonly used"),
        ("ny.bruger-2026", "must not contain the user's e-mail or name"),
        ("zzzzzzzzzzzz", "too few different characters"),
    ],
)
def test_cli_user_create_applies_the_policy(runner, password, message):
    result = runner.invoke(
        args=["user", "create", "ny.bruger@test.dk", "--role", "admin", "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code != 0 and message in result.output
    assert db.session.scalar(select(User).where(User.email == "ny.bruger@test.dk")) is None


# --- The last active admin ----------------------------------------------------------------------

def _edit(client, user, version=None, **changes):
    data = {"email": user.email, "name": user.name, "role": user.role, "region": str(user.region_code or ""),
            "active": "y" if user.active else "", "version": str(version if version is not None else getattr(user, "version", 1))}
    data.update(changes)
    if not data["active"]:
        del data["active"]  # an unticked checkbox is not sent
    return client.post(f"/admin/users/{user.id}", data=data)


LAST_ADMIN = "Der skal være mindst én aktiv administrator."


def test_last_active_admin_cannot_demote_themselves(login_as, users):
    admin = users["admin"]
    client = login_as(admin)
    response = _edit(client, admin, role="working_group")
    assert response.status_code == 200 and LAST_ADMIN in response.text
    page = response.text
    assert page.index(LAST_ADMIN) > page.index('id="role"')  # beside the role field
    db.session.expire_all()
    assert db.session.get(User, admin.id).role == "admin"


def test_last_active_admin_cannot_be_deactivated(login_as, users):
    admin = users["admin"]
    response = _edit(login_as(admin), admin, active="")
    assert response.status_code == 200 and LAST_ADMIN in response.text
    db.session.expire_all()
    assert db.session.get(User, admin.id).active is True


def test_an_inactive_admin_does_not_count(login_as, users):
    UserFactory(email="old.admin@test.dk", role="admin", region_code=None, active=False)
    admin = users["admin"]
    assert LAST_ADMIN in _edit(login_as(admin), admin, role="ambassador", region="1084").text


def test_with_another_active_admin_the_change_is_allowed(login_as, users):
    UserFactory(email="second.admin@test.dk", role="admin", region_code=None)
    admin = users["admin"]
    assert _edit(login_as(admin), admin, role="working_group").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, admin.id).role == "working_group"


def test_last_admin_rule_holds_in_the_service_and_the_cli(app, users, runner):
    admin = users["admin"]
    with pytest.raises(accounts.UserError, match=LAST_ADMIN):
        accounts.set_active(admin, False)
    with pytest.raises(accounts.UserError):
        accounts.save_user(admin, accounts.UserData(admin.email, admin.name, "working_group", None, True),
                           actor=admin)
    db.session.rollback()
    result = runner.invoke(args=["user", "disable", admin.email])
    assert result.exit_code != 0 and "last active administrator" in result.output
    db.session.expire_all()
    assert db.session.get(User, admin.id).active is True


# --- Optimistic locking ---------------------------------------------------------------------------

def test_second_admin_saving_a_stale_user_form_is_told_and_keeps_the_input(login_as, users):
    other_admin = UserFactory(email="second.admin@test.dk", name="Anden Admin", role="admin", region_code=None)
    user = users["ambassador"]
    first, second = login_as(users["admin"]), login_as(other_admin)
    assert 'name="version" type="hidden" value="1"' in first.get(f"/admin/users/{user.id}").text
    assert _edit(first, user, version=1, name="Navn fra første").status_code == 302
    response = _edit(second, user, version=1, name="Navn fra anden")
    assert response.status_code == 409
    assert "Ændret af" in response.text and "i mellemtiden" in response.text
    assert users["admin"].display_name in response.text
    assert 'value="Navn fra anden"' in response.text  # the second admin's input is kept
    assert 'name="version" type="hidden" value="2"' in response.text  # ready to save again
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "Navn fra første"
    assert _edit(second, user, version=2, name="Navn fra anden").status_code == 302


def test_a_users_own_activity_does_not_make_the_admin_form_stale(login_as, users, app):
    user = users["ambassador"]
    admin = login_as(users["admin"])
    version = user.version
    own = app.test_client()
    own.post("/login", data={"email": user.email, "password": PASSWORD})
    own.post("/account", data={"lang-locale": "en", "lang-submit": "1"})
    own.post("/logout")
    assert _edit(admin, user, version=version, name="Ny navn").status_code == 302


def test_a_save_racing_another_admins_commit_is_caught_by_the_database(app, users):
    """Between the form's version check and the commit another admin saves: the UPDATE's version
    condition refuses, and the admin gets the same message instead of an error."""
    from sqlalchemy import update as sql_update

    from crm.services.errors import Conflict

    user = users["ambassador"]
    assert user.version == 1
    with db.engine.begin() as other_admin:  # another server's transaction, committed meanwhile
        other_admin.execute(sql_update(User).where(User.id == user.id).values(version=2, name="Andens navn"))
    data = accounts.UserData(user.email, "Mit navn", "ambassador", 1084, True)
    with pytest.raises(Conflict) as refused:  # the form's version (1) passes; the commit is refused
        accounts.save_user(user, data, "1", actor=users["admin"])
    message = str(refused.value)
    assert message and "i mellemtiden" in message
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "Andens navn"
