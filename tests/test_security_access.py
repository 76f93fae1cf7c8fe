"""Who may see what, and what the browser is told: every route walked from ``app.url_map``.

- anonymous visitors are sent to sign-in on every route that is not public;
- every page carries the security headers (CSP without inline scripts, frame denial, nosniff);
- no page contains an inline script or an inline event handler (the CSP would block it anyway,
  so it would be a broken feature as well as a hole).
"""
import uuid
from datetime import date
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from werkzeug.routing import BuildError

from crm.extensions import db
from crm.models import FidelityReview
from tests import factories

# Routes anyone may use: static files, sign-in, language choice, the load balancer's health check,
# the calendar feed (its secret token in the URL is the credential), and sign-in through an
# identity provider (start and callback; 404 for a provider that is not configured).
PUBLIC_ENDPOINTS = {"static", "bootstrap.static", "auth.login", "auth.set_language", "health.healthz",
                    "calendar.feed", "oidc.start", "oidc.callback"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


def _value_for(converter, name: str, values: dict):
    """A URL value of the right type: a real record's id where we have one, else 1 / 'x'."""
    if name in values:
        return values[name]
    kind = type(converter).__name__
    if kind == "IntegerConverter":
        return 1
    if kind == "FloatConverter":
        return 1.0
    if kind == "UUIDConverter":
        return uuid.uuid4()
    if kind == "AnyConverter":
        return sorted(converter.items)[0] if hasattr(converter, "items") else "x"
    return "x"


def _build(app, rule, values: dict | None = None) -> str:
    adapter = app.url_map.bind("localhost")
    args = {name: _value_for(rule._converters[name], name, values or {}) for name in rule.arguments}
    for candidate in (args, {**args, "fmt": "csv"}):
        try:
            return adapter.build(rule.endpoint, candidate, method=sorted(rule.methods - {"HEAD", "OPTIONS"})[0])
        except BuildError:
            continue
    raise AssertionError(f"cannot build a URL for {rule.endpoint} ({rule.rule})")


def _private_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in PUBLIC_ENDPOINTS:
            yield rule


def _goes_to_login(response) -> bool:
    return response.status_code in (301, 302, 303) and urlsplit(response.headers["Location"]).path == "/login"


def test_every_private_route_sends_anonymous_visitors_to_sign_in(app, client):
    checked, wrong = 0, []
    for rule in _private_rules(app):
        url = _build(app, rule)
        for method in sorted(rule.methods & ({"GET"} | WRITE_METHODS)):
            response = client.open(url, method=method, data={})
            if not _goes_to_login(response):
                wrong.append(f"{method} {url} ({rule.endpoint}) → {response.status_code}")
            checked += 1
    assert checked > 40
    assert wrong == []


def test_login_redirect_keeps_only_the_path(app, client):
    response = client.get("/kommuner/?region=1084")
    assert _goes_to_login(response)
    assert "next=" in response.headers["Location"]


def test_public_endpoints_exist_or_are_expected_later(app):
    """Keep the public list honest: everything in it is either routed or a known upcoming route."""
    routed = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert PUBLIC_ENDPOINTS - routed <= {"calendar.feed"}


# --------------------------------------------------------------------------------------------
# Headers and inline scripts on every page


def _records(users) -> dict[str, object]:
    """One record of each kind, keyed by the URL argument names the routes use."""
    owner = users["ambassador"]
    centre = factories.CentreFactory(region_code=1084)
    plan = factories.PlanFactory(region_code=1084)
    contact = factories.ContactFactory(region_code=1084, municipality_code=101)
    activity = factories.ActivityFactory(region_code=1084, created_by_id=owner.id)
    change = factories.StageChangeFactory(municipality_code=101, effective_date=date(2025, 2, 3))
    note = factories.NoteFactory(municipality_code=101)
    review = FidelityReview(municipality_code=101, review_date=date(2025, 5, 1))
    db.session.add(review)
    db.session.commit()
    task = factories.TaskFactory(municipality_code=101, owner_id=owner.id)
    material = factories.MaterialFactory(created_by_id=owner.id, state="published")
    version = factories.MaterialVersionFactory(material_id=material.id)
    return {"material_id": material.id, "material_version_id": version.id, "task_id": task.id, "code": 101, "municipality_code": 101, "centre_id": centre.id, "plan_id": plan.id,
            "contact_id": contact.id, "activity_id": activity.id, "change_id": change.id,
            "stage_change_id": change.id, "note_id": note.id, "review_id": review.id, "user_id": owner.id}


class _InlineCode(HTMLParser):
    """Collects inline scripts, event-handler attributes and javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name.lower() in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:…>")
        if tag == "script" and not attributes.get("src") and attributes.get("type") not in DATA_SCRIPT_TYPES:
            self._in_inline_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]}")


def _html_pages(app, users, login_as):
    """(url, response) for every GET page an administrator can open, with real records in the URLs."""
    values = _records(users)
    client = login_as(users["admin"])
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "bootstrap.static"):
            continue
        url = _build(app, rule, values)
        yield url, client.get(url)


def test_every_page_sends_security_headers_and_has_no_inline_code(app, users, login_as):
    seen, problems = 0, []
    for url, response in _html_pages(app, users, login_as):
        csp = response.headers.get("Content-Security-Policy", "")
        directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
        script_src = directives.get("script-src", directives.get("default-src", []))
        if "'unsafe-inline'" in script_src or "'unsafe-eval'" in script_src or not script_src:
            problems.append(f"{url}: script-src {script_src}")
        if "frame-ancestors" not in directives or response.headers.get("X-Frame-Options") != "DENY":
            problems.append(f"{url}: framing allowed")
        if response.headers.get("X-Content-Type-Options") != "nosniff":
            problems.append(f"{url}: no nosniff")
        if response.status_code >= 500:
            problems.append(f"{url}: {response.status_code}")
        if response.mimetype == "text/html" and response.status_code == 200:
            seen += 1
            parser = _InlineCode()
            parser.feed(response.get_data(as_text=True))
            problems += [f"{url}: {p}" for p in parser.problems]
    assert seen > 20
    assert problems == []


def test_login_page_sends_security_headers(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_login_never_redirects_off_site(client, users, target):
    response = client.post(f"/login?next={target}", data={"email": users["ambassador"].email,
                                                          "password": factories.PASSWORD})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).netloc in ("", "localhost")
    assert not response.headers["Location"].startswith(("//", "javascript:"))


# Pages the expert panel may open: the materials area, its own account (and second factor), and the
# start page (which sends it to the materials list).
EXPERT_PANEL_PAGES = {"auth.account", "auth.two_factor", "auth.second_step", "main.index"}


def test_expert_panel_sees_no_crm_page(app, users, login_as):
    """Every GET route outside the materials area and the panel's own account answers 403 to the
    expert panel (walked from the url_map, so a new page is covered)."""
    panel = factories.UserFactory(role="expert_panel", region_code=None, email="panel@test.dk")
    values = _records(users)
    client = login_as(panel)
    checked, wrong = 0, []
    for rule in _private_rules(app):
        if "GET" not in rule.methods or rule.endpoint.startswith("materials.") or rule.endpoint in EXPERT_PANEL_PAGES:
            continue
        url = _build(app, rule, values)
        response = client.get(url)
        if response.status_code != 403:
            wrong.append(f"{url} ({rule.endpoint}) → {response.status_code}")
        checked += 1
    assert checked > 30
    assert wrong == []
    assert client.get("/").headers["Location"].endswith("/materialer/")
    for url in ("/materialer/", f"/materialer/{values['material_id']}", "/account",
                f"/materialer/versioner/{values['material_version_id']}/fil"):
        assert client.get(url).status_code in (200, 404), url  # 404: the test version has a link, no file
