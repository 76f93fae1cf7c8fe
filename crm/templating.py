"""Jinja filters and globals shared by all templates (Danish date format, labels)."""
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any, Optional

from flask import Flask, current_app
from babel import Locale
from babel.numbers import get_decimal_symbol, get_group_symbol, get_minus_sign_symbol
from flask_babel import format_decimal, get_locale
from markupsafe import Markup, escape

from crm.clock import format_date, format_datetime, format_time
from crm.i18n import current_locale
from crm.models import ACTIVITY_TYPES, STAGES, TRACKS
from crm.services.permissions import can_change_activity, can_write_region
from crm.services.importing import format_change_value



def format_number(value: Any, decimals: int = 0) -> str:
    """Numbers in the user's locale (decimal comma in Danish), exactly as Babel's ``format_decimal``
    with ``#,##0`` (whole numbers), ``#,##0.##`` (other numbers) or ``decimals`` fixed places.

    Done by hand because Babel parses the pattern and looks the locale up on every call (about
    20 µs, the largest cost of a table of figures); a test holds the output to Babel's.
    """
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return _babel_number(value, decimals)
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        return _babel_number(value, decimals)
    places = decimals or (0 if isinstance(value, int) else 2)
    rounded = abs(number).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    whole, _, fraction = f"{rounded:,.{places}f}".partition(".")
    if not decimals:
        fraction = fraction.rstrip("0")
    group, decimal_sign, minus = _number_symbols(current_locale())
    text = whole.replace(",", group) + (decimal_sign + fraction if fraction else "")
    return minus + text if number.is_signed() else text


def format_percent(value: Any, decimals: int = 1) -> str:
    """A share given in percent (41.37 for 41.37 %) the way the user's language writes it:
    "41,4 %" in Danish, "41.4%" in English (CLDR's percent pattern, as Babel's ``format_percent``,
    with its no-break space written as a plain one, as pages and tests have always had it); the one
    percent format of every page. None is shown as "–"."""
    if value is None:
        return "–"
    prefix, suffix = _percent_affixes(current_locale())
    return prefix + format_number(value, decimals) + suffix


@lru_cache(maxsize=8)
def _percent_affixes(locale: Locale) -> tuple[str, str]:
    pattern = locale.percent_formats[None]
    return pattern.prefix[0].replace("\xa0", " "), pattern.suffix[0].replace("\xa0", " ")


def _babel_number(value: Any, decimals: int) -> str:
    if isinstance(value, (float, Decimal)) or decimals:
        return format_decimal(value, format="#,##0." + "0" * decimals if decimals else "#,##0.##")
    return format_decimal(value, format="#,##0")


@lru_cache(maxsize=8)
def _number_symbols(locale: Locale) -> tuple[str, str, str]:
    return get_group_symbol(locale), get_decimal_symbol(locale), get_minus_sign_symbol(locale)


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


def init_app(app: Flask) -> None:
    app.add_template_filter(format_date, "dkdate")
    app.add_template_filter(format_change_value, "change_value")
    app.add_template_filter(format_datetime, "dkdatetime")
    app.add_template_filter(format_time, "dktime")
    app.add_template_filter(format_number, "number")
    app.add_template_filter(format_percent, "percent")
    app.add_template_filter(stage_label, "stage_label")
    app.add_template_filter(activity_type_label, "activity_type_label")
    app.add_template_global(stage_badge, "stage_badge")
    app.add_template_global(auto_note, "auto_note")
    app.add_template_global(get_locale, "get_locale")
    app.add_template_global(can_write_region, "can_write_region")
    app.add_template_global(can_change_activity, "can_change_activity")
    app.add_template_global(STAGES, "STAGES")
    app.add_template_global(ACTIVITY_TYPES, "ACTIVITY_TYPES")
    app.add_template_global(TRACKS, "TRACKS")

    @app.context_processor
    def _languages():
        return {"LANGUAGES": current_app.config["LANGUAGES"]}
