"""Browser test of Danish typing and the municipality picker, in Debian's chromium (locale da-DK):
"12,5" typed into the hours field is 12,5 hours on the activity and in STAR's report, never 125."""
import pytest
from playwright.sync_api import expect

from tests.browser_support import browser_page, demo_app, live_server, require_chromium, sign_in

pytestmark = pytest.mark.browser

DAY = "10-03-2019"  # before the demo history, so the report's period holds only this activity


def pick(page, typed: str, option: str) -> None:
    """Type into the searchable picker (Tom Select) as a person would; choose a suggestion."""
    search = page.get_by_role("combobox", name="Kommuner", exact=True)
    search.fill("")  # Tom Select keeps the last search text after a choice
    page.keyboard.type(typed)
    page.locator(".ts-dropdown .option:visible", has_text=option).first.click()


def test_typed_danish_hours_reach_the_activity_and_the_report(tmp_path):
    require_chromium()  # skip cleanly before building the demo database
    app = demo_app(tmp_path)
    console_errors: list[str] = []
    with live_server(app) as base_url, browser_page() as page:
        page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        sign_in(page, base_url, "hovedstaden@demo.ips.dk")
        page.goto(f"{base_url}/aktiviteter/ny")
        page.get_by_label("Type").select_option(label="Supervision")
        page.get_by_label("Titel").fill("Supervision af IPS-teamet")
        page.get_by_label("Dato (start)").click()
        page.keyboard.type(DAY)
        page.get_by_label("Varighed i timer").click()
        page.keyboard.type("12,5")
        assert page.get_by_label("Varighed i timer").input_value() == "12,5"  # the comma stays

        # The picker: searchable, grouped by region with the ambassador's own region first.
        assert page.locator("select[name=municipality_codes].tomselected").count() == 1  # Tom Select took over
        assert page.locator(".ts-wrapper").first.is_visible()
        page.get_by_role("combobox", name="Kommuner", exact=True).click()
        assert page.locator(".ts-dropdown .optgroup-header").first.inner_text() == "Region Hovedstaden"
        pick(page, "Frederiksb", "Frederiksberg")
        pick(page, "Aarh", "Aarhus")
        page.keyboard.press("Escape")
        hint = page.locator(".outside-region-hint")  # said at once, before saving
        expect(hint).to_have_text("⚠ Aarhus ligger uden for Region Hovedstaden. Er det rigtigt?")
        page.get_by_role("button", name="Gem").click()
        page.wait_for_load_state("networkidle")

        # 12,5 hours on one day and Aarhus outside Hovedstaden: both asked about, nothing saved yet.
        assert "/aktiviteter/ny" in page.url
        assert page.get_by_text("Aarhus ligger uden for Region Hovedstaden", exact=False).first.is_visible()
        assert page.get_by_text("Over 12 timer på én dag", exact=False).first.is_visible()
        assert page.get_by_label("Varighed i timer").input_value() == "12,5"
        page.get_by_label("Gem alligevel").check()
        page.get_by_role("button", name="Gem", exact=True).click()
        page.wait_for_load_state("networkidle")

        assert "/aktiviteter/" in page.url and page.get_by_text("er gemt").first.is_visible()
        assert page.get_by_text("12,5 timer").is_visible()
        assert page.get_by_text("Aarhus", exact=False).first.is_visible()

        page.goto(f"{base_url}/rapporter/?start={DAY}&end={DAY}")
        cell = page.locator('td[data-metric="supervision_hours"][data-column="1084"]')
        assert cell.inner_text().strip() == "12,5"
        total = page.locator('td[data-metric="supervision_hours"][data-column="total"]')
        assert total.inner_text().strip() == "12,5"
    assert console_errors == [], console_errors  # no CSP violations or broken scripts


def test_picker_is_searchable_on_the_plan_form_and_submits_the_select(tmp_path):
    require_chromium()
    app = demo_app(tmp_path)
    with live_server(app) as base_url, browser_page() as page:
        sign_in(page, base_url, "admin@demo.ips.dk")
        page.goto(f"{base_url}/planer/ny")
        page.get_by_role("combobox", name="Kommuner", exact=True).click()
        page.keyboard.type("Brøn")
        options = page.locator(".ts-dropdown .option:visible")
        expect(options).to_have_count(2)  # the search filters as one types
        assert sorted(options.all_inner_texts()) == ["Brøndby", "Brønderslev"]
        headers = page.locator(".ts-dropdown .optgroup-header:visible").all_inner_texts()
        assert headers == ["Region Nordjylland", "Region Hovedstaden"]
        options.filter(has_text="Brønderslev").click()
        values = page.locator("select[name=municipalities]").evaluate(
            "s => Array.from(s.selectedOptions).map(o => o.value)")
        assert values == ["810"]

        # The hidden original select and the search box both keep their accessible name.
        from axe_playwright_python.sync_playwright import Axe

        rules = {"type": "rule", "values": ["select-name", "label", "aria-input-field-name", "aria-allowed-attr",
                                             "aria-required-children", "aria-required-parent"]}
        violations = Axe().run(page, options={"runOnly": rules}).response["violations"]
        assert violations == [], [(v["id"], [n["html"] for n in v["nodes"]]) for v in violations]
