"""Warnings that ask for a second look before an implausible value is saved (an hours figure too
large for a day, a stage moved backwards). Reading and writing the numbers themselves is
``crm.formatting`` (``parse_number``, ``number_as_typed``)."""
from dataclasses import dataclass


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
