"""Sessions end when they should (issue 13.3): logout, password change, deactivation and an
admin's "sign out everywhere" end every session and remember cookie of the user, also copies of
them; reactivation revives nothing; the calendar feed link dies with deactivation."""
import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry, User
from tests.factories import PASSWORD, UserFactory

PROTECTED = "/kontakter/"


def _sign_in(app, user, remember: bool = False):
    """A new browser signed in through the real form; returns (client, its cookies by name)."""
    client = app.test_client()
    data = {"email": user.email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    assert client.post("/login", data=data).status_code == 302
    assert client.get(PROTECTED).status_code == 200
    return client


def _copied(app, client, *names):
    """A second browser holding copies of ``client``'s cookies ``names`` (as a thief would)."""
    thief = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)
    return thief


def _refused(client) -> bool:
    response = client.get(PROTECTED)
    return response.status_code == 302 and "/login" in response.location


def _copies(app, user):
    """A copied session cookie and a copied remember cookie, both working now."""
    victim = _sign_in(app, user, remember=True)
    session_copy = _copied(app, victim, "session")
    remember_copy = _copied(app, victim, "remember_token")
    assert not _refused(session_copy) and not _refused(remember_copy)
    return victim, session_copy, remember_copy


def test_logout_ends_copied_session_and_remember_cookies(app, users):
    victim, session_copy, remember_copy = _copies(app, users["ambassador"])
    other_device = _sign_in(app, users["ambassador"])
    victim.post("/logout")
    assert _refused(victim)
    assert _refused(session_copy)
    assert _refused(remember_copy)
    assert _refused(other_device)  # logout ends every session of the user


def test_password_change_ends_other_sessions_and_keeps_this_one(app, users):
    user = users["ambassador"]
    victim, session_copy, remember_copy = _copies(app, user)
    other_device = _sign_in(app, user)
    new = "blå-kaffekande-17"
    response = victim.post("/account", data={"pw-current": PASSWORD, "pw-new": new, "pw-repeat": new, "pw-submit": "1"})
    assert response.status_code == 302
    assert not _refused(victim)  # the session that changed the password goes on
    assert _refused(session_copy) and _refused(remember_copy) and _refused(other_device)
    # The browser that changed it also got a fresh remember cookie that works on its own.
    assert not _refused(_copied(app, victim, "remember_token"))


def test_password_set_by_an_admin_ends_the_users_sessions(app, users, login_as):
    user = users["ambassador"]
    _victim, session_copy, remember_copy = _copies(app, user)
    admin = login_as(users["admin"])
    form = admin.get(f"/admin/users/{user.id}").text
    version = form.split('name="version" type="hidden" value="')[1].split('"')[0]
    response = admin.post(f"/admin/users/{user.id}", data={
        "email": user.email, "name": user.name, "role": "ambassador", "region": "1084", "active": "y",
        "password": "blå-kaffekande-17", "version": version,
    })
    assert response.status_code == 302, response.text
    assert _refused(session_copy) and _refused(remember_copy)


def test_deactivation_ends_sessions_and_reactivation_revives_nothing(app, users):
    from crm.services import accounts

    user = users["ambassador"]
    _victim, session_copy, remember_copy = _copies(app, user)
    old_feed = user.reset_calendar_token()
    db.session.commit()
    assert app.test_client().get(f"/kalender/feed/{old_feed}.ics").status_code == 200

    accounts.set_active(user, False)
    db.session.commit()
    assert _refused(session_copy) and _refused(remember_copy)
    assert user.calendar_token != old_feed  # the feed link rotates on deactivation

    accounts.set_active(user, True)
    db.session.commit()
    assert _refused(session_copy) and _refused(remember_copy)
    assert user.calendar_token != old_feed
    assert app.test_client().get(f"/kalender/feed/{old_feed}.ics").status_code == 404
    # The user signs in afresh and works as before.
    assert not _refused(_sign_in(app, user))


def test_reactivation_through_the_admin_form_revives_nothing(app, users, login_as):
    user = users["ambassador"]
    _victim, session_copy, remember_copy = _copies(app, user)
    old_feed = user.reset_calendar_token()
    db.session.commit()
    admin = login_as(users["admin"])
    fields = {"email": user.email, "name": user.name, "role": "ambassador", "region": "1084"}
    assert admin.post(f"/admin/users/{user.id}", data={**fields, "version": "1"}).status_code == 302  # inactive
    assert admin.post(f"/admin/users/{user.id}", data={**fields, "active": "y", "version": "2"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).active
    assert _refused(session_copy) and _refused(remember_copy)
    assert app.test_client().get(f"/kalender/feed/{old_feed}.ics").status_code == 404


def test_cli_disable_ends_sessions(app, users, runner):
    user = users["ambassador"]
    _victim, session_copy, remember_copy = _copies(app, user)
    assert runner.invoke(args=["user", "disable", user.email]).exit_code == 0
    db.session.expire_all()
    user = db.session.get(User, user.id)
    user.active = True  # even switched on again behind the app's back: the old cookies stay dead
    db.session.commit()
    assert _refused(session_copy) and _refused(remember_copy)


def test_admin_signs_a_user_out_everywhere(app, users, login_as):
    user = users["ambassador"]
    victim, session_copy, remember_copy = _copies(app, user)
    admin = login_as(users["admin"])
    page = admin.get(f"/admin/users/{user.id}").text
    assert "Log ud på alle enheder" in page and f'action="/admin/users/{user.id}/log-ud-overalt"' in page
    response = admin.post(f"/admin/users/{user.id}/log-ud-overalt")
    assert response.status_code == 302
    assert "er logget ud på alle enheder" in admin.get(response.location).text
    assert _refused(victim) and _refused(session_copy) and _refused(remember_copy)
    assert not _refused(admin)  # the admin is not affected
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "user", AuditEntry.entity_id == str(user.id))
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry.actor == users["admin"].email and entry.changes == {"session_token": ["***", "***"]}


@pytest.mark.parametrize("role", ["ambassador", "working_group"])
def test_only_admins_sign_others_out_and_only_with_csrf(app, users, login_as, role):
    user = users["ambassador_b"]
    victim = _sign_in(app, user)
    assert login_as(users[role]).post(f"/admin/users/{user.id}/log-ud-overalt").status_code == 403
    app.config["WTF_CSRF_ENABLED"] = True
    assert login_as(users["admin"]).post(f"/admin/users/{user.id}/log-ud-overalt").status_code == 400
    assert not _refused(victim)


def test_session_of_another_user_id_with_a_guessed_token_is_refused(app, users):
    from crm.services.accounts import user_for_session

    user = users["ambassador"]
    assert user_for_session(user.get_id()) is user
    assert user_for_session(str(user.id)) is None  # a cookie from before session tokens
    assert user_for_session(f"{user.id}:") is None
    assert user_for_session(f"{user.id}:{'x' * 43}") is None
    assert user_for_session(f"{users['admin'].id}:{user.session_token}") is None
    assert user_for_session("not-a-number:abc") is None
    assert UserFactory().session_token != user.session_token
