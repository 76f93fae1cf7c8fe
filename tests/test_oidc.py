"""OpenID Connect sign-in rules (crm/services/oidc.py) and its pages without a provider; the
whole flow against a real provider is in tests/test_browser_oidc.py."""
import pytest
from sqlalchemy import select

from crm import create_app
from crm.extensions import db
from crm.models import AuditEntry, User, UserIdentity
from crm.services import oidc
from tests import factories
from tests.conftest import _config_for

ISSUER = "https://idp.example.dk"
# Nothing listens on port 9: discovery fails at once.
UNREACHABLE = "http://127.0.0.1:9"


def settings(**extra) -> oidc.ProviderSettings:
    return oidc.configured_providers([{"name": "entra", "display_name": "Region (Entra ID)", "issuer": ISSUER,
                                       "client_id": "crm", "client_secret": "s", **extra}])["entra"]


def claims(sub="sub-1", email="amb.hov@test.dk", verified=True, issuer=ISSUER, **extra):
    values = {"iss": issuer, "sub": sub, "aud": "crm", "email": email, **extra}
    if verified is not None:
        values["email_verified"] = verified
    return values


def refusals() -> list[dict]:
    return [e.changes for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "refused"))]


@pytest.fixture
def oidc_app(app, database_url):
    """The same database, with one provider configured (unreachable: only pages without it)."""
    return create_app(_config_for(database_url, UPLOAD_FOLDER=app.config["UPLOAD_FOLDER"], OIDC_PROVIDERS=[
        {"name": "test", "display_name": "Test-IdP", "issuer": UNREACHABLE, "client_id": "crm", "client_secret": "s"},
    ]))


# --- settings ---------------------------------------------------------------------------------

def test_provider_settings_are_checked_at_start():
    assert oidc.configured_providers([]) == {}
    provider = settings()
    assert (provider.scopes, provider.metadata_url) == ("openid email profile", ISSUER + "/.well-known/openid-configuration")
    for broken in ({"name": "x"}, {"name": "Bad Name", "issuer": ISSUER, "client_id": "c", "client_secret": "s"},
                   {"name": "x", "issuer": ISSUER, "client_id": "c", "client_secret": "s", "scopes": "email"},
                   {"name": "x", "issuer": ISSUER, "client_id": "c", "client_secret": "s", "groups": "admin"}):
        with pytest.raises(ValueError):
            oidc.configured_providers([broken])
    with pytest.raises(ValueError):
        oidc.configured_providers({"name": "x"})
    twice = {"name": "x", "issuer": ISSUER, "client_id": "c", "client_secret": "s"}
    with pytest.raises(ValueError):
        oidc.configured_providers([twice, twice])


def test_a_broken_setting_stops_the_app_from_starting(database_url):
    with pytest.raises(ValueError):
        create_app(_config_for(database_url, OIDC_PROVIDERS=[{"name": "x"}]))


def test_leeway_is_bounded():
    assert [oidc.leeway_seconds(v) for v in (-5, 0, 60, 3600)] == [0, 0, 60, 300]


# --- who a verified token signs in ------------------------------------------------------------

def test_first_sign_in_links_through_the_verified_email_then_only_the_subject_counts(app, users):
    user = oidc.sign_in(settings(), claims(email="AMB.HOV@test.dk"))
    assert user.id == users["ambassador"].id
    identity = db.session.scalars(select(UserIdentity)).one()
    assert (identity.issuer, identity.subject, identity.provider, identity.user_id) == (ISSUER, "sub-1", "entra", user.id)
    created = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "user_identity")).one()
    assert (created.action, created.user_id, created.actor) == ("create", user.id, "amb.hov@test.dk")
    # Later: the same subject signs in whatever e-mail the token carries now.
    assert oidc.sign_in(settings(), claims(email="new.address@test.dk", verified=False)).id == user.id
    assert db.session.scalar(select(UserIdentity.last_sign_in_at)) is not None


def test_another_subject_with_the_same_email_is_refused_not_relinked(app, users):
    oidc.sign_in(settings(), claims(sub="sub-1"))
    with pytest.raises(oidc.SignInRefused) as refused:
        oidc.sign_in(settings(), claims(sub="sub-2"))
    assert refused.value.reason == oidc.REFUSED_OTHER_SUBJECT
    assert "allerede koblet til en anden konto" in refused.value.message
    assert [i.subject for i in db.session.scalars(select(UserIdentity))] == ["sub-1"]
    assert [(r["reason"], r["subject"]) for r in refusals()] == [("other_subject", "sub-2")]


def test_a_second_issuer_links_its_own_identity(app, users):
    oidc.sign_in(settings(), claims(sub="sub-1"))
    other = oidc.configured_providers([{"name": "nemlogin", "issuer": "https://broker.example.dk",
                                        "client_id": "c", "client_secret": "s"}])["nemlogin"]
    oidc.sign_in(other, claims(sub="sub-1", issuer="https://broker.example.dk"))
    assert db.session.scalar(select(db.func.count()).select_from(UserIdentity)) == 2


@pytest.mark.parametrize("extra, verified, reason", [
    ({}, False, oidc.REFUSED_UNVERIFIED),
    ({}, None, oidc.REFUSED_UNVERIFIED),
    ({"trust_unverified_email": True}, False, oidc.REFUSED_UNVERIFIED),  # an explicit false is never trusted
])
def test_an_email_the_provider_does_not_vouch_for_links_nobody(app, users, extra, verified, reason):
    with pytest.raises(oidc.SignInRefused) as refused:
        oidc.sign_in(settings(**extra), claims(verified=verified))
    assert refused.value.reason == reason
    assert db.session.scalars(select(UserIdentity)).all() == []


def test_trusted_provider_without_email_verified_links(app, users):
    assert oidc.sign_in(settings(trust_unverified_email=True), claims(verified=None)).id == users["ambassador"].id


@pytest.mark.parametrize("email", ["stranger@test.dk", ""])
def test_nobody_an_admin_created_is_refused(app, users, email):
    with pytest.raises(oidc.SignInRefused) as refused:
        oidc.sign_in(settings(), claims(email=email))
    assert refused.value.reason == oidc.REFUSED_UNKNOWN
    assert "En administrator skal oprette dig" in refused.value.message
    assert db.session.scalar(select(db.func.count()).select_from(User)) == 4


def test_deactivated_users_are_refused_linked_or_not(app, users):
    oidc.sign_in(settings(), claims(sub="sub-1"))
    users["ambassador"].active = False
    users["ambassador_b"].active = False
    db.session.commit()
    for values in (claims(sub="sub-1"), claims(sub="sub-9", email="amb.sj@test.dk")):
        with pytest.raises(oidc.SignInRefused) as refused:
            oidc.sign_in(settings(), values)
        assert refused.value.reason == oidc.REFUSED_INACTIVE
    assert [r["reason"] for r in refusals()] == ["inactive", "inactive"]


def test_claims_never_change_role_or_region(app, users):
    user = oidc.sign_in(settings(), claims(role="admin", groups=["CRM-Admins"], region="1085"))
    assert (user.role, user.region_code) == ("ambassador", 1084)


# --- pages ------------------------------------------------------------------------------------

def test_login_page_offers_the_providers(oidc_app, users):
    page = oidc_app.test_client().get("/login").get_data(as_text=True)
    assert "Log ind med Test-IdP" in page and 'action="/login/oidc/test"' in page
    assert 'name="password"' in page


def test_the_policy_lets_forms_lead_to_the_provider(oidc_app, client):
    policy = oidc_app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "form-action 'self' http://127.0.0.1:9;" in policy
    assert "form-action 'self';" in client.get("/login").headers["Content-Security-Policy"]


def test_password_sign_in_can_be_switched_off(app, database_url, users):
    no_passwords = create_app(_config_for(database_url, PASSWORD_LOGIN_ENABLED=False))
    client = no_passwords.test_client()
    assert 'name="password"' not in client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": "admin@test.dk", "password": factories.PASSWORD})
    assert response.status_code == 403
    assert "Log ind med adgangskode er slået fra" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in


def test_an_unreachable_provider_is_a_message_not_an_error(oidc_app, users):
    client = oidc_app.test_client()
    response = client.post("/login/oidc/test", follow_redirects=True)
    assert response.status_code == 200
    assert "udbyderen afviste eller svarede ikke" in response.get_data(as_text=True)
    response = client.get("/login/oidc/test/callback?code=x&state=y", follow_redirects=True)
    assert "udbyderen afviste eller svarede ikke" in response.get_data(as_text=True)
    assert [r["reason"] for r in refusals()] == ["provider_error", "provider_error"]


def test_a_cancelled_sign_in_is_refused_with_a_message(oidc_app, users):
    response = oidc_app.test_client().get("/login/oidc/test/callback?error=access_denied", follow_redirects=True)
    assert "Log ind via Test-IdP lykkedes ikke" in response.get_data(as_text=True)


def test_unknown_provider_is_not_found(oidc_app):
    client = oidc_app.test_client()
    assert client.post("/login/oidc/nobody").status_code == 404
    assert client.get("/login/oidc/nobody/callback").status_code == 404


def test_admin_sees_and_unlinks_an_identity(app, users, login_as):
    oidc.sign_in(settings(), claims(sub="sub-1"))
    identity = db.session.scalars(select(UserIdentity)).one()
    admin = login_as(users["admin"])
    page = admin.get(f"/admin/users/{users['ambassador'].id}").get_data(as_text=True)
    assert "sub-1" in page and "Fjern kobling" in page
    url = f"/admin/users/{users['ambassador'].id}/identities/{identity.id}/unlink"
    assert login_as(users["ambassador"]).post(url).status_code == 403
    assert admin.post(f"/admin/users/{users['ambassador_b'].id}/identities/{identity.id}/unlink").status_code == 404
    assert admin.post(url).status_code == 302
    assert db.session.scalars(select(UserIdentity)).all() == []
    deleted = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "user_identity",
                                                          AuditEntry.action == "delete")).one()
    assert deleted.user_id == users["admin"].id
    # Unlinked: the next sign-in links again through the verified e-mail (a new subject is fine now).
    assert oidc.sign_in(settings(), claims(sub="sub-2")).id == users["ambassador"].id


def test_refused_sign_ins_are_in_the_audit_log(app, users, login_as):
    with pytest.raises(oidc.SignInRefused):
        oidc.sign_in(settings(), claims(email="stranger@test.dk"))
    page = login_as(users["admin"]).get("/admin/audit").get_data(as_text=True)
    assert "Afvist log ind" in page and "stranger@test.dk" in page


def test_password_users_sign_out_without_a_provider(app, users, auth, client):
    auth.login(users["admin"])
    response = client.post("/logout")
    assert response.headers["Location"].endswith("/login")


def test_a_broker_names_the_email_claim_its_own_way(app, users):
    """NemLog-in brokers carry the work e-mail as e.g. "nemlogin.email", without email_verified."""
    broker = settings(email_claim="nemlogin.email", trust_unverified_email=True)
    values = {"iss": ISSUER, "sub": "pid-1", "nemlogin.email": "amb.hov@test.dk"}
    assert oidc.sign_in(broker, values).id == users["ambassador"].id
    with pytest.raises(oidc.SignInRefused) as refused:
        oidc.sign_in(settings(), {"iss": ISSUER, "sub": "pid-2", "nemlogin.email": "amb.sj@test.dk"})
    assert refused.value.reason == oidc.REFUSED_UNKNOWN  # the "email" claim is missing


def test_a_link_made_meanwhile_in_another_tab_is_no_error(app, users, monkeypatch):
    """Two first sign-ins of the same person at once: the second meets the unique (iss, sub)."""
    first = oidc.sign_in(settings(), claims(sub="sub-1"))
    real_scalar = db.session.scalar
    calls = []

    def scalar_missing_the_link_once(statement, *args, **kwargs):
        calls.append(statement)
        if len(calls) == 1:  # the lookup by (iss, sub) ran before the other tab committed
            return None
        if len(calls) == 3:  # nor was there a link for this user and issuer yet
            return None
        return real_scalar(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "scalar", scalar_missing_the_link_once)
    assert oidc.sign_in(settings(), claims(sub="sub-1")).id == first.id
    monkeypatch.undo()
    assert db.session.scalar(select(db.func.count()).select_from(UserIdentity)) == 1


def test_an_admin_signed_in_by_a_provider_is_not_sent_to_the_password_second_factor(app, database_url, users,
                                                                                     monkeypatch):
    """The provider owns the second factor: where admins must have TOTP (production), an admin
    signed in through OpenID Connect goes straight on, while a password admin must enrol first."""
    from crm.views import oidc as oidc_views

    strict = create_app(_config_for(database_url, UPLOAD_FOLDER=app.config["UPLOAD_FOLDER"],
                                    TOTP_REQUIRED_FOR_ADMINS=True, OIDC_PROVIDERS=[
        {"name": "test", "display_name": "Test-IdP", "issuer": UNREACHABLE, "client_id": "crm", "client_secret": "s"},
    ]))
    monkeypatch.setattr(oidc_views, "_verified_sign_in", lambda settings: (users["admin"], "id-token"))
    by_provider = strict.test_client()
    assert by_provider.get("/login/oidc/test/callback?code=x&state=y").status_code == 302
    assert by_provider.get("/aktiviteter/").status_code == 200

    by_password = strict.test_client()
    by_password.post("/login", data={"email": "admin@test.dk", "password": factories.PASSWORD})
    response = by_password.get("/aktiviteter/")
    assert response.status_code == 302 and "two-factor" in response.headers["Location"]
