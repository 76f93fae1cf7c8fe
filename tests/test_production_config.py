"""Settings that decide whether the app may start: the secret key, shared limiter state, PROXY_FIX.

Issue 13, item 1: production refused every real key, and without ``CRM_CONFIG`` the app ran with a
public key in the code, so anyone could forge an admin's session cookie. Now no configuration runs
with a key written in the code: production takes ``SECRET_KEY`` from the environment, development
creates a random key in ``instance/secret_key`` (0600) on first start, and only testing is fixed.
"""
import os
import secrets
import stat

import pytest
from flask import request as flask_request
from flask.sessions import SecureCookieSessionInterface

import config as settings
from config import CONFIGS, DevelopmentConfig, ProductionConfig, TestingConfig
from crm import create_app
from crm.extensions import db
from crm.secret_key import load_or_create_secret_key
from tests import factories
from tests.conftest import _config_for

REDIS = "redis://127.0.0.1:6379/0"


def _production(**overrides) -> type:
    """ProductionConfig with shared limiter storage (which production insists on)."""
    return type("Prod", (ProductionConfig,), {"RATELIMIT_STORAGE_URI": REDIS, **overrides})


@pytest.fixture
def instance_dir(tmp_path, monkeypatch):
    """create_app keeps its instance files (the development key) under tmp_path/instance."""
    path = tmp_path / "instance"
    monkeypatch.setattr(settings, "INSTANCE_DIR", path)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    return path


def test_production_starts_with_a_real_random_key(monkeypatch):
    key = secrets.token_hex(32)
    monkeypatch.setenv("SECRET_KEY", key)
    app = create_app(_production())
    assert app.config["SECRET_KEY"] == key


@pytest.mark.parametrize("weak", ["", "short", "x" * 40, "ab" * 20])
def test_production_refuses_a_missing_or_weak_key(monkeypatch, weak):
    monkeypatch.setenv("SECRET_KEY", weak)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(_production())


def test_production_refuses_limiter_state_kept_per_worker(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(32))
    with pytest.raises(RuntimeError, match="RATELIMIT_STORAGE_URI"):
        create_app(_production(RATELIMIT_STORAGE_URI="memory://"))


def test_no_configuration_has_a_key_in_the_code_except_testing():
    assert TestingConfig.SECRET_KEY
    for name, config_class in CONFIGS.items():
        if name != "testing":
            assert not config_class.SECRET_KEY, name


def test_development_creates_a_private_random_key_and_keeps_it(instance_dir, tmp_path):
    first = create_app(type("Dev", (DevelopmentConfig,), {"SQLALCHEMY_DATABASE_URI": "sqlite://"}))
    key_file = instance_dir / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.config["SECRET_KEY"]
    assert len(key) >= 64 and key == key_file.read_text().strip()
    # Restarted: the same key, so sessions survive the restart.
    again = create_app(type("Dev", (DevelopmentConfig,), {"SQLALCHEMY_DATABASE_URI": "sqlite://"}))
    assert again.config["SECRET_KEY"] == key
    # Another installation gets another key.
    assert load_or_create_secret_key(tmp_path / "other" / "secret_key") != key


def test_development_uses_secret_key_from_the_environment(instance_dir, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment-" + secrets.token_hex(8))
    app = create_app(type("Dev", (DevelopmentConfig,), {"SQLALCHEMY_DATABASE_URI": "sqlite://"}))
    assert app.config["SECRET_KEY"] == os.environ["SECRET_KEY"]
    assert not (instance_dir / "secret_key").exists()


def test_a_readable_key_file_is_made_private(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("k" * 64)
    key_file.chmod(0o644)
    assert load_or_create_secret_key(key_file) == "k" * 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_testing_has_its_fixed_key():
    assert create_app("testing").config["SECRET_KEY"] == "testing-secret"


def test_a_cookie_forged_with_the_old_public_key_opens_nothing(instance_dir, tmp_path):
    """The reproduced attack: a session cookie for user 1 signed with 'dev-only-not-secret'."""
    url = f"sqlite:///{tmp_path / 'dev.sqlite'}"
    app = create_app(type("Dev", (DevelopmentConfig,), {"SQLALCHEMY_DATABASE_URI": url,
                                                         "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}))
    with app.app_context():
        db.create_all()
        admin = factories.UserFactory(role="admin", region_code=None, email="admin@test.dk")
        admin_id = admin.id
        forger = type("Forger", (), {"secret_key": "dev-only-not-secret", "config": app.config})
        serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
        cookie = serializer.dumps({"_user_id": str(admin_id), "_fresh": True})
        db.session.remove()
    client = app.test_client()
    client.set_cookie("session", cookie, domain="localhost")
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- PROXY_FIX ---------------------------------------------------------------------------------


@pytest.fixture
def proxied_app(app, database_url, request):
    """The test database with the sign-in limit on (2 a minute) and PROXY_FIX as parametrised."""
    proxied = create_app(_config_for(database_url, UPLOAD_FOLDER=app.config["UPLOAD_FOLDER"],
                                     RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute",
                                     PROXY_FIX=request.param))

    @proxied.get("/_probe")
    def _probe():
        """What the app believes about the client."""
        return {"address": flask_request.remote_addr, "scheme": flask_request.scheme}

    yield proxied
    create_app(_config_for(database_url))  # the limiter is shared: leave it switched off again


def _post_login(client, forwarded_for: str):
    return client.post("/login", data={"email": "nobody@test.dk", "password": "wrong"},
                       headers={"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"},
                       environ_base={"REMOTE_ADDR": "10.0.0.2"})


@pytest.mark.parametrize("proxied_app", [0], indirect=True)
def test_without_proxy_fix_forwarded_headers_are_ignored(proxied_app):
    """Off by default: a client cannot dodge the per-address limit with a made-up X-Forwarded-For."""
    client = proxied_app.test_client()
    codes = [_post_login(client, f"198.51.100.{n}").status_code for n in range(3)]
    assert codes == [200, 200, 429]
    probe = client.get("/_probe", headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"},
                       environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert probe.json == {"address": "10.0.0.2", "scheme": "http"}


@pytest.mark.parametrize("proxied_app", [1], indirect=True)
def test_behind_proxy_fix_the_client_address_and_scheme_come_from_the_proxy(proxied_app):
    client = proxied_app.test_client()
    # Each client address has its own count; the proxy's own address (10.0.0.2) does not matter.
    assert [_post_login(client, "198.51.100.1").status_code for _ in range(3)] == [200, 200, 429]
    assert _post_login(client, "198.51.100.2").status_code == 200
    # Only the last PROXY_FIX entries are trusted: a client's own X-Forwarded-For prefix is not.
    assert _post_login(client, "203.0.113.9, 198.51.100.1").status_code == 429
    probe = client.get("/_probe", headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"},
                       environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert probe.json == {"address": "198.51.100.7", "scheme": "https"}


# --- The README's settings table ---------------------------------------------------------------


def test_the_readme_names_every_setting_config_reads():
    """Every environment variable config.py reads is explained in the README (the test database
    URL is the test suite's, described in its own paragraph)."""
    from tests.test_deployment import README, config_settings

    names = config_settings()
    readme = README.read_text(encoding="utf-8")
    assert len(names) > 30
    assert sorted(name for name in names if f"`{name}`" not in readme) == []


def test_sign_in_keeps_working_while_redis_is_down(app, database_url, users, monkeypatch):
    """Production's limiter falls back to counting per worker instead of failing every sign-in."""
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(32))
    # RATELIMIT_ENABLED spelled out: in one process the shared limiter keeps the test config's "off".
    production = create_app(_production(SQLALCHEMY_DATABASE_URI=database_url, WTF_CSRF_ENABLED=False,
                                        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0",
                                        RATELIMIT_KEY_PREFIX=f"crm-test-{secrets.token_hex(6)}"))
    try:
        client = production.test_client()
        response = client.post("/login", data={"email": users["ambassador"].email, "password": factories.PASSWORD},
                               base_url="https://localhost")
        assert response.status_code == 302 and response.headers["Location"] == "/"
    finally:
        create_app(_config_for(database_url))  # the limiter is shared: leave it switched off again


def test_workers_starting_at_once_share_one_development_key(tmp_path):
    """gunicorn's workers start together: each must end up with the same key, never a half-written one."""
    from concurrent.futures import ProcessPoolExecutor

    key_file = tmp_path / "instance" / "secret_key"
    with ProcessPoolExecutor(max_workers=4) as pool:
        keys = list(pool.map(load_or_create_secret_key, [key_file] * 8))
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert [p.name for p in key_file.parent.iterdir()] == ["secret_key"]  # no temporary files left
