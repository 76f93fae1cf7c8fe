"""Sign-in, sign-out, lockout, CSRF, own password and language."""
import pytest

from crm.extensions import db
from crm.models import User
from tests.factories import PASSWORD, UserFactory


def test_login_and_logout(auth, client, users):
    response = auth.login(users["ambassador"])
    assert response.status_code == 302 and response.location == "/"
    assert client.get("/").status_code == 200
    auth.logout()
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    "email, password, message",
    [
        ("amb.hov@test.dk", "wrong password", "Forkert e-mail eller adgangskode."),
        ("nobody@test.dk", PASSWORD, "Forkert e-mail eller adgangskode."),
        ("", "", "This field is required."),
    ],
)
def test_bad_credentials_give_a_clear_message(client, users, email, password, message):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 200
    assert message in response.text
    assert f'value="{email}"' in response.text or not email  # input kept


def test_disabled_user_cannot_sign_in(client, users):
    user = users["ambassador"]
    user.active = False
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "deaktiveret" in response.text


def test_disabled_user_loses_running_session(login_as, users):
    signed_in = login_as(users["ambassador"])
    assert signed_in.get("/").status_code == 200
    users["ambassador"].active = False
    db.session.commit()
    assert signed_in.get("/").status_code == 302


def test_backoff_after_repeated_failures(client, users):
    user = users["ambassador"]
    for _ in range(5):
        client.post("/login", data={"email": user.email, "password": "nope"})
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert "For mange forkerte forsøg. Vent 30 sekunder" in response.text
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_missing_csrf_token_is_a_clear_400(app, client, users):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/login", data={"email": users["ambassador"].email, "password": PASSWORD})
    assert response.status_code == 400
    assert "sikkerhedsnøglen" in response.text


def test_next_parameter_cannot_leave_the_site(client, users):
    response = client.post(
        "/login?next=https://evil.example/", data={"email": users["admin"].email, "password": PASSWORD}
    )
    assert response.location == "/"
    client.post("/logout")
    response = client.post("/login?next=/kommuner/", data={"email": users["admin"].email, "password": PASSWORD})
    assert response.location == "/kommuner/"


def test_remember_me_sets_a_cookie(client, users):
    response = client.post(
        "/login", data={"email": users["ambassador"].email, "password": PASSWORD, "remember": "y"}
    )
    assert "remember_token" in response.headers.get("Set-Cookie", "") or any(
        "remember_token" in h for h in response.headers.getlist("Set-Cookie")
    )


def test_change_own_password(login_as, users):
    client = login_as(users["ambassador"])
    new, other = "blå-kaffekande-17", "grøn-tekande-42"
    bad = client.post("/account", data={"pw-current": "wrong", "pw-new": new, "pw-repeat": new, "pw-submit": "1"})
    assert "Adgangskoden er forkert." in bad.text
    mismatch = client.post("/account", data={"pw-current": PASSWORD, "pw-new": new, "pw-repeat": other, "pw-submit": "1"})
    assert "De to adgangskoder er ikke ens." in mismatch.text
    ok = client.post("/account", data={"pw-current": PASSWORD, "pw-new": new, "pw-repeat": new, "pw-submit": "1"})
    assert ok.status_code == 302
    assert db.session.get(User, users["ambassador"].id).check_password(new)


def test_language_choice_switches_the_ui_to_english(login_as, users):
    client = login_as(users["ambassador"])
    assert "Log ud" in client.get("/").text
    client.post("/account", data={"lang-locale": "en", "lang-submit": "1"})
    assert db.session.get(User, users["ambassador"].id).locale == "en"
    assert "Log out" in client.get("/").text


def test_anonymous_language_switch(client):
    client.post("/language/en", data={"next": "/login"})
    assert "Sign in" in client.get("/login").text


def test_dates_are_shown_danish_style(app):
    from datetime import date

    from crm.formatting import format_date

    assert format_date(date(2026, 11, 23)) == "23-11-2026"


def test_user_factory_passwords_are_hashed(users):
    assert users["admin"].password_hash.startswith("pbkdf2:")


def test_production_hashes_with_scrypt(app):
    from config import Config

    assert Config.PASSWORD_HASH_METHOD == "scrypt"


def test_production_refuses_to_start_without_a_real_secret(monkeypatch):
    from config import ProductionConfig
    from crm import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig)
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(RuntimeError):
        create_app(ProductionConfig)


def test_admin_user_form_errors_are_shown_beside_fields(login_as, users):
    client = login_as(users["admin"])
    response = client.post("/admin/users/new", data={"email": "amb.hov@test.dk", "role": "ambassador", "region": ""})
    assert response.status_code == 200
    assert "Der findes allerede en bruger med denne e-mail." in response.text
    assert "En ambassadør skal have en region." in response.text
    assert "Angiv en adgangskode for en ny bruger." in response.text
    created = client.post(
        "/admin/users/new",
        data={"email": "ny@test.dk", "role": "ambassador", "region": "1081", "password": "a-long-password", "active": "y"},
    )
    assert created.status_code == 302
    assert login_as(users["ambassador"]).get("/admin/users/new").status_code == 403
