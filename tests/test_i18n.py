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


def test_variables_and_plurals_outside_requests(app):
    assert gettext("Kommuner: %(names)s", names="Aarhus") == "Kommuner: Aarhus"
    assert ngettext("%(num)d kommune", "%(num)d kommuner", 2) == "2 kommuner"
