"""Jinja filters and globals shared by all templates (Danish date format, labels)."""
from typing import Any, Optional

from flask import Flask, current_app, url_for
from flask_babel import get_locale
from markupsafe import Markup, escape

from crm.formatting import format_date, format_datetime, format_money, format_number, format_percent, format_time
from crm.models import ACTIVITY_TYPES, STAGES, TRACKS
from flask_login import current_user

from crm.services.permissions import can_change_activity, can_define_instruments, can_maintain_grants, can_write_region
from crm.services.importing import format_change_value
from crm.services.period_locks import load_locks



def stage_label(code: Optional[str]) -> str:
    return str(STAGES.get(code or "", code or ""))


def stage_badge(code: Optional[str]) -> Markup:
    """A stage as a coloured badge (a function, not a macro: tables show one per row)."""
    return Markup(  # nosec B704: both values are escaped
        f'<span class="badge stage-badge stage-{escape(code or "")}">{escape(stage_label(code))}</span>')


def auto_note(record: Any) -> str:
    """A stage change's or activity's automatic note in the reader's language ("" for none)."""
    from crm.services.auto_notes import render

    return render(getattr(record, "note_kind", None), getattr(record, "note_params", None))


def activity_type_label(code: Optional[str]) -> str:
    return str(ACTIVITY_TYPES.get(code or "", (code or "", None))[0])


def period_lock(region_code: Optional[int], day) -> Any:
    """The submission locking a record of ``region_code`` dated ``day`` (None: not locked); the lock
    state is read once per request (crm.services.period_locks)."""
    from flask import g

    if "period_locks" not in g:
        g.period_locks = load_locks()
    return g.period_locks.lock_for(region_code, day)


class PathUrls:
    """``url_for`` for a page linking to many records of one kind (98 municipalities on a map):
    each endpoint's URL is built once by ``url_for`` with stand-in numbers, which are then
    replaced by each record's. Only whole numbers (the ``int`` converter's values, which are
    written as plain digits) go in; tests/test_path_urls.py holds the result to ``url_for``'s.
    """

    _STAND_IN = 987_654_320  # + the argument's position; digits no route or prefix contains

    def __init__(self):
        self._templates: dict[tuple, str] = {}

    def __call__(self, endpoint: str, **values: int) -> str:
        key = (endpoint, *values)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = self._template(endpoint, list(values))
        return template.format(**values)

    def _template(self, endpoint: str, names: list[str]) -> str:
        stand_ins = {name: self._STAND_IN + i for i, name in enumerate(names)}
        url = url_for(endpoint, **stand_ins).replace("{", "{{").replace("}", "}}")
        for name, number in stand_ins.items():
            if url.count(str(number)) != 1:
                raise ValueError(f"{endpoint}: {name} is not written once in its URL")
            url = url.replace(str(number), "{%s:d}" % name)
        return url


def path_for(endpoint: str, **values: int) -> str:
    """``url_for`` for a page's many links to records by number (``PathUrls``: one ``url_for`` per
    endpoint and request, kept in the request's environ so it never outlives the request)."""
    from flask import request

    environ = request.environ
    urls = environ.get("crm.path_urls")
    if urls is None:
        urls = environ["crm.path_urls"] = PathUrls()
    return urls(endpoint, **values)


def init_app(app: Flask) -> None:
    app.add_template_filter(format_date, "dkdate")
    app.add_template_filter(format_change_value, "change_value")
    app.add_template_filter(format_datetime, "dkdatetime")
    app.add_template_filter(format_time, "dktime")
    app.add_template_filter(format_number, "number")
    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_percent, "percent")
    app.add_template_filter(stage_label, "stage_label")
    app.add_template_filter(activity_type_label, "activity_type_label")
    app.add_template_global(stage_badge, "stage_badge")
    app.add_template_global(auto_note, "auto_note")
    app.add_template_global(get_locale, "get_locale")
    # The rules take the acting user explicitly; in a template that is the signed-in user.
    app.add_template_global(lambda region_code, owner_id=None: can_write_region(region_code, owner_id, user=current_user),
                            "can_write_region")
    app.add_template_global(lambda activity: can_change_activity(activity, user=current_user), "can_change_activity")
    app.add_template_global(lambda: can_define_instruments(current_user), "can_define_instruments")
    app.add_template_global(period_lock, "period_lock")
    app.add_template_global(path_for, "path_for")
    app.add_template_global(lambda: can_maintain_grants(current_user), "can_maintain_grants")
    app.add_template_global(STAGES, "STAGES")
    app.add_template_global(ACTIVITY_TYPES, "ACTIVITY_TYPES")
    app.add_template_global(TRACKS, "TRACKS")

    @app.context_processor
    def _languages():
        return {"LANGUAGES": current_app.config["LANGUAGES"]}
