"""One language per page: percentages, plurals and automatic notes follow the reader's language."""
import re
from datetime import date
from pathlib import Path

import pytest
from babel.numbers import format_percent as babel_percent
from flask_babel import force_locale

from crm.extensions import db
from crm.templating import format_percent
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


# --- One percent format per language ----------------------------------------------------------


@pytest.mark.parametrize("value", [41.37, 0, 100, 66.6667, -3.25, 1234.5])
@pytest.mark.parametrize("locale", ["da", "en"])
def test_format_percent_is_babels_percent_pattern(app, value, locale):
    with app.test_request_context("/"), force_locale(locale):
        expected = babel_percent(value / 100, locale=locale, format="#,##0.0%" if locale == "en" else "#,##0.0\xa0%")
        assert format_percent(value) == expected.replace("\xa0", " ")
    assert format_percent(None) == "–"


def _covered(n: int) -> None:
    codes = [101, 147, 151, 153, 155, 157, 159, 161, 163, 165, 167, 169, 173, 175, 183, 185, 187, 190, 201, 210,
             217, 219, 223, 230, 240, 250, 253, 259, 260, 265, 269, 270, 306, 316, 320, 326, 329, 330, 336, 340, 350]
    for code in codes[:n]:
        factories.StageChangeFactory(municipality_code=code, stage="plan_signed", effective_date=date(2025, 1, 1))
    db.session.commit()


PERCENT_PAGES = ["/", "/overblik/", "/resultater/", "/kommuner/101"]


@pytest.mark.parametrize("path", PERCENT_PAGES)
def test_every_percent_on_a_page_has_the_languages_format(app, users, login_as, path):
    """"41.4 %" beside "41,4 %" no more: Danish pages write 41,4 %, English pages 41.4%."""
    _covered(41)  # 41 of 98 = 41.8 %
    users["working_group"].locale = "en"
    db.session.commit()
    client = login_as(users["working_group"])
    english = client.get(path).text
    users["working_group"].locale = "da"
    db.session.commit()
    danish = client.get(path).text
    number = r"\d[\d.,]*"
    assert re.findall(rf"{number}\.\d %", danish) == []   # an English decimal point on a Danish page
    assert re.findall(rf"{number},\d ?%", english) == []  # a Danish decimal comma on an English page
    assert re.findall(rf"\d %", english) == []           # English writes 41.8%
    if path in ("/", "/overblik/"):
        assert "41,8 %" in danish and "41.8%" in english


def test_no_template_writes_a_percent_sign_after_a_number_by_hand():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"\)s ?%%|\|number\(\d\) ?\}\} ?%|\|round\(\d\)\) ?\}\}", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
