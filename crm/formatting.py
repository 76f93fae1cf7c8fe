"""Dates, numbers and periods the Danish way: the one module that writes them for people, reads
the dates and numbers people type, and does the month and half-year arithmetic.

A bottom-level module (standard library, Babel, ``crm.i18n`` and ``crm.clock`` only), so models,
services, views, the CLI and the templates' filters (``|dkdate``, ``|dkdatetime``, ``|dktime``,
``|number``, ``|percent``) all share it.

Text for people follows Babel: dates as 23-11-2026 in both languages, numbers in the reader's
language (``1.234,5`` in Danish, ``1,234.5`` in English). Two cases are written directly, because
the dashboard shows some 390 dates and 130 whole numbers per request and Babel's general path made
the page 10–13 % slower at 100 000 activities (`python -m bench.compare`, README "Speed"): a date,
and a whole number grouped with the locale's own symbols. tests/test_formatting.py holds both to
Babel's output (every date from year 1 to 9999, whole numbers of every size and sign, both
locales); everything else goes through Babel.
"""
import calendar
import re
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, NamedTuple, Optional, Union

from babel import Locale
from babel.numbers import NumberPattern, format_decimal, parse_pattern

from crm.clock import local_today, to_local
from crm.i18n import current_locale
from crm.i18n import gettext as _

# --- Dates and times shown to people --------------------------------------------------------------

# One format in both languages: the way Danish users write a date (Babel's dd-MM-yyyy, with
# HH:mm for times). Numeric only, so no locale changes it: written directly with f-strings,
# which tests/test_formatting.py holds to Babel's output.


def format_date(value: Optional[date]) -> str:
    """A date as 23-11-2026; "" for None. Babel's ``dd-MM-yyyy``, written directly (see above)."""
    if value is None:
        return ""
    return f"{value.day:02d}-{value.month:02d}-{value.year:04d}"


def format_datetime(value: Optional[datetime]) -> str:
    """A stored timestamp (naive means UTC) in Danish local time, summer or winter: 23-11-2026 14:05.
    Babel's ``dd-MM-yyyy HH:mm`` in Copenhagen time, written directly like dates."""
    if value is None:
        return ""
    if not isinstance(value, datetime):  # a date: its midnight (UTC), as Babel takes it
        value = datetime.combine(value, time())
    local = to_local(value)
    return f"{local.day:02d}-{local.month:02d}-{local.year:04d} {local.hour:02d}:{local.minute:02d}"


def format_time(value: Optional[time]) -> str:
    """A wall-clock time of day (already Danish time, e.g. an activity's start) as 14:05
    (Babel's ``HH:mm``, written directly)."""
    if value is None:
        return ""
    return f"{value.hour:02d}:{value.minute:02d}"


# --- Dates typed by people ------------------------------------------------------------------------

# 23-11-2026 (also 23.11.2026 or 23/11/2026, one or two digits for day and month), or ISO
# 2026-11-23, which spreadsheets may write with a midnight time (2026-11-23 00:00:00).
_DANISH_DATE = re.compile(r"(\d{1,2})[-./](\d{1,2})[-./](\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?")


def parse_date(text: Optional[str]) -> Optional[date]:
    """A typed date (see above; spaces around it are ignored) as a date; None when it is empty,
    not in one of the forms or not a day of the calendar (31-02-2026)."""
    text = (text or "").strip()
    danish = _DANISH_DATE.fullmatch(text)
    if danish:
        day, month, year = danish.groups()
    else:
        iso = _ISO_DATE.fullmatch(text)
        if iso is None:
            return None
        year, month, day = iso.groups()
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


# --- Numbers shown to people ----------------------------------------------------------------------

WHOLE = parse_pattern("#,##0")  # an int
DECIMAL = parse_pattern("#,##0.##")  # any other number: up to two decimals, no trailing zeros


@lru_cache(maxsize=8)
def _fixed(decimals: int) -> NumberPattern:
    return parse_pattern("#,##0." + "0" * decimals)


def format_number(value: Any, decimals: int = 0) -> str:
    """A number in the reader's language (Babel's ``format_decimal``): ``1.234`` and ``2,5`` in
    Danish, ``1,234`` and ``2.5`` in English; ``decimals`` fixed places, else whole numbers
    without and other numbers with up to two decimals. "" for None.

    Written directly with Python's own grouping and the locale's symbols, which gives Babel's
    text (tests/test_i18n.py compares the two on random numbers) at a fifth of its cost: pages
    show hundreds of numbers. Anything unusual (not finite, not a plain number) goes to Babel."""
    if value is None:
        return ""
    return _format_number(value, decimals, current_locale())


def number_formatter(decimals: int = 0) -> Callable[[Any], str]:
    """``format_number`` with ``decimals`` for a view writing a column of numbers: the request's
    locale looked up once, not once per number."""
    locale = current_locale()
    return lambda value: "" if value is None else _format_number(value, decimals, locale)


def _format_number(value: Any, decimals: int, locale: Locale) -> str:
    group, minus, point = _number_symbols(locale)[:3]
    if not decimals and type(value) is int:
        grouped = f"{abs(value):,}".replace(",", group)
        return minus + grouped if value < 0 else grouped
    kind = type(value)
    number = value if kind is Decimal else Decimal(str(value)) if kind in (int, float) else None
    if number is None or not number.is_finite():
        return _babel_number(value, decimals, locale)
    if decimals:
        text = f"{abs(number):,.{decimals}f}"
    elif kind is int:
        text = f"{abs(number):,.0f}"
    else:  # up to two decimals, no trailing zeros ("#,##0.##")
        text = f"{abs(number):,.2f}".rstrip("0").rstrip(".")
    text = text.replace(",", "\0").replace(".", point).replace("\0", group)
    return minus + text if number.is_signed() else text


def _babel_number(value: Any, decimals: int, locale: Locale) -> str:
    """Babel's ``format_decimal`` with the same patterns as ``format_number``."""
    if decimals:
        pattern = _fixed(decimals)
    else:
        pattern = DECIMAL if isinstance(value, (float, Decimal)) else WHOLE
    return format_decimal(value, format=pattern, locale=locale)


class NumberSymbols(NamedTuple):
    """How a locale writes numbers, as Babel writes them (percent affixes: CLDR's percent
    pattern, its no-break space as a plain one, as pages and tests have always had it)."""

    group: str
    minus: str
    point: str
    percent_prefix: str
    percent_suffix: str


_SYMBOLS: dict[tuple, NumberSymbols] = {}


def _number_symbols(locale: Locale) -> NumberSymbols:
    """The locale's ``NumberSymbols``, remembered by the locale's parts (hashing a ``Locale``
    costs more than formatting the number)."""
    key = (locale.language, locale.territory, locale.script, locale.variant)
    symbols = _SYMBOLS.get(key)
    if symbols is None:
        percent = locale.percent_formats[None]
        symbols = _SYMBOLS[key] = NumberSymbols(
            format_decimal(1000, format=WHOLE, locale=locale)[1], format_decimal(-1, format=WHOLE, locale=locale)[:-1],
            format_decimal(Decimal("1.5"), format=_fixed(1), locale=locale)[1],
            percent.prefix[0].replace("\xa0", " "), percent.suffix[0].replace("\xa0", " "))
    return symbols


def format_percent(value: Any, decimals: int = 1) -> str:
    """A share given in percent (41.37 for 41.37 %) the way the user's language writes it:
    "41,4 %" in Danish, "41.4%" in English (CLDR's percent pattern, as Babel's ``format_percent``);
    the one percent format of every page. None is shown as "–"."""
    return percent_formatter(decimals)(value)


def percent_formatter(decimals: int = 1) -> Callable[[Any], str]:
    """``format_percent`` with ``decimals`` for a view writing a column of shares: the request's
    locale looked up once, not once per share."""
    locale = current_locale()
    symbols = _number_symbols(locale)
    prefix, suffix = symbols.percent_prefix, symbols.percent_suffix
    return lambda value: "–" if value is None else prefix + _format_number(value, decimals, locale) + suffix


def number_as_typed(value: Optional[Union[int, Decimal, float]]) -> str:
    """A number the way a Dane types it (``2,5``, ``12``; never ``2.50`` or ``1.234``), in both
    languages: put back into a text input, shown in an import's changes. "" for None."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(str(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def megabytes(size: int) -> str:
    """A size in bytes as whole MB (``10``), or with two decimals below one MB (``0,25``)."""
    value = size / (1024 * 1024)
    return str(round(value)) if value >= 1 else format_number(value, 2)


# --- Numbers typed by people ----------------------------------------------------------------------
#
# The rule (also in the README):
#
# - one decimal separator, comma or point: ``12,5`` and ``12.5`` are both twelve and a half;
# - no thousands separators: a separator followed by exactly three digits (``1.234``, ``1,234``,
#   ``12.500``) is ambiguous (a Dane reads 1234, an English reader 1.234) and refused, as is anything
#   with two separators (``1.234,5``) or a space inside (``1 234``); write ``1234`` or ``1234,5``;
#   a leading zero makes it plain (``0,125``);
# - at most ``places`` decimals (0 for counts, 2 for hours); a count takes only a whole number.

MAX_NUMBER_LENGTH = 20  # longer than any count or hours figure anyone types
_NUMBER = re.compile(r"([+-]?)([0-9]+)(?:([.,])([0-9]+))?")
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-"})  # typographic minus, en dash
_SPACES = "\u00a0\u202f \t"


class NumberError(ValueError):
    """A typed number that cannot be read, or could be read two ways; the message says what to type."""


def parse_number(text: Optional[str], places: int = 0) -> Optional[Union[int, Decimal]]:
    """``text`` as an int (``places`` 0) or a Decimal; None when empty. Raises NumberError."""
    text = (text or "").strip(_SPACES).translate(_MINUS_SIGNS)
    if not text:
        return None
    example = _("fx 12") if places == 0 else _("fx 2,5")
    match = _NUMBER.fullmatch(text) if len(text) <= MAX_NUMBER_LENGTH else None
    if match is None:
        if len(text) <= MAX_NUMBER_LENGTH and re.fullmatch(r"[+-]?[0-9]+([., \u00a0\u202f][0-9]+)+", text):
            raise _ambiguous(places)
        raise NumberError(_("Skriv et helt tal, %(example)s.", example=example) if places == 0
                          else _("Skriv et tal, %(example)s.", example=example))
    sign, whole, separator, decimals = match.groups()
    if separator and len(decimals) == 3 and not whole.startswith("0"):
        raise _ambiguous(places)
    if separator and places == 0:
        raise NumberError(_("Skriv et helt tal, %(example)s.", example=example))
    if separator and len(decimals) > places:
        raise NumberError(_("Højst %(places)s decimaler, fx 2,25.", places=places))
    if places == 0:
        return int(sign + whole)
    return Decimal(f"{sign}{whole}.{decimals}" if separator else f"{sign}{whole}")


def _ambiguous(places: int) -> NumberError:
    if places == 0:
        return NumberError(_("Tvetydigt tal: skriv det uden tusindtalsseparator, fx 1234."))
    return NumberError(_("Tvetydigt tal: skriv det uden tusindtalsseparator, fx 1234 eller 1234,5."))


# --- Periods --------------------------------------------------------------------------------------


def month_end(year: int, month: int) -> date:
    """The last day of a month."""
    return date(year, month, calendar.monthrange(year, month)[1])


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (earlier if negative); a day the target month lacks falls
    back to its last day (31-08 minus six months is 28-02, or 29-02 in a leap year)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def month_ends(first: date, last: date) -> list[date]:
    """The end of every month from ``first``'s month to ``last``'s; the last one is ``last`` itself."""
    points = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        points.append(min(month_end(year, month), last))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return points


def half_year_start(day: date) -> date:
    """1 January or 1 July of the half year ``day`` falls in."""
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def half_year_period(year: int, half: int) -> tuple[date, date]:
    """H1 = 1 January–30 June, H2 = 1 July–31 December (inclusive). ValueError otherwise."""
    if half not in (1, 2):
        raise ValueError("half must be 1 or 2")
    if not 1 <= int(year) <= 9999:
        raise ValueError("year out of range")
    return (date(year, 1, 1), date(year, 6, 30)) if half == 1 else (date(year, 7, 1), date(year, 12, 31))


def last_completed_half(today: Optional[date] = None) -> tuple[int, int]:
    """(year, half) of the most recent half year that has ended: the one due for STAR."""
    today = today or local_today()
    return (today.year, 1) if today.month > 6 else (today.year - 1, 2)


def period_label(start: date, end: date) -> str:
    """'1. halvår 2025' for a half year, else '01-01-2025–15-03-2025'."""
    for half in (1, 2):
        if (start, end) == half_year_period(start.year, half):
            return _("%(half)s. halvår %(year)s", half=half, year=start.year)
    return f"{format_date(start)}–{format_date(end)}"


# --- Money (whole øre) -------------------------------------------------------------------------------
#
# Amounts are kept as whole øre (ints) and never pass through a float. A typed amount is read with
# Decimal-free integer arithmetic: ``1.234,50``, ``1234,50``, ``1234.5``, ``1 234,50``, ``-250`` and
# ``1,234.50`` (English) all work. Money has at most two decimals, so a single separator followed by
# exactly three digits can only group thousands (``1.234`` is 1 234 kr.), unlike a count or hours.

MAX_MONEY_ORE = 10**13  # 100 000 000 000 kr.: far beyond any grant, and inside a 64-bit column
_MONEY_CURRENCY = re.compile(r"^(?:kr\.?|dkk)\s*|\s*(?:kr\.?|dkk)$", re.IGNORECASE)
_MONEY_CHARS = re.compile(r"[0-9][0-9., \u00a0\u202f]*")
_GROUPED = re.compile(r"[1-9][0-9]{0,2}(?:[., \u00a0\u202f][0-9]{3})*")


def parse_money(text: Optional[str]) -> Optional[int]:
    """A typed amount of kroner as whole øre (``"1.234,50"`` → 123450); None when empty.
    A leading (or, as finance systems write it, trailing) minus makes a credit. Raises NumberError."""
    text = (text or "").strip(_SPACES).translate(_MINUS_SIGNS)
    text = _MONEY_CURRENCY.sub("", text).strip(_SPACES)
    if not text:
        return None
    sign = 1
    if text[0] in "+-":
        sign, text = (-1 if text[0] == "-" else 1), text[1:].strip(_SPACES)
    elif text.endswith("-"):
        sign, text = -1, text[:-1].strip(_SPACES)
    if len(text) > MAX_NUMBER_LENGTH + 10 or not _MONEY_CHARS.fullmatch(text):
        raise NumberError(_("Skriv et beløb i kroner, fx 1.234,50 eller -250."))
    whole, decimals = _split_money(text)
    if len(decimals) > 2:
        raise NumberError(_("Højst to decimaler (øre), fx 1.234,50."))
    ore = sign * (int(whole) * 100 + int(decimals.ljust(2, "0") or "0"))
    if abs(ore) >= MAX_MONEY_ORE:
        raise NumberError(_("Urimeligt stort beløb."))
    return ore


def _split_money(text: str) -> tuple[str, str]:
    """(whole digits, decimal digits) of an unsigned amount; NumberError on a malformed one."""
    marks = [(i, c) for i, c in enumerate(text) if c in ".,"]
    decimal_at = None
    kinds = {c for _i, c in marks}
    if len(kinds) == 2:  # both: the last one is the decimal separator
        decimal_at = marks[-1][0]
        if sum(1 for _i, c in marks if c == marks[-1][1]) > 1:
            raise NumberError(_("Skriv et beløb i kroner, fx 1.234,50 eller -250."))
    elif len(marks) == 1 and (len(text) - marks[0][0] - 1 != 3 or text.startswith("0")):
        decimal_at = marks[0][0]  # one mark, not before three digits (or after a lone 0: 0,125)
    whole, decimals = (text, "") if decimal_at is None else (text[:decimal_at], text[decimal_at + 1:])
    if not decimals.isdigit() and decimals or (decimal_at is not None and not decimals):
        raise NumberError(_("Skriv et beløb i kroner, fx 1.234,50 eller -250."))
    if not whole.isdigit():
        if not _GROUPED.fullmatch(whole):
            raise NumberError(_("Skriv et beløb i kroner, fx 1.234,50 eller -250."))
        whole = re.sub(r"[^0-9]", "", whole)
    return whole, decimals


def format_money(ore: Optional[int]) -> str:
    """Whole øre as kroner with two decimals in the reader's language: ``1.234,50`` in Danish,
    ``1,234.50`` in English (exact: integer arithmetic, no float). "" for None."""
    if ore is None:
        return ""
    kroner, rest = divmod(abs(int(ore)), 100)
    group, minus, point = _number_symbols(current_locale())[:3]
    grouped = f"{kroner:,}".replace(",", group)
    return f"{minus if ore < 0 else ''}{grouped}{point}{rest:02d}"


def money_as_typed(ore: Optional[int]) -> str:
    """Whole øre the way a Dane types the amount into a field: ``1234,50`` (no grouping). "" for None."""
    if ore is None:
        return ""
    kroner, rest = divmod(abs(int(ore)), 100)
    return f"{'-' if ore < 0 else ''}{kroner},{rest:02d}"


def money_decimal(ore: Optional[int]) -> Optional[Decimal]:
    """Whole øre as an exact Decimal of kroner (for spreadsheets: 123450 → Decimal('1234.50'))."""
    return None if ore is None else Decimal(int(ore)).scaleb(-2)
