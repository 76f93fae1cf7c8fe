"""Every page, for every role, in Debian's chromium with a Danish locale: no page scrolls sideways at
a laptop's 1366×768 or a phone's 390×844, and axe-core finds no serious or critical WCAG 2.1 A/AA
violation. The pages come from the app's own url_map, so a new page is checked (or this test says
which record it needs) without anyone remembering to add it here."""
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from crm.extensions import db
from tests.browser_support import browser_context, demo_app, live_server, require_chromium, sign_in

pytestmark = pytest.mark.browser

ROLES = {
    "admin": "admin@demo.ips.dk",
    "working_group": "arbejdsgruppe@demo.ips.dk",
    "ambassador": "hovedstaden@demo.ips.dk",
    "expert_panel": "ekspertpanel@demo.ips.dk",
}
VIEWPORTS = {"laptop": (1366, 768), "phone": (390, 844)}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# GET endpoints that are not pages a person reads: files, feeds, assets, redirects.
NOT_PAGES = {
    "static", "bootstrap.static", "health.healthz", "auth.logout", "oidc.callback", "calendar.feed", "calendar.activity_ics",
    "dashboard.map_svg", "fidelity.export_review", "imports.template", "jobs.attachment",
    "outcomes.import_template", "plans.document", "materials.document", "reports.export", "reports.submission_file",
    "reports.export_excel", "reports.submission_excel", "evaluation.download", "anchoring.evidence",
    "grant_accounts.export",
}
# Pages that need a query string to show anything: the report's last completed half year.
QUERY = {
    "reports.drilldown": {"metric": "courses", "region": "total", "start": "2026-01-01", "end": "2026-06-30"},
    "reports.print_view": {"start": "2026-01-01", "end": "2026-06-30"},
}


@dataclass(frozen=True)
class Page:
    endpoint: str
    url: str


def _first_id(model, column="id"):
    return db.session.scalar(select(getattr(model, column)).order_by(getattr(model, column)).limit(1))


def _arguments(app) -> dict[str, dict]:
    """A demo record for each URL argument, looked up in the demo database."""
    from crm import models

    ids = {
        "code": 851,  # Aalborg: a municipality with history in the demo data
        "region_code": 1085,  # Sjælland: a draft budget revision waits for STAR in the demo
        "year": 2026,
        "activity_id": _first_id(models.Activity),
        "review_id": _first_id(models.FidelityReview),
        "plan_id": _first_id(models.CooperationPlan),
        "contact_id": _first_id(models.Contact),
        "centre_id": _first_id(models.PsychiatricCentre),
        "user_id": _first_id(models.User),
        "change_id": _first_id(models.StageChange),
        "message_id": _first_id(models.OutboxMessage),
        "submission_id": _first_id(models.ReportSubmission),
        # A draft (the demo has one): its page shows every form (items, bands, mappings).
        "version_id": db.session.scalar(select(models.InstrumentVersion.id).where(
            models.InstrumentVersion.state == "draft").order_by(models.InstrumentVersion.id).limit(1)),
    }
    for name in dir(models):  # records that later features add (tasks, materials…)
        model = getattr(models, name)
        if isinstance(model, type) and hasattr(model, "__tablename__"):
            ids.setdefault(f"{model.__tablename__}_id", _first_id(model) if hasattr(model, "id") else None)
    return ids


def all_pages(app) -> list[Page]:
    """Every GET page of the app, with demo records for its arguments; fails on a page whose
    argument has no demo record, so the demo data and this list grow with the app."""
    pages, missing = [], []
    with app.app_context(), app.test_request_context():
        from flask import url_for

        ids = _arguments(app)
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
                continue
            values = {name: ids.get(name) for name in rule.arguments}
            if any(value is None for value in values.values()):
                missing.append(f"{rule.rule}: no demo record for {sorted(rule.arguments)}")
                continue
            pages.append(Page(rule.endpoint, url_for(rule.endpoint, **values, **QUERY.get(rule.endpoint, {}))))
    assert not missing, missing
    return pages


def _add_records_the_demo_lacks() -> None:
    """A submitted status report and a message in the outbox, so their pages are checked too."""
    from crm.formatting import half_year_period, last_completed_half
    from crm.services import report
    from crm.services.mail import queue_message

    report.submit_report(*half_year_period(*last_completed_half()), note="Indsendt til STAR", actor=None)
    queue_message("arbejdsgruppe@demo.ips.dk", "Statusrapport", "Se vedhæftet.",
                  attachment=("status.csv", "text/csv", b"metric,total\n"))
    db.session.commit()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo app served on localhost for the whole module, with its list of pages."""
    require_chromium()
    app = demo_app(tmp_path_factory.mktemp("pages"))
    with app.app_context():
        _add_records_the_demo_lacks()
    with live_server(app) as base_url:
        yield base_url, all_pages(app)


def _visit(page, base_url: str, target: Page):
    response = page.goto(base_url + target.url, wait_until="load")
    return response.status if response else None


def _page_width_problem(page, target: Page, viewport: str) -> list[str]:
    width, height = VIEWPORTS[viewport]
    page.set_viewport_size({"width": width, "height": height})
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    if scroll_width > inner_width:
        return [f"{target.url} ({viewport}): {scroll_width} px wide in a {inner_width} px window"]
    return []


def _axe_problems(axe, page, target: Page) -> list[str]:
    result = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    problems = []
    for violation in result.response["violations"]:
        if violation["impact"] in {"serious", "critical"}:
            where = "; ".join(str(node["target"][0]) for node in violation["nodes"][:3])
            problems.append(f"{target.url}: {violation['id']} ({violation['impact']}) at {where}")
    return problems


@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_laptop_and_phone_and_passes_axe(site, role):
    """Each page once per role: no sideways scrolling at 1366×768 and 390×844 (the page reflows
    when the window changes), and no serious or critical axe-core finding."""
    from axe_playwright_python.sync_playwright import Axe

    base_url, pages = site
    axe, problems = Axe(), []
    with browser_context(viewport={"width": 1366, "height": 768}) as page:
        sign_in(page, base_url, ROLES[role])
        for target in pages:
            page.set_viewport_size({"width": 1366, "height": 768})
            status = _visit(page, base_url, target)
            if status == 403:
                continue  # not this role's page; the access tests cover that
            if status != 200:
                problems.append(f"{target.url}: HTTP {status}")
                continue
            problems += _page_width_problem(page, target, "laptop")
            problems += _axe_problems(axe, page, target)
            problems += _page_width_problem(page, target, "phone")
    assert not problems, "\n".join(problems)


def test_signed_out_pages_pass_axe_and_fit_a_phone(site):
    from axe_playwright_python.sync_playwright import Axe

    base_url, _pages = site
    with browser_context(viewport={"width": 390, "height": 844}) as page:
        page.goto(base_url + "/login")
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        assert _axe_problems(Axe(), page, Page("auth.login", "/login")) == []
