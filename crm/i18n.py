"""Translation lookups that stay cheap when a page asks for hundreds of strings.

Flask-Babel resolves the locale and its catalog afresh on every ``gettext`` call (several context
lookups and a locale-to-string conversion each time): about 30 µs, which made translation the
largest single cost of rendering a table. Here the catalog is looked up once per request and
remembered next to Flask-Babel's own per-request state, keyed by the locale object, so
``force_locale`` (e-mails in the recipient's language) and ``flask_babel.refresh`` still switch it.
"""
from typing import Any

from babel import Locale
from babel.support import NullTranslations, Translations
from flask import Flask, g, has_app_context
from flask_babel import get_locale, get_translations
from flask_babel.speaklater import LazyString
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

_NULL = NullTranslations()
_DANISH = Locale.parse("da")


def translations() -> Translations | NullTranslations:
    """The current catalog, looked up once per request and locale."""
    if not has_app_context():
        return _NULL
    state = g.get("_flask_babel")  # Flask-Babel 4's per-request namespace (holds babel_locale)
    if state is None:
        return get_translations()
    locale = getattr(state, "babel_locale", None)
    remembered = getattr(state, "crm_translations", None)
    if locale is not None and remembered is not None and remembered[0] is locale:
        return remembered[1]
    catalog = get_translations()  # also sets state.babel_locale
    state.crm_translations = (getattr(state, "babel_locale", None), catalog)
    return catalog


def current_locale() -> Locale:
    """The request's locale (Danish outside requests), read from Flask-Babel's per-request state
    once it has been chosen; ``get_locale`` chooses and remembers it the first time."""
    state = g.get("_flask_babel") if has_app_context() else None
    return getattr(state, "babel_locale", None) or get_locale() or _DANISH


def gettext(string: str, **variables: Any) -> str:
    text = translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    """Like Flask-Babel's ``lazy_gettext``, translated when used, through the fast lookup."""
    return LazyString(gettext, string, **variables)


def init_app(app: Flask) -> None:
    """Templates' ``_``, ``gettext`` and ``{% trans %}`` use the fast lookup (newstyle, autoescaped)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
    )
    # ``_`` is by far the most used; this does what Jinja's newstyle gettext does, minus two
    # context round trips per call.
    app.jinja_env.globals["_"] = _template_gettext


@pass_eval_context
def _template_gettext(eval_ctx: EvalContext, string: str, **variables: Any) -> str:
    text = translations().ugettext(string)
    if eval_ctx.autoescape:
        text = Markup(text)  # nosec B704: our own catalog text, as Jinja's newstyle gettext does
    # Formatted whenever newstyle gettext would change it ("%%" becomes "%"); skipped otherwise.
    return text % variables if variables or "%" in text else text
