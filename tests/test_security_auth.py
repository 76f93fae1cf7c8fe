"""Sign-in hardening: rate limit per client address, back-off per account and address, cookies."""
import secrets
from datetime import timedelta

import pytest

from config import ProductionConfig
from crm import create_app
from sqlalchemy import select, update

from crm.extensions import db
from crm.models import SignInThrottle
from crm.models.mixins import utcnow
from tests import factories
from tests.conftest import _config_for


def _post_login(client, email, password, address="192.0.2.10"):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_login_is_rate_limited_per_address(limited_app, users):
    client = limited_app.test_client()
    for attempt in range(10):
        response = _post_login(client, f"nobody{attempt}@test.dk", "wrong")
        assert response.status_code == 200, attempt  # the form again, with the error
    response = _post_login(client, "nobody@test.dk", "wrong")
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "For mange forsøg. Vent lidt og prøv igen." in page  # the friendly Danish error page
    assert "Traceback" not in page
    assert int(response.headers["Retry-After"]) > 0
    # Even the right password waits: the limit is on the address, before any check.
    assert _post_login(client, users["ambassador"].email, factories.PASSWORD).status_code == 429
    # Showing the form is not limited; another address is not affected.
    assert client.get("/login", environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 200
    assert _post_login(client, users["ambassador"].email, factories.PASSWORD, address="192.0.2.99").status_code == 302


def test_rate_limit_is_off_in_tests_by_default(client, users):
    for _ in range(15):
        assert _post_login(client, "nobody@test.dk", "wrong").status_code == 200


def _throttle_rows():
    return db.session.scalars(select(SignInThrottle)).all()


def test_five_failures_make_the_address_wait(client, users):
    user = users["ambassador"]
    for _ in range(4):
        response = _post_login(client, user.email, "wrong password")
        assert response.status_code == 200
        assert "Forkert e-mail eller adgangskode." in response.get_data(as_text=True)
    response = _post_login(client, user.email, "wrong password")  # the fifth
    assert "For mange forkerte forsøg. Vent 30 sekunder, og prøv igen." in response.get_data(as_text=True)
    [row] = _throttle_rows()
    assert row.failures == 5 and row.blocked_until > utcnow() + timedelta(seconds=25)

    response = _post_login(client, user.email, factories.PASSWORD)  # the right password, but waiting
    assert response.status_code == 200
    assert "For mange forkerte forsøg." in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "_user_id" not in session

    # When the wait has run out, the right password works and the counter starts afresh.
    db.session.execute(update(SignInThrottle).values(blocked_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    response = _post_login(client, user.email, factories.PASSWORD)
    assert response.status_code == 302
    assert _throttle_rows() == []


def test_four_failures_then_success_resets_the_counter(client, users):
    user = users["ambassador"]
    for _ in range(4):
        _post_login(client, user.email, "wrong password")
    assert _throttle_rows()[0].failures == 4
    assert _post_login(client, user.email, factories.PASSWORD).status_code == 302
    assert _throttle_rows() == []


def test_unknown_and_wrong_password_get_the_same_message(client, users):
    unknown = _post_login(client, "nobody@test.dk", "x").get_data(as_text=True)
    wrong = _post_login(client, users["ambassador"].email, "x").get_data(as_text=True)
    message = "Forkert e-mail eller adgangskode."
    assert message in unknown and message in wrong


def _set_cookie_headers(response, name):
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]


def test_session_cookie_is_httponly_and_samesite(client, users):
    response = _post_login(client, users["ambassador"].email, factories.PASSWORD)
    [cookie] = _set_cookie_headers(response, "session")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_remember_cookie_is_httponly_and_samesite(client, users):
    response = client.post("/login", data={"email": users["ambassador"].email, "password": factories.PASSWORD,
                                           "remember": "y"})
    [cookie] = _set_cookie_headers(response, "remember_token")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_cookies_are_secure(app, database_url, users, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(32))
    config = type("ProdOnTestDb", (ProductionConfig,), {"SQLALCHEMY_DATABASE_URI": database_url,
                                                          "RATELIMIT_ENABLED": False})
    production = create_app(config)
    assert production.config["SESSION_COOKIE_SECURE"] and production.config["REMEMBER_COOKIE_SECURE"]
    assert production.config["SESSION_COOKIE_HTTPONLY"] and production.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    # The sign-in form puts its CSRF token in the session, so the first visit sets the cookie.
    response = production.test_client().get("/login", base_url="https://localhost")
    [cookie] = _set_cookie_headers(response, "session")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    create_app(_config_for(database_url))  # leave the shared limiter as the tests expect


def test_production_refuses_the_development_secret(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")
