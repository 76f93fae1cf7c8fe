"""The fast translation lookup (crm/i18n.py) follows the request's language and force_locale."""
from flask import render_template_string
from flask_babel import force_locale, refresh

from crm.i18n import gettext, lazy_gettext, ngettext
from crm.models import STAGES


def test_python_and_template_strings_follow_force_locale(app):
    template = '{{ _("Kommuner") }}|{{ "not_contacted"|stage_label }}'
    with app.test_request_context("/"):
        assert gettext("Kommuner") == "Kommuner"
        assert render_template_string(template) == "Kommuner|Ikke kontaktet"
        with force_locale("en"):
            assert gettext("Kommuner") == "Municipalities"
            assert str(STAGES["not_contacted"]) == "Not contacted"
            assert render_template_string(template) == "Municipalities|Not contacted"
        assert gettext("Kommuner") == "Kommuner"
        assert render_template_string(template) == "Kommuner|Ikke kontaktet"


def test_user_language_and_refresh(app, users, login_as):
    users["ambassador"].locale = "en"
    with app.test_request_context("/"):
        from flask_login import login_user

        assert gettext("Kommuner") == "Kommuner"  # anonymous: Danish
        login_user(users["ambassador"])
        refresh()  # Flask-Babel forgets the locale it chose; the lookup must follow
        assert gettext("Kommuner") == "Municipalities"
        assert str(lazy_gettext("Kommuner")) == "Municipalities"


def test_the_fast_lookup_returns_what_flask_babel_returns(app):
    """Every string of the English catalog, in both languages (through force_locale): the same text
    as Flask-Babel's own ``gettext`` (and, for plurals, its catalog's ``ungettext``)."""
    from pathlib import Path

    import flask_babel
    from babel.messages.pofile import read_po

    from crm.i18n import translations

    path = Path(__file__).resolve().parent.parent / "crm" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        ids = [message.id for message in read_po(handle) if message.id]
    with app.test_request_context("/"):
        for locale in ("da", "en"):
            with force_locale(locale):
                assert translations() is flask_babel.get_translations()
                for msgid in ids:
                    if isinstance(msgid, tuple):
                        for n in (1, 2):
                            assert translations().ungettext(*msgid, n) == \
                                flask_babel.get_translations().ungettext(*msgid, n)
                    else:
                        assert gettext(msgid) == flask_babel.gettext(msgid)


def test_variables_and_plurals_outside_requests(app):
    assert gettext("Kommuner: %(names)s", names="Aarhus") == "Kommuner: Aarhus"
    assert ngettext("%(num)d kommune", "%(num)d kommuner", 2) == "2 kommuner"


# --- numbers: the hand-made formatter must match Babel's exactly -------------------------------
from decimal import Decimal  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from babel.numbers import format_decimal  # noqa: E402

from crm.formatting import format_number  # noqa: E402

NUMBERS = st.one_of(
    st.integers(min_value=-10**15, max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**9, max_value=10**9, places=4),
    st.sampled_from([0.005, 0.015, 2.5, 3.5, -0.001, Decimal("-0"), Decimal("1.10"), 1e16]),
)


_NUMBER_APP = None


def _number_app():
    """No database needed: one app for every example (the fixture app is per test and database)."""
    global _NUMBER_APP
    if _NUMBER_APP is None:
        from crm import create_app

        _NUMBER_APP = create_app("testing")
    return _NUMBER_APP


@settings(max_examples=300, deadline=None)
@given(value=NUMBERS, decimals=st.integers(min_value=0, max_value=3), locale=st.sampled_from(["da", "en"]))
def test_format_number_matches_babel(value, decimals, locale):
    with _number_app().test_request_context("/"), force_locale(locale):
        assert format_number(value, decimals) == _babel_number(value, decimals, locale)


def _babel_number(value, decimals: int, locale: str) -> str:
    """Babel's own ``format_decimal``: ``#,##0`` for whole numbers, ``#,##0.##`` for other
    numbers, ``decimals`` fixed places when asked."""
    if decimals:
        pattern = "#,##0." + "0" * decimals
    else:
        pattern = "#,##0.##" if isinstance(value, (float, Decimal)) else "#,##0"
    return format_decimal(value, format=pattern, locale=locale)


def test_no_translated_string_hides_inside_an_f_string():
    """Babel's extractor cannot see ``_("…")`` inside an f-string, so the English catalog would miss it."""
    import re
    from pathlib import Path

    pattern = re.compile(r"""\bf(["']).*?\{[^}]*\b_l?\(""")
    root = Path(__file__).resolve().parent.parent / "crm"
    offenders = [f"{path.relative_to(root)}:{number}" for path in root.rglob("*.py")
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                 if pattern.search(line)]
    assert offenders == []


def test_every_message_in_the_code_has_its_english_translation(tmp_path):
    """What ``pybabel extract`` finds in the code and templates (babel.cfg) is all in the English
    catalog with a translation: a string added without one shows Danish on an English page."""
    import subprocess  # nosec B404
    import sys
    from pathlib import Path

    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parent.parent
    template = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", "-k", "_l",
                    "-o", str(template), "."], cwd=root, check=True)  # nosec B603
    with template.open("rb") as extracted, (root / "crm/translations/en/LC_MESSAGES/messages.po").open("rb") as po:
        wanted, catalog = read_po(extracted), read_po(po)
    missing = sorted(str(m.id) for m in wanted if m.id and (m.id not in catalog or not catalog[m.id].string))
    assert missing == []
