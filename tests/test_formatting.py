"""crm/formatting.py: dates, numbers and periods the Danish way, held to Babel's output and to the
calendar (month ends, leap years, half-year boundaries), and the one parser of typed dates."""
import ast
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from babel.dates import format_date as babel_date
from babel.dates import format_datetime as babel_datetime
from babel.dates import format_time as babel_time
from babel.numbers import format_decimal, format_percent as babel_percent
from flask_babel import force_locale
from hypothesis import given, settings
from hypothesis import strategies as st

from crm import formatting
from crm.clock import LOCAL_TZ, to_local
from crm.formatting import (NumberError, add_months, format_date, format_datetime, format_number, format_percent,
                            format_time, half_year_period, half_year_start, last_completed_half, megabytes, month_end,
                            month_ends, number_as_typed, parse_date, parse_number, period_label)

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ["da", "en"]
_APP = None


def _app():
    """No database needed: one app for every example (the fixture app is per test and database)."""
    global _APP
    if _APP is None:
        from crm import create_app

        _APP = create_app("testing")
    return _APP


def in_locale(locale: str):
    """A request context in ``locale``, as a page or an e-mail in that language has."""
    context = _app().test_request_context("/")
    context.push()
    forced = force_locale(locale)
    forced.__enter__()
    return context, forced


@pytest.fixture(params=LOCALES)
def locale(request):
    context, forced = in_locale(request.param)
    yield request.param
    forced.__exit__(None, None, None)
    context.pop()


# --- Dates and times shown ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)), locale=st.sampled_from(LOCALES))
def test_dates_are_day_month_year_in_both_languages(day, locale):
    with _app().test_request_context("/"), force_locale(locale):
        shown = format_date(day)
    assert shown == f"{day.day:02d}-{day.month:02d}-{day.year:04d}"
    assert shown == babel_date(day, "dd-MM-yyyy", locale=locale)
    assert parse_date(shown) == day


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 30)),
       locale=st.sampled_from(LOCALES))
def test_timestamps_are_danish_local_time(moment, locale):
    """Stored naive UTC, shown in Copenhagen time (summer and winter) as 23-11-2026 14:05."""
    local = to_local(moment)
    with _app().test_request_context("/"), force_locale(locale):
        assert format_datetime(moment) == (f"{local.day:02d}-{local.month:02d}-{local.year:04d} "
                                           f"{local.hour:02d}:{local.minute:02d}")
        assert format_datetime(moment) == babel_datetime(moment, "dd-MM-yyyy HH:mm", tzinfo=LOCAL_TZ, locale=locale)


@pytest.mark.parametrize("value, shown", [(time(14, 5), "14:05"), (time(0, 0), "00:00"), (time(23, 59, 59), "23:59"),
                                          (time(9, 7, 30), "09:07")])
def test_times_of_day_are_hours_and_minutes(value, shown, locale):
    assert format_time(value) == shown == babel_time(value, "HH:mm", locale=locale)


@pytest.mark.parametrize("day", [date(2026, 1, 15), date(2026, 7, 1)])
def test_a_date_given_as_a_timestamp_is_its_midnight_as_babel_has_it(day):
    assert format_datetime(day) == babel_datetime(day, "dd-MM-yyyy HH:mm", tzinfo=LOCAL_TZ, locale="da")


def test_nothing_is_shown_as_empty():
    assert format_date(None) == format_datetime(None) == format_time(None) == ""


# --- Dates typed ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, day", [
    ("23-11-2026", date(2026, 11, 23)), ("2026-11-23", date(2026, 11, 23)), ("1-2-2026", date(2026, 2, 1)),
    ("23.11.2026", date(2026, 11, 23)), ("23/11/2026", date(2026, 11, 23)), (" 23-11-2026 ", date(2026, 11, 23)),
    ("2026-11-23 00:00", date(2026, 11, 23)), ("2026-11-23T00:00:00", date(2026, 11, 23)),
    ("29-02-2024", date(2024, 2, 29)), ("0001-01-01", date(1, 1, 1)), ("31-12-9999", date(9999, 12, 31)),
])
def test_typed_dates_that_are_read(text, day):
    assert parse_date(text) == day


@pytest.mark.parametrize("text", [
    None, "", "   ", "31-02-2026", "29-02-2023", "29-02-2100", "2026-13-01", "32-01-2026", "00-00-0000", "0000-01-01",
    "23-11-26", "23112026", "23 11 2026", "2026-11-23T10:00", "2026-11-23 12:00", "10000-01-01", "-0001-01-01",
    "23-11-2026x", "i går", "2026/11/23", "٢٣-١١-٢٠٢٦x",
])
def test_typed_dates_that_are_refused(text):
    assert parse_date(text) is None


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
def test_every_date_reads_back_from_both_forms(day):
    assert parse_date(day.isoformat()) == day
    assert parse_date(f"{day.day}.{day.month}.{day.year:04d}") == day


def test_one_date_parser_in_crm():
    """Typed dates are read by crm.formatting.parse_date only: no strptime or DateTime formats elsewhere."""
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "crm").rglob("*.py")
                 if any(word in path.read_text(encoding="utf-8") for word in ("strptime", "DateTime(formats"))]
    assert offenders == []


# --- Numbers --------------------------------------------------------------------------------------

NUMBER_CASES = [  # (value, decimals, Danish, English)
    (1234567, 0, "1.234.567", "1,234,567"), (-1234567, 0, "-1.234.567", "-1,234,567"), (0, 0, "0", "0"),
    (2.5, 0, "2,5", "2.5"), (-2.5, 0, "-2,5", "-2.5"), (Decimal("1234.50"), 0, "1.234,5", "1,234.5"),
    (0.015, 0, "0,02", "0.02"), (10 ** 15, 0, "1.000.000.000.000.000", "1,000,000,000,000,000"),
    (41.37, 1, "41,4", "41.4"), (2, 2, "2,00", "2.00"), (-3.14159, 3, "-3,142", "-3.142"),
    (1234.5, 1, "1.234,5", "1,234.5"),
]


@pytest.mark.parametrize("value, decimals, danish, english", NUMBER_CASES)
def test_numbers_in_the_readers_language(value, decimals, danish, english):
    for locale, expected in (("da", danish), ("en", english)):
        with _app().test_request_context("/"), force_locale(locale):
            assert format_number(value, decimals) == expected
            pattern = "#,##0." + "0" * decimals if decimals else (
                "#,##0" if isinstance(value, int) else "#,##0.##")
            assert expected == format_decimal(value, format=pattern, locale=locale)
    assert format_number(None) == ""


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.integers(-10 ** 6, 10 ** 6), st.integers(-10 ** 18, 10 ** 18)), locale=st.sampled_from(LOCALES))
def test_whole_numbers_written_directly_are_babels(value, locale):
    """The direct path for whole numbers (crm.formatting's docstring) writes what Babel writes."""
    with _app().test_request_context("/"), force_locale(locale):
        assert format_number(value) == format_decimal(value, format="#,##0", locale=locale)


def test_numbers_outside_requests_are_danish():
    assert format_number(1234.5) == "1.234,5"


@pytest.mark.parametrize("value", [41.37, 0, 100, 66.6667, -3.25, 1234.5, 0.05])
def test_percent_is_babels_percent_pattern(value, locale):
    pattern = "#,##0.0%" if locale == "en" else "#,##0.0\xa0%"
    assert format_percent(value) == babel_percent(value / 100, locale=locale, format=pattern).replace("\xa0", " ")
    assert format_percent(None) == "–"


@pytest.mark.parametrize("value, text", [(Decimal("2.50"), "2,5"), (Decimal("12.00"), "12"), (7, "7"), (None, ""),
                                         (Decimal("0.25"), "0,25"), (Decimal("-1.5"), "-1,5"), (2.25, "2,25"),
                                         (Decimal("1E+2"), "100"), (Decimal("0.000"), "0")])
def test_numbers_as_typed_are_danish_in_both_languages(value, text, locale):
    assert number_as_typed(value) == text


@settings(max_examples=200, deadline=None)
@given(value=st.decimals(min_value=-10 ** 6, max_value=10 ** 6, places=2))
def test_a_number_as_typed_reads_back(value):
    assert parse_number(number_as_typed(value), 2) == value


def test_typed_numbers_are_refused_with_a_reason():
    with pytest.raises(NumberError, match="Tvetydigt"):
        parse_number("1.234")
    assert parse_number("12,5", 2) == Decimal("12.5")


@pytest.mark.parametrize("size, danish, english", [(10 * 1024 * 1024, "10", "10"), (96 * 1024 * 1024, "96", "96"),
                                                   (2000 * 1024 * 1024, "2000", "2000"),
                                                   (int(2.5 * 1024 * 1024), "2", "2"), (64 * 1024, "0,06", "0.06")])
def test_megabytes(size, danish, english):
    for locale, expected in (("da", danish), ("en", english)):
        with _app().test_request_context("/"), force_locale(locale):
            assert megabytes(size) == expected


# --- Periods --------------------------------------------------------------------------------------


@pytest.mark.parametrize("year, month, last", [(2024, 2, 29), (2025, 2, 28), (2000, 2, 29), (2100, 2, 28),
                                               (2026, 4, 30), (2026, 12, 31), (2026, 1, 31)])
def test_month_end_knows_leap_years(year, month, last):
    assert month_end(year, month) == date(year, month, last)


@pytest.mark.parametrize("day, months, result", [
    (date(2026, 1, 31), 1, date(2026, 2, 28)), (date(2024, 1, 31), 1, date(2024, 2, 29)),
    (date(2024, 2, 29), 12, date(2025, 2, 28)), (date(2024, 2, 29), 48, date(2028, 2, 29)),
    (date(2026, 8, 31), -6, date(2026, 2, 28)), (date(2024, 8, 31), -6, date(2024, 2, 29)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)), (date(2026, 12, 31), 2, date(2027, 2, 28)),
    (date(2026, 1, 15), -13, date(2024, 12, 15)), (date(2026, 3, 15), 0, date(2026, 3, 15)),
    (date(2026, 5, 31), 1, date(2026, 6, 30)),
])
def test_add_months_clamps_to_the_months_end(day, months, result):
    assert add_months(day, months) == result


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=date(100, 1, 1), max_value=date(9000, 12, 31)), months=st.integers(-1200, 1200))
def test_add_months_lands_in_the_right_month(day, months):
    result = add_months(day, months)
    assert result.year * 12 + result.month == day.year * 12 + day.month + months
    assert result.day == min(day.day, month_end(result.year, result.month).day)


def test_month_ends_end_with_the_last_day_asked_for():
    assert month_ends(date(2024, 1, 15), date(2024, 4, 10)) == [date(2024, 1, 31), date(2024, 2, 29),
                                                                 date(2024, 3, 31), date(2024, 4, 10)]
    assert month_ends(date(2025, 12, 1), date(2026, 1, 31)) == [date(2025, 12, 31), date(2026, 1, 31)]
    assert month_ends(date(2026, 3, 1), date(2026, 3, 2)) == [date(2026, 3, 2)]


@pytest.mark.parametrize("day, start", [(date(2026, 1, 1), date(2026, 1, 1)), (date(2026, 6, 30), date(2026, 1, 1)),
                                        (date(2026, 7, 1), date(2026, 7, 1)), (date(2026, 12, 31), date(2026, 7, 1))])
def test_half_year_start(day, start):
    assert half_year_start(day) == start


def test_half_year_periods_and_their_boundaries():
    assert half_year_period(2024, 1) == (date(2024, 1, 1), date(2024, 6, 30))
    assert half_year_period(2024, 2) == (date(2024, 7, 1), date(2024, 12, 31))
    for bad in ((2025, 0), (2025, 3), (0, 1), (10000, 2)):
        with pytest.raises(ValueError):
            half_year_period(*bad)
    start, end = half_year_period(2025, 1)
    assert half_year_start(end) == start and half_year_start(end + timedelta(days=1)) == end + timedelta(days=1)


@pytest.mark.parametrize("today, due", [(date(2026, 6, 30), (2025, 2)), (date(2026, 7, 1), (2026, 1)),
                                        (date(2026, 12, 31), (2026, 1)), (date(2027, 1, 1), (2026, 2))])
def test_last_completed_half(today, due):
    assert last_completed_half(today) == due


def test_period_labels(locale):
    first, second = ("1. halvår 2025", "2. halvår 2025") if locale == "da" else ("H1 2025", "H2 2025")
    assert period_label(date(2025, 1, 1), date(2025, 6, 30)) == first
    assert period_label(date(2025, 7, 1), date(2025, 12, 31)) == second
    assert period_label(date(2025, 2, 3), date(2025, 11, 28)) == "03-02-2025–28-11-2025"
    assert period_label(date(2025, 1, 1), date(2025, 6, 29)) == "01-01-2025–29-06-2025"


# --- The module stays at the bottom ---------------------------------------------------------------


def test_formatting_imports_only_the_bottom_layer():
    """Standard library, Babel, Flask-Babel's locale (via crm.i18n) and crm.clock: nothing above."""
    allowed = {"crm.i18n", "crm.clock"}
    tree = ast.parse(Path(formatting.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert {name for name in imported if name.startswith("crm")} <= allowed


def test_a_number_formatter_writes_what_format_number_writes(locale):
    from crm.formatting import number_formatter

    with _app().test_request_context("/"), force_locale(locale):
        for decimals in (0, 1, 2):
            formatted = number_formatter(decimals)
            for value in (None, 0, 7, 1234567, -2.5, 41.37, Decimal("66.6667")):
                assert formatted(value) == format_number(value, decimals)
