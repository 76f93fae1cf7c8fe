"""A task's life in the browser: add one on the municipality page, finish it from "Mine opgaver"."""
import re

import pytest

from tests.browser_support import browser_page, demo_app, live_server, sign_in

pytestmark = pytest.mark.browser


def test_add_a_task_and_finish_it(tmp_path):
    app = demo_app(tmp_path)
    console_errors: list[str] = []
    with live_server(app) as base_url, browser_page() as page:
        page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        sign_in(page, base_url, "hovedstaden@demo.ips.dk")
        page.goto(f"{base_url}/kommuner/101")
        form = page.locator("#task-form")
        form.get_by_label("Opgave").click()
        page.keyboard.type("Ring til jobcenterchefen om IPS-teamet")
        form.get_by_label("Frist").click()
        page.keyboard.type("01-01-2020")  # long overdue: first in "Mine opgaver"
        form.get_by_role("button", name="Gem opgave").click()
        page.wait_for_load_state("networkidle")
        assert page.get_by_text("Opgaven er gemt.").is_visible()
        assert page.locator("#open-tasks").get_by_text("Ring til jobcenterchefen om IPS-teamet", exact=True).first.is_visible()

        page.locator("#mainnav").get_by_role("button", name="Kommuner", exact=True).click()
        page.locator("#mainnav").get_by_role("link", name="Mine opgaver").click()
        first_row = page.locator("#task-table tbody tr").first
        assert "Ring til jobcenterchefen om IPS-teamet" in first_row.inner_text()
        assert "Overskredet" in first_row.inner_text()
        first_row.get_by_role("button", name=re.compile("^Udført")).click()
        page.wait_for_load_state("networkidle")
        assert page.get_by_text("Opgaven er markeret som udført.").is_visible()
        assert "Ring til jobcenterchefen om IPS-teamet" not in page.locator("main").inner_text()

        page.goto(f"{base_url}/kommuner/101")
        timeline = page.locator("#tidslinje").inner_text()
        assert "Opgave udført: Ring til jobcenterchefen om IPS-teamet" in timeline
        assert "Udført af Ambassadør Hovedstaden" in timeline
    assert console_errors == [], console_errors


def test_task_pages_pass_axe_and_fit_a_phone(tmp_path):
    """No serious or critical axe-core finding on the task pages and the start page, and at 390 px
    "Mine opgaver" scrolls its table inside its own box, not the page sideways."""
    from axe_playwright_python.sync_playwright import Axe

    app = demo_app(tmp_path)
    with live_server(app) as base_url, browser_page() as page:
        sign_in(page, base_url, "hovedstaden@demo.ips.dk")
        found = {}
        for path in ("/", "/opgaver/", "/opgaver/?vis=region", "/kommuner/101"):
            page.goto(base_url + path)
            violations = Axe().run(page).response["violations"]
            found[path] = [(v["id"], v["nodes"][0]["target"]) for v in violations
                           if v["impact"] in ("serious", "critical")]
        assert found == {path: [] for path in found}
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(base_url + "/opgaver/?vis=region")
        assert page.locator("#task-table tbody tr").count() > 3
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
