"""The pipeline board as an ambassador uses it on a 1366×768 laptop, in Debian's chromium with a
Danish locale: all six stages in view, a drop that says what happened and updates the card, the
card's own form from the keyboard, and a refused move that says why."""
from datetime import date

import pytest
from sqlalchemy import select

from crm.clock import local_today
from crm.extensions import db
from crm.models import User
from crm.services.stages import stage_on
from tests.browser_support import browser_context, demo_app, live_server, require_chromium, sign_in

pytestmark = pytest.mark.browser
TODAY = f"{local_today():%d-%m-%Y}"


def _column(page, stage: str):
    return page.locator(f'.board-column[data-stage="{stage}"]')


def _names(page, stage: str) -> list[str]:
    return _column(page, stage).locator(".board-card").evaluate_all("cards => cards.map(c => c.dataset.name)")


def test_board_fits_a_laptop_and_moves_cards_by_mouse_and_keyboard(tmp_path):
    require_chromium()
    app = demo_app(tmp_path)
    with live_server(app) as base_url, browser_context(viewport={"width": 1366, "height": 768}) as page:
        sign_in(page, base_url, "hovedstaden@demo.ips.dk")
        page.goto(f"{base_url}/kommuner/tavle?region=1084")

        # All six columns side by side within the window, their headings in view.
        boxes = [page.locator(".board-column").nth(i).bounding_box() for i in range(6)]
        assert all(box["x"] >= 0 and box["x"] + box["width"] <= 1366 for box in boxes)
        assert len({round(box["y"]) for box in boxes}) == 1  # one row
        assert all(box["y"] < 768 for box in boxes)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366

        # Drag a card from "Ikke kontaktet" to "I dialog".
        card_name = _names(page, "not_contacted")[0]
        card = page.locator(f'.board-card[data-name="{card_name}"]')
        card.drag_to(_column(page, "dialogue"), source_position={"x": 4, "y": 4})
        status = page.locator("#board-status")
        status.wait_for(state="visible")
        assert f"{card_name} er flyttet til »I dialog«." in status.inner_text()
        moved = _column(page, "dialogue").locator(f'.board-card[data-name="{card_name}"]')
        assert moved.locator(".board-since").inner_text() == f"Siden {TODAY}"
        names = _names(page, "dialogue")
        assert card_name in names and names.index(card_name) == sorted(names).index(card_name)  # by name
        assert _column(page, "dialogue").locator(".board-count").inner_text() == str(len(names))

        # Keyboard: the card's own form, Tab to the button and Enter.
        stage_select = moved.locator("select[name=stage]")
        stage_select.focus()
        stage_select.select_option("plan_in_progress")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        _column(page, "plan_in_progress").locator(f'[data-name="{card_name}"]').wait_for()
        assert "»Samarbejdsplan undervejs«" in status.inner_text()
        with app.app_context():
            code = int(page.locator(f'.board-card[data-name="{card_name}"]').get_attribute("data-code"))
            assert stage_on(code, local_today()).stage == "plan_in_progress"

        # A refused move says why: the ambassador was moved to another region meanwhile.
        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == "hovedstaden@demo.ips.dk"))
            user.region_code = 1085
            db.session.commit()
        other = page.locator(f'.board-column[data-stage="not_contacted"] .board-card').first
        other_name = other.get_attribute("data-name")
        other.drag_to(_column(page, "dialogue"), source_position={"x": 4, "y": 4})
        error = page.locator("#board-error")
        error.wait_for(state="visible")
        assert error.inner_text() == "Du har ikke adgang til at gøre dette."
        assert other_name in _names(page, "not_contacted")  # the card stays where it was
