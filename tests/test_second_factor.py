"""The second factor for password sign-ins (issue 18 item 2): TOTP codes computed here with pyotp,
recovery codes, the sign-in step, the requirement for admins (or all), the admin's reset, the audit
log and the end of other sessions."""
import re
import time

import pyotp
import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry, RecoveryCode, SecondFactor, User
from crm.services import second_factor
from crm.services.errors import FieldError, Forbidden
from tests.factories import PASSWORD, UserFactory

# A fixed moment (on a step boundary) for the service tests: codes are computed for it.
T = 1_800_000_000.0
STEP = 30


def _enrol(user, at=None) -> tuple[str, list[str]]:
    """Enrol ``user`` through the service with a code from pyotp; returns (secret, recovery codes).
    Without ``at`` the enrolment code is the one of two steps ago, so a sign-in right after may use
    the current code (each step is accepted once)."""
    at = time.time() - 2 * STEP if at is None else at
    secret = second_factor.start_enrolment(user, actor=user)
    codes = second_factor.confirm_enrolment(user, pyotp.TOTP(secret).at(at), actor=user, at=at)
    return secret, codes


def _fresh(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


# --- Service ------------------------------------------------------------------------------------

def test_enrolment_turns_the_factor_on_only_with_a_code_from_the_secret(app, users):
    user = users["ambassador"]
    secret = second_factor.start_enrolment(user, actor=user)
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert second_factor.start_enrolment(user, actor=user) == secret  # a reload shows the same secret
    assert not second_factor.is_enabled(user)
    with pytest.raises(FieldError) as refused:
        second_factor.confirm_enrolment(user, "000000" if pyotp.TOTP(secret).at(T) != "000000" else "111111",
                                        actor=user, at=T)
    assert refused.value.field == "code"
    assert not second_factor.is_enabled(user)
    token = user.session_token
    codes = second_factor.confirm_enrolment(user, pyotp.TOTP(secret).at(T), actor=user, at=T)
    assert second_factor.is_enabled(user)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code) for code in codes)
    assert _fresh(user).session_token != token  # other sessions end


def test_the_secret_is_encrypted_at_rest_and_the_recovery_codes_hashed(app, users):
    user = users["ambassador"]
    secret, codes = _enrol(user, at=T)
    stored = db.session.get(SecondFactor, user.id).totp_secret
    assert secret not in stored and secret.lower() not in stored.lower()
    hashes = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert len(hashes) == 10
    for code_hash in hashes:
        assert code_hash.startswith("pbkdf2:")  # the configured password hash (scrypt in production)
        assert not any(code.replace("-", "") in code_hash for code in codes)


def test_codes_in_the_window_are_accepted_once_each(app, users):
    user = users["ambassador"]
    secret, _codes = _enrol(user, at=T - 10 * STEP)
    totp = pyotp.TOTP(secret)
    assert second_factor.verify(user, totp.at(T - 2 * STEP), at=T) is None  # outside ±1 step
    assert second_factor.verify(user, totp.at(T + 2 * STEP), at=T) is None
    assert second_factor.verify(user, totp.at(T - STEP), at=T) == "totp"  # one step behind
    assert second_factor.verify(user, totp.at(T - STEP), at=T) is None  # replayed
    assert second_factor.verify(user, totp.at(T), at=T) == "totp"
    assert second_factor.verify(user, totp.at(T), at=T + 5) is None  # replayed within its step
    assert second_factor.verify(user, totp.at(T - STEP), at=T + STEP) is None  # older than the last used
    assert second_factor.verify(user, totp.at(T + STEP), at=T) == "totp"  # one step ahead (a fast phone)
    assert second_factor.verify(user, "12 34", at=T) is None
    assert second_factor.verify(user, "", at=T) is None


def test_the_enrolment_code_cannot_be_used_again_to_sign_in(app, users):
    user = users["ambassador"]
    secret, _codes = _enrol(user, at=T)
    assert second_factor.verify(user, pyotp.TOTP(secret).at(T), at=T) is None


def test_recovery_codes_work_once_each(app, users):
    user = users["ambassador"]
    _secret, codes = _enrol(user, at=T)
    assert second_factor.recovery_codes_left(user) == 10
    assert second_factor.verify(user, codes[0], at=T) == "recovery"
    assert second_factor.verify(user, codes[0], at=T) is None
    assert second_factor.verify(user, f" {codes[1].upper().replace('-', ' ')} ", at=T) == "recovery"  # typed loosely
    assert second_factor.recovery_codes_left(user) == 8
    other = users["ambassador_b"]
    _enrol(other, at=T)
    assert second_factor.verify(other, codes[2], at=T) is None  # another user's code
    assert second_factor.verify(user, "abcde-fghjk", at=T) is None


def test_new_recovery_codes_replace_the_old_ones(app, users):
    user = users["ambassador"]
    secret, old = _enrol(user, at=T - 10 * STEP)
    with pytest.raises(FieldError):
        second_factor.regenerate_recovery_codes(user, "abcde-abcde", actor=user, at=T)
    new = second_factor.regenerate_recovery_codes(user, pyotp.TOTP(secret).at(T), actor=user, at=T)
    assert second_factor.verify(user, old[0], at=T) is None
    assert second_factor.verify(user, new[0], at=T) == "recovery"
    assert second_factor.recovery_codes_left(user) == 9


def test_wrong_codes_get_the_sign_in_back_off(app, users):
    user = users["ambassador"]
    secret, _codes = _enrol(user, at=T - 10 * STEP)
    for _ in range(4):
        assert second_factor.check_code(user, "000001", at=T) == "Koden er forkert eller allerede brugt."
    assert "For mange forkerte forsøg. Vent 30 sekunder" in second_factor.check_code(user, "000001", at=T)
    # While the wait lasts, even the right code is refused and not spent.
    assert "For mange forkerte forsøg" in second_factor.check_code(user, pyotp.TOTP(secret).at(T), at=T)
    assert db.session.get(SecondFactor, user.id).last_used_step < T // STEP


def test_a_correct_password_does_not_reset_the_count_of_wrong_codes(app, users, client):
    user = users["ambassador"]
    _enrol(user, at=T - 10 * STEP)
    for _ in range(5):
        second_factor.check_code(user, "000001", at=T)
        client.post("/login", data={"email": user.email, "password": PASSWORD})  # right password
    assert "For mange forkerte forsøg" in second_factor.check_code(user, "000001", at=T)


def test_user_disables_with_a_current_code(app, users):
    user = users["ambassador"]
    secret, _codes = _enrol(user, at=T - 10 * STEP)
    with pytest.raises(FieldError):
        second_factor.disable(user, "000001", actor=user, at=T)
    assert second_factor.is_enabled(user)
    token = user.session_token
    second_factor.disable(user, pyotp.TOTP(secret).at(T), actor=user, at=T)
    assert not second_factor.is_enabled(user)
    factor = db.session.get(SecondFactor, user.id)
    assert factor.totp_secret is None and second_factor.recovery_codes_left(user) == 0
    assert _fresh(user).session_token != token


def test_only_admins_reset_and_a_reason_is_required(app, users):
    user = users["ambassador"]
    _enrol(user, at=T)
    with pytest.raises(Forbidden):
        second_factor.reset(user, "Mistet telefon", actor=users["working_group"])
    with pytest.raises(Forbidden):
        second_factor.reset(user, "Mistet telefon", actor=users["ambassador_b"])
    with pytest.raises(FieldError) as refused:
        second_factor.reset(user, "   ", actor=users["admin"])
    assert refused.value.field == "reason"
    token = user.session_token
    second_factor.reset(user, "Mistet telefon", actor=users["admin"])
    assert not second_factor.is_enabled(user)
    assert second_factor.recovery_codes_left(user) == 0
    assert db.session.get(SecondFactor, user.id).reset_reason == "Mistet telefon"
    assert _fresh(user).session_token != token


def test_a_secret_from_another_secret_key_is_refused_not_a_crash(app, users):
    user = users["ambassador"]
    secret, codes = _enrol(user, at=T - 10 * STEP)
    app.config["SECRET_KEY"] = "another-secret-key-after-rotation"
    assert second_factor.verify(user, pyotp.TOTP(secret).at(T), at=T) is None
    assert second_factor.verify(user, codes[0], at=T) == "recovery"  # recovery codes still work


def test_required_for_admins_and_optionally_for_all(app, users):
    app.config["TOTP_REQUIRED_FOR_ADMINS"] = True
    assert second_factor.is_required(users["admin"])
    assert not second_factor.is_required(users["ambassador"])
    app.config["TOTP_REQUIRED_FOR_ALL"] = True
    assert all(second_factor.is_required(user) for user in users.values())


def test_production_requires_the_factor_for_admins(monkeypatch):
    from config import Config, ProductionConfig, TestingConfig

    assert "TOTP_REQUIRED_FOR_ADMINS" in vars(ProductionConfig)  # not from the environment
    assert ProductionConfig.TOTP_REQUIRED_FOR_ADMINS is True
    assert Config.TOTP_REQUIRED_FOR_ALL is False
    assert TestingConfig.TOTP_REQUIRED_FOR_ADMINS is False


def test_production_app_sends_an_admin_to_enrolment_after_the_password(database_url, tmp_path, monkeypatch):
    """An app built from ProductionConfig (cookies not secure so the test client keeps them)."""
    from config import ProductionConfig
    from crm import create_app
    from tests.conftest import _reset_data

    monkeypatch.setenv("SECRET_KEY", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8")
    attrs = {"SQLALCHEMY_DATABASE_URI": database_url, "UPLOAD_FOLDER": str(tmp_path), "RATELIMIT_ENABLED": False,
             "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False, "WTF_CSRF_ENABLED": False,
             "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SECRET_KEY": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8"}
    production = create_app(type("Prod", (ProductionConfig,), attrs))
    with production.app_context():
        _reset_data()
        admin = UserFactory(role="admin", region_code=None, email="prod-admin@test.dk")
        client = production.test_client()
        response = client.post("/login", data={"email": admin.email, "password": PASSWORD})
        assert response.location == "/account/two-factor"
        assert client.get("/kommuner/").location == "/account/two-factor"
        db.session.remove()


# --- Sign-in with the test client ------------------------------------------------------------

def _login(client, user, next_url=None, remember=False):
    data = {"email": user.email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    return client.post("/login" + (f"?next={next_url}" if next_url else ""), data=data)


def test_sign_in_asks_for_the_code_before_the_session_starts(app, users, client):
    user = users["ambassador"]
    secret, _codes = _enrol(user)
    response = _login(client, user, next_url="/kommuner/")
    assert response.status_code == 302 and response.location == "/login/code"
    with client.session_transaction() as session:
        assert "_user_id" not in session
    assert client.get("/").location.startswith("/login")  # not signed in yet
    page = client.get("/login/code")
    assert page.status_code == 200 and "Totrinsbekræftelse" in page.text
    wrong = client.post("/login/code", data={"code": "000001"})
    assert "Koden er forkert eller allerede brugt." in wrong.text
    ok = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 302 and ok.location == "/kommuner/"  # next kept
    assert client.get("/").status_code == 200
    client.post("/logout")
    # The same code again (a replay) is refused.
    _login(client, user)
    assert "Koden er forkert eller allerede brugt." in client.post("/login/code", data={"code": pyotp.TOTP(secret).now()}).text


def test_a_recovery_code_signs_in_once(app, users, client):
    user = users["ambassador"]
    _secret, codes = _enrol(user)
    _login(client, user)
    assert client.post("/login/code", data={"code": codes[0]}).location == "/"
    client.post("/logout")
    _login(client, user)
    assert "Koden er forkert eller allerede brugt." in client.post("/login/code", data={"code": codes[0]}).text


def test_next_off_site_is_dropped_after_the_code(app, users, client):
    user = users["ambassador"]
    secret, _codes = _enrol(user)
    _login(client, user, next_url="https://evil.example/")
    assert client.post("/login/code", data={"code": pyotp.TOTP(secret).now()}).location == "/"


def test_the_half_signed_in_state_expires(app, users, client):
    user = users["ambassador"]
    secret, _codes = _enrol(user)
    _login(client, user)
    with client.session_transaction() as session:
        state = session["awaiting_second_factor"]
        state["until"] = int(time.time()) - 1
        session["awaiting_second_factor"] = state
    response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response.location == "/login"
    with client.session_transaction() as session:
        assert "_user_id" not in session and "awaiting_second_factor" not in session


def test_the_code_step_without_a_password_goes_back_to_sign_in(app, users, client):
    assert client.get("/login/code").location == "/login"
    with client.session_transaction() as session:  # a forged or stale state
        session["awaiting_second_factor"] = {"user": users["ambassador"].id, "token": "guess",
                                             "until": int(time.time()) + 300, "remember": False, "next": "/"}
    assert client.post("/login/code", data={"code": "123456"}).location == "/login"


def test_a_password_change_meanwhile_ends_the_half_signed_in_state(app, users, client):
    user = users["ambassador"]
    secret, _codes = _enrol(user)
    _login(client, user)
    user = _fresh(user)
    user.rotate_session_token()
    db.session.commit()
    assert client.post("/login/code", data={"code": pyotp.TOTP(secret).now()}).location == "/login"


def test_wrong_codes_lock_the_code_step_out(app, users, client):
    user = users["ambassador"]
    secret, _codes = _enrol(user)
    _login(client, user)
    for _ in range(4):
        assert "Koden er forkert" in client.post("/login/code", data={"code": "000001"}).text
    assert "For mange forkerte forsøg" in client.post("/login/code", data={"code": "000001"}).text
    response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200 and "For mange forkerte forsøg" in response.text
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_the_code_step_is_rate_limited_per_address(limited_app, users):
    with limited_app.app_context():
        client = limited_app.test_client()
        for _ in range(10):
            assert client.post("/login/code", data={"code": "000001"}).status_code == 302
        assert client.post("/login/code", data={"code": "000001"}).status_code == 429


def test_remember_me_is_kept_through_the_code_step(app, users, client):
    user = users["ambassador"]
    secret, _codes = _enrol(user)
    _login(client, user, remember=True)
    response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert any("remember_token" in header for header in response.headers.getlist("Set-Cookie"))


# --- Required: enrolment before anything else ---------------------------------------------------

def _secret_on(page_text: str) -> str:
    match = re.search(r"data-totp-secret>([A-Z2-7 ]+)<", page_text)
    assert match, "no secret on the enrolment page"
    return match.group(1).replace(" ", "")


def test_an_admin_without_the_factor_must_enrol_before_anything_else(app, users, client):
    app.config["TOTP_REQUIRED_FOR_ADMINS"] = True
    admin = users["admin"]
    response = _login(client, admin, next_url="/kommuner/")
    assert response.location == "/account/two-factor"
    for url in ("/", "/kommuner/", "/admin/users", "/account"):
        assert client.get(url).location == "/account/two-factor", url
    created = client.post("/admin/users/new", data={"email": "ny@test.dk", "role": "working_group",
                                                    "password": "a-long-password-1", "active": "y"})
    assert created.location == "/account/two-factor"
    assert db.session.scalar(select(User).where(User.email == "ny@test.dk")) is None
    page = client.get("/account/two-factor")
    assert page.status_code == 200 and "<svg" in page.text
    secret = _secret_on(page.text)
    refused = client.post("/account/two-factor", data={"code": "abc"})
    assert refused.status_code == 400 and "Koden passer ikke" in refused.text
    assert _secret_on(refused.text) == secret  # the same secret again
    enrolled = client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert enrolled.status_code == 200
    codes = re.findall(r"<li class=\"col\">([a-z2-9]{5}-[a-z2-9]{5})</li>", enrolled.text)
    assert len(codes) == 10
    assert client.get("/kommuner/").status_code == 200  # this session goes on


def test_other_roles_are_not_required_unless_the_setting_says_so(app, users, client):
    app.config["TOTP_REQUIRED_FOR_ADMINS"] = True
    assert _login(client, users["ambassador"]).location == "/"
    assert client.get("/kommuner/").status_code == 200
    app.config["TOTP_REQUIRED_FOR_ALL"] = True
    assert client.get("/kommuner/").location == "/account/two-factor"  # checked on every request
    client.post("/logout")
    assert _login(client, users["working_group"]).location == "/account/two-factor"


def test_the_requirement_is_checked_for_sessions_not_started_by_the_form(app, users, login_as):
    """A session restored from a remember cookie (here: set directly) counts as a password session;
    one the OpenID Connect sign-in marks is not asked for the factor."""
    app.config["TOTP_REQUIRED_FOR_ADMINS"] = True
    client = login_as(users["admin"])
    assert client.get("/kommuner/").location == "/account/two-factor"
    with client.session_transaction() as session:
        session["sign_in_method"] = "oidc"
    assert client.get("/kommuner/").status_code == 200


def test_sign_out_and_language_stay_open_while_enrolment_is_required(app, users, client):
    app.config["TOTP_REQUIRED_FOR_ADMINS"] = True
    _login(client, users["admin"])
    assert client.post("/language/en", data={"next": "/account/two-factor"}).location == "/account/two-factor"
    assert client.post("/logout").location == "/login"
    assert client.get("/").location.startswith("/login")


# --- Account page: enrolment, new codes, turning off; other sessions end --------------------------

def test_enrolment_on_the_account_page_ends_other_sessions(app, users, login_as):
    user = users["ambassador"]
    here, elsewhere = login_as(user), login_as(user)
    assert "Slå totrinsbekræftelse til" in here.get("/account").text
    secret = _secret_on(here.get("/account/two-factor").text)
    assert here.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now()}).status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert here.get("/").status_code == 200
    assert "Du har 10 ubrugte gendannelseskoder." in here.get("/account/two-factor").text


def test_new_recovery_codes_and_turning_off_need_a_code(app, users, login_as):
    user = users["ambassador"]
    secret, codes = _enrol(user)
    client, elsewhere = login_as(_fresh(user)), login_as(_fresh(user))
    refused = client.post("/account/two-factor/recovery-codes", data={"new-code": "000001"})
    assert refused.status_code == 400 and "Koden er forkert" in refused.text
    new = client.post("/account/two-factor/recovery-codes", data={"new-code": codes[0]})
    assert new.status_code == 200 and "vises kun denne ene gang" in new.text
    assert elsewhere.get("/").status_code == 302
    refused = client.post("/account/two-factor/disable", data={"off-code": "000001"})
    assert refused.status_code == 400 and "Koden er forkert" in refused.text
    assert second_factor.is_enabled(user)
    off = client.post("/account/two-factor/disable", data={"off-code": pyotp.TOTP(secret).now()})
    assert off.status_code == 302 and off.location == "/account"
    assert not second_factor.is_enabled(user)
    assert client.get("/").status_code == 200  # this session goes on


# --- Admin reset --------------------------------------------------------------------------------

def test_admin_resets_a_users_factor_with_a_reason(app, users, login_as, client):
    user = users["ambassador"]
    secret, _codes = _enrol(user)
    users_session = login_as(_fresh(user))
    url = f"/admin/users/{user.id}/totrinsbekraeftelse/nulstil"
    for role in ("ambassador", "ambassador_b", "working_group"):
        assert login_as(users[role]).post(url, data={"sf-reason": "x"}).status_code == 403, role
    admin = login_as(users["admin"])
    assert "Nulstil totrinsbekræftelse" in admin.get(f"/admin/users/{user.id}").text
    missing = admin.post(url, data={"sf-reason": ""})
    assert missing.status_code == 400 and second_factor.is_enabled(user)
    done = admin.post(url, data={"sf-reason": "Mistet telefon, ringede i dag"})
    assert done.status_code == 302
    assert not second_factor.is_enabled(user)
    assert users_session.get("/").status_code == 302  # the user's sessions ended
    assert _login(client, user).location == "/"  # no code asked any more (not required for ambassadors)
    log = admin.get("/admin/audit").text
    assert "Totrinsbekræftelse" in log and "slået fra" in log and "Mistet telefon, ringede i dag" in log


def test_an_admin_who_is_reset_must_enrol_again(app, users, client):
    app.config["TOTP_REQUIRED_FOR_ADMINS"] = True
    other_admin = UserFactory(role="admin", region_code=None, email="admin2@test.dk")
    _enrol(other_admin)
    second_factor.reset(other_admin, "Ny telefon", actor=users["admin"])
    assert _login(client, other_admin).location == "/account/two-factor"


# --- Audit --------------------------------------------------------------------------------------

def test_changes_are_audited_without_secrets(app, users, login_as):
    user = users["ambassador"]
    client = login_as(user)
    secret = _secret_on(client.get("/account/two-factor").text)
    page = client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"([a-z2-9]{5}-[a-z2-9]{5})</li>", page.text)
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "second_factor")
                                 .order_by(AuditEntry.id)).all()
    assert [entry.action for entry in entries] == ["create", "update"]
    assert entries[-1].changes["totp_enabled"] == [False, True]
    assert all(entry.user_id == user.id for entry in entries)
    everything = " ".join(str(entry.changes) for entry in db.session.scalars(select(AuditEntry)))
    stored = db.session.get(SecondFactor, user.id).totp_secret
    assert secret not in everything and stored not in everything
    assert not any(code in everything or code.replace("-", "") in everything for code in codes)
    assert "'totp_secret': '***'" in str(entries[0].changes)
    log = login_as(users["admin"]).get("/admin/audit?entity=second_factor").text
    assert "Totrinsbekræftelse" in log and "slået fra" in log and "slået til" in log
    assert secret not in log


def test_the_command_line_resets_a_locked_out_admin(app, users, runner):
    admin = users["admin"]
    _enrol(admin)
    result = runner.invoke(args=["user", "reset-second-factor", admin.email, "--reason", "Mistet telefon"])
    assert result.exit_code == 0, result.output
    assert not second_factor.is_enabled(admin)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "second_factor")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.actor == "cli (admin)" and entry.changes["reset_reason"] == [None, "Mistet telefon"]
    again = runner.invoke(args=["user", "reset-second-factor", admin.email, "--reason", "x"])
    assert again.exit_code != 0 and "ikke totrinsbekræftelse" in again.output
    assert runner.invoke(args=["user", "reset-second-factor", "nobody@test.dk", "--reason", "x"]).exit_code != 0
