"""A material's review in the browser: the expert panel lands in the materials list and sees only
its area; a working-group member publishes an approved material from its page."""
import pytest

from tests.browser_support import browser_page, demo_app, live_server, sign_in

pytestmark = pytest.mark.browser


def test_the_working_group_publishes_an_approved_material(tmp_path):
    app = demo_app(tmp_path)
    console_errors: list[str] = []
    with live_server(app) as base_url, browser_page() as page:
        page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        sign_in(page, base_url, "arbejdsgruppe@demo.ips.dk")
        page.locator("#mainnav").get_by_role("button", name="Aktiviteter", exact=True).click()
        page.locator("#mainnav").get_by_role("link", name="Materialer").click()
        page.get_by_label("Status").select_option(label="Godkendt")
        page.get_by_role("button", name="Vis").click()
        rows = page.locator("tr.material-row")
        assert rows.count() == 1
        title = rows.first.locator("th").inner_text()
        rows.first.get_by_role("link").click()
        assert "Godkendt af ekspertpanelet" in page.locator("main").inner_text()
        page.get_by_label("Bemærkning (valgfri)").fill("Udgives på star.dk")
        page.get_by_role("button", name="Udgiv", exact=True).click()
        page.wait_for_load_state("networkidle")
        assert page.get_by_text(f"Udgivet: »{title}«.").is_visible()
        assert page.locator("#material-state").inner_text() == "Udgivet"
        assert "Udgives på star.dk" in page.locator("table").last.inner_text()
        assert page.get_by_role("button", name="Udgiv", exact=True).count() == 0
    assert console_errors == [], console_errors


def test_the_expert_panel_sees_only_the_materials_area(tmp_path):
    app = demo_app(tmp_path)
    with live_server(app) as base_url, browser_page() as page:
        sign_in(page, base_url, "ekspertpanel@demo.ips.dk")
        assert page.url.endswith("/materialer/")
        assert page.locator("#mainnav .dropdown-toggle").count() == 0  # no CRM menu groups
        assert page.locator("#mainnav").get_by_role("link", name="Materialer").is_visible()
        states = {text.strip() for text in page.locator("tr.material-row .material-state").all_inner_texts()}
        assert states == {"Til vurdering i ekspertpanelet", "Udgivet"}
        page.locator("tr.material-row", has_text="Til vurdering").first.get_by_role("link").click()
        assert page.get_by_role("button", name="Giv vurdering").is_visible()
        response = page.goto(base_url + "/kommuner/")
        assert response.status == 403
