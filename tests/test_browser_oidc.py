"""OpenID Connect sign-in against a real provider (tests/oidc_provider/server.js), driven in
Chromium through the provider's own login and consent pages: the success, sign-out at the
provider, and each refusal with its message on the CRM's login page (issue 18)."""
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from crm import create_app
from crm.extensions import db
from crm.models import AuditEntry, User, UserIdentity
from tests import factories
from tests.browser_support import browser_context, sign_in
from tests.conftest import _config_for, _reset_data
from tests.oidc_support import ProviderProcess, free_port, live_server_on, require_node, sign_in_at_provider

pytestmark = pytest.mark.xdist_group("oidc_provider")


@pytest.fixture(scope="module")
def provider():
    require_node()
    process = ProviderProcess(free_port())
    yield process
    process.stop()


@contextmanager
def crm_for(provider, tmp_path, client_id="crm", **config):
    """A CRM (SQLite file, reference data, Anna the ambassador and Ib, deactivated) on the port
    the provider redirects to, configured with the provider under ``client_id``."""
    app = create_app(_config_for(
        f"sqlite:///{tmp_path / 'oidc.sqlite'}", UPLOAD_FOLDER=str(tmp_path / "up"),
        OIDC_PROVIDERS=[provider.settings(client_id)], **config,
    ))
    with app.app_context():
        db.create_all()
        _reset_data()
        factories.UserFactory(email="anna@test.dk", name="Anna Ambassadør", role="ambassador", region_code=1084)
        factories.UserFactory(email="ib@test.dk", name="Ib", role="ambassador", region_code=1085, active=False)
        factories.UserFactory(email="admin@test.dk", name="Ada Admin", role="admin", region_code=None)
        db.session.remove()
    with live_server_on(app, provider.crm_port) as base_url:
        yield app, base_url


@contextmanager
def chromium():
    with browser_context() as page:
        # The provider's development pages import a web font; nothing here reaches the internet.
        page.route("https://**/*", lambda route: route.abort())
        yield page


def start_sign_in(page, base_url):
    page.goto(f"{base_url}/login")
    page.get_by_role("button", name="Log ind med Test-IdP").click()


def refusal_on_login_page(page, base_url) -> str:
    page.wait_for_url(f"{base_url}/login*")
    return page.get_by_role("alert").inner_text()


def audited_refusals(app) -> list[dict]:
    with app.app_context():
        return [e.changes for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "refused"))]


def test_sign_in_links_the_user_and_sign_out_ends_the_provider_session(provider, tmp_path):
    with crm_for(provider, tmp_path) as (app, base_url), chromium() as page:
        start_sign_in(page, base_url)
        assert page.url.startswith(provider.issuer)  # the provider's own login page
        sign_in_at_provider(page, "sub-anna")
        page.wait_for_url(f"{base_url}/")
        assert page.get_by_role("link", name="Anna Ambassadør").is_visible()
        with app.app_context():
            identity = db.session.scalars(select(UserIdentity)).one()
            assert (identity.issuer, identity.subject, identity.user.email) == (provider.issuer, "sub-anna", "anna@test.dk")
            assert identity.last_sign_in_at is not None

        page.get_by_role("button", name="Log ud").click()
        # The provider asks whether to end its session too (RP-initiated logout with id_token_hint).
        assert page.url.startswith(f"{provider.issuer}/session/end")
        page.get_by_role("button", name="Yes, sign me out").click()
        page.wait_for_url(f"{base_url}/login*")
        assert "Du er logget ud." in page.get_by_role("status").inner_text()
        page.goto(f"{base_url}/")
        assert page.url.startswith(f"{base_url}/login")  # the CRM session is gone
        start_sign_in(page, base_url)  # and so is the provider's: it asks for the login again
        assert page.locator("input[name=login]").is_visible()


def test_a_replayed_answer_is_refused(provider, tmp_path):
    with crm_for(provider, tmp_path) as (app, base_url), chromium() as page:
        callbacks = []
        page.on("request", lambda request: callbacks.append(request.url) if "/callback?" in request.url else None)
        start_sign_in(page, base_url)
        sign_in_at_provider(page, "sub-anna")
        page.wait_for_url(f"{base_url}/")
        page.context.clear_cookies()  # signed out here; the provider's answer is replayed
        page.goto(callbacks[0])
        message = refusal_on_login_page(page, base_url)
        assert "allerede brugt" in message
        assert page.get_by_role("button", name="Log ind med Test-IdP").is_visible()
        assert [r["reason"] for r in audited_refusals(app)] == ["state"]


@pytest.mark.parametrize("client_id, reason, detail, words", [
    ("crm-aud", "invalid_token", "claim", "kunne ikke bekræftes"),  # aud/azp: not issued to this client
    ("crm-sig", "invalid_token", "BadSignatureError", "kunne ikke bekræftes"),
    ("crm-exp", "expired_token", "ExpiredTokenError", "er udløbet"),
])
def test_a_bad_id_token_is_refused(provider, tmp_path, client_id, reason, detail, words):
    """A token for another audience, one signed by a key the provider does not publish, and one
    that expired an hour ago (beyond the 60 s leeway) are each refused; nobody is signed in."""
    with crm_for(provider, tmp_path, client_id=client_id) as (app, base_url), chromium() as page:
        start_sign_in(page, base_url)
        sign_in_at_provider(page, "sub-anna")
        message = refusal_on_login_page(page, base_url)
        assert words in message and "Test-IdP" in message
        refusals = audited_refusals(app)
        assert [r["reason"] for r in refusals] == [reason]
        assert detail in refusals[0]["detail"]
        page.goto(f"{base_url}/")
        assert page.url.startswith(f"{base_url}/login")
        with app.app_context():
            assert db.session.scalars(select(UserIdentity)).all() == []


@pytest.mark.parametrize("subject, reason, words", [
    ("sub-stranger", "unknown_user", "Der er ingen bruger i CRM'et"),
    ("sub-ib", "inactive", "Kontoen er deaktiveret"),
])
def test_unknown_and_deactivated_people_are_refused(provider, tmp_path, subject, reason, words):
    with crm_for(provider, tmp_path) as (app, base_url), chromium() as page:
        start_sign_in(page, base_url)
        sign_in_at_provider(page, subject)
        assert words in refusal_on_login_page(page, base_url)
        assert [r["reason"] for r in audited_refusals(app)] == [reason]
        assert [r["subject"] for r in audited_refusals(app)] == [subject]


def test_a_second_account_with_the_same_email_is_not_linked(provider, tmp_path):
    with crm_for(provider, tmp_path) as (app, base_url), chromium() as page:
        start_sign_in(page, base_url)
        sign_in_at_provider(page, "sub-anna")
        page.wait_for_url(f"{base_url}/")
        page.context.clear_cookies()  # a fresh browser at both ends
        start_sign_in(page, base_url)
        sign_in_at_provider(page, "sub-anna-2")  # same verified e-mail, another subject
        assert "allerede koblet til en anden konto" in refusal_on_login_page(page, base_url)
        with app.app_context():
            assert [i.subject for i in db.session.scalars(select(UserIdentity))] == ["sub-anna"]


def test_the_email_may_come_from_the_userinfo_endpoint(provider, tmp_path):
    """A provider that keeps the e-mail out of the ID token (as NemLog-in brokers do): the CRM
    asks its userinfo endpoint, for the same subject, and links through that."""
    with crm_for(provider, tmp_path, client_id="crm-userinfo") as (app, base_url), chromium() as page:
        start_sign_in(page, base_url)
        sign_in_at_provider(page, "sub-anna")
        page.wait_for_url(f"{base_url}/")
        with app.app_context():
            assert [(i.subject, i.email) for i in db.session.scalars(select(UserIdentity))] == [("sub-anna", "anna@test.dk")]


def test_password_sign_in_can_be_switched_off(provider, tmp_path):
    with crm_for(provider, tmp_path, PASSWORD_LOGIN_ENABLED=False) as (app, base_url), chromium() as page:
        page.goto(f"{base_url}/login")
        assert page.get_by_label("Adgangskode").count() == 0
        start_sign_in(page, base_url)
        sign_in_at_provider(page, "sub-anna")
        page.wait_for_url(f"{base_url}/")
        with app.app_context():
            assert db.session.scalar(select(User).where(User.email == "anna@test.dk")).active


def _serious_axe_findings(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
    return [f"{v['id']} at {v['nodes'][0]['target']}" for v in result.response["violations"]
            if v["impact"] in {"serious", "critical"}]


def test_admin_sees_the_link_and_removes_it(provider, tmp_path):
    """The login page with its provider button and a refusal, and the admin's user page with the
    linked account, pass axe; removing the link takes the confirm step and is audited."""
    with crm_for(provider, tmp_path) as (app, base_url), chromium() as page:
        start_sign_in(page, base_url)
        sign_in_at_provider(page, "sub-stranger")
        refusal_on_login_page(page, base_url)
        assert _serious_axe_findings(page) == []
        page.context.clear_cookies()  # the provider remembers the stranger: sign in as Anna afresh
        start_sign_in(page, base_url)
        sign_in_at_provider(page, "sub-anna")
        page.wait_for_url(f"{base_url}/")
        page.context.clear_cookies()

        sign_in(page, base_url, "admin@test.dk", factories.PASSWORD)
        with app.app_context():
            anna = db.session.scalar(select(User).where(User.email == "anna@test.dk"))
        page.goto(f"{base_url}/admin/users/{anna.id}")
        assert page.get_by_role("cell", name="anna@test.dk Id hos udbyderen: sub-anna").is_visible()
        assert _serious_axe_findings(page) == []
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Fjern kobling").click()
        assert "Koblingen til test er fjernet." in page.get_by_role("status").inner_text()
        with app.app_context():
            assert db.session.scalars(select(UserIdentity)).all() == []
            removed = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "user_identity",
                                                                  AuditEntry.action == "delete")).one()
            assert removed.actor == "admin@test.dk"
