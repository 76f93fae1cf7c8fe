"""Numbers typed by people: the one rule for reading ``12,5`` and ``12.5`` (and refusing what could
be read two ways), and the warnings that ask for a second look before an implausible value is saved.

The rule (also in the README):

- one decimal separator, comma or point: ``12,5`` and ``12.5`` are both twelve and a half;
- no thousands separators: a separator followed by exactly three digits (``1.234``, ``1,234``,
  ``12.500``) is ambiguous (a Dane reads 1234, an English reader 1.234) and refused, as is anything
  with two separators (``1.234,5``) or a space inside (``1 234``); write ``1234`` or ``1234,5``;
  a leading zero makes it plain (``0,125``);
- at most ``places`` decimals (0 for counts, 2 for hours); a count takes only a whole number.
"""
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Optional, Union

from crm.i18n import gettext as _

MAX_TEXT_LENGTH = 20  # longer than any count or hours figure anyone types
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
    match = _NUMBER.fullmatch(text) if len(text) <= MAX_TEXT_LENGTH else None
    if match is None:
        if len(text) <= MAX_TEXT_LENGTH and re.fullmatch(r"[+-]?[0-9]+([., \u00a0\u202f][0-9]+)+", text):
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


def input_text(value: Optional[Union[int, Decimal, float]]) -> str:
    """A stored number as it is typed back into a text input: ``2,5``, ``12``, never ``2.50``."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(str(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


@dataclass(frozen=True)
class FormWarning:
    """A value that is allowed but unusual: saved only when the user confirms it.

    ``key`` identifies the warning and the value it is about, so a confirmation covers exactly
    the values the user saw (changing the number asks again)."""

    field: str
    key: str
    message: str


def signature(warnings) -> str:
    """One text naming these warnings, carried by the "Gem alligevel" checkbox."""
    return "|".join(sorted(w.key for w in warnings))
