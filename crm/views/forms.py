"""Form pieces shared by several areas."""
from functools import cache
from typing import Optional

from crm.formatting import NumberError, format_date, money_as_typed, number_as_typed, parse_date, parse_money, parse_number
from crm.i18n import lazy_gettext as _l
from flask import flash, request
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, Field, HiddenField
from wtforms.validators import InputRequired, NumberRange
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import TextInput

from crm.database import column_rows
from crm.extensions import db
from crm.models import Municipality, PsychiatricCentre, Region, TargetGroup, User
from crm.services.errors import Conflict, FieldError
from crm.services.numbers import FormWarning, signature


class DanishDateField(DateField):
    """A date typed as 23-11-2026 (or ISO 2026-11-23; read by ``crm.formatting.parse_date``);
    shown as 23-11-2026.

    A text input, not ``type=date``: browsers show a date input's value only in ISO form, so a
    re-shown form would lose the Danish-formatted date the user typed.
    """

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        render_kw = kwargs.setdefault("render_kw", {})
        render_kw.setdefault("placeholder", _l("dd-mm-åååå"))  # lazy: translated when rendered
        render_kw.setdefault("inputmode", "numeric")
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = parse_date(" ".join(valuelist))
        if self.data is None:
            raise ValueError(str(_l("Ugyldig dato. Skriv den som dd-mm-åååå, fx 23-11-2026.")))

    def _value(self) -> str:
        """A valid date is shown the Danish way, also when it was typed as ISO; input with an
        error is shown as typed, so the user can correct it."""
        if self.data is not None and not self.errors:
            return format_date(self.data)
        if self.raw_data:
            return " ".join(self.raw_data)
        return format_date(self.data)


class DanishNumberField(Field):
    """Every count and decimal input: a text input (``inputmode`` numeric or decimal) read with
    ``crm.formatting.parse_number``, so ``12,5`` and ``12.5`` both mean twelve and a half and
    an ambiguous ``1.234`` is refused beside the field with the user's text kept.

    Not ``type=number``: Chromium drops a typed Danish comma there (``12,5`` becomes 125).
    ``places`` 0 gives an int (a count), more a Decimal with at most that many decimals.
    """

    widget = TextInput()

    def __init__(self, label=None, validators=None, places: int = 0, **kwargs):
        self.places = places
        render_kw = dict(kwargs.pop("render_kw", None) or {})
        render_kw.setdefault("inputmode", "decimal" if places else "numeric")
        render_kw.setdefault("autocomplete", "off")
        super().__init__(label, validators, render_kw=render_kw, **kwargs)

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist:
            try:
                self.data = parse_number(valuelist[0], self.places)
            except NumberError as error:
                raise ValueError(str(error)) from None

    def _value(self) -> str:
        if self.raw_data:  # what the user typed, also when it was refused
            return self.raw_data[0]
        return number_as_typed(self.data)


class DanishMoneyField(DanishNumberField):
    """An amount of kroner with øre, typed the Danish way (``1.234,50``, ``1234,5``, ``-250``) and
    read exactly by ``crm.formatting.parse_money`` into whole øre (an int; never a float)."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("description", _l("Kroner med øre, fx 1.234,50."))
        super().__init__(label, validators, places=2, **kwargs)

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist:
            try:
                self.data = parse_money(valuelist[0])
            except NumberError as error:
                raise ValueError(str(error)) from None

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return money_as_typed(self.data)


def non_negative(message=None):
    """Counts cannot be negative."""
    return NumberRange(min=0, max=10_000_000, message=message or _l("Skal være et tal fra 0 og op."))


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for POST-only buttons (delete, reset…)."""


class VersionedForm(FlaskForm):
    """Base for forms editing a record with optimistic locking: carries the version shown."""

    version = HiddenField()


CONFIRM_FIELD = "confirm_warnings"


def unconfirmed(warnings: list[FormWarning]) -> list[FormWarning]:
    """The warnings the submitted form has not confirmed ("Gem alligevel" ticks exactly the
    warnings shown; a changed value gives a new warning, which must be confirmed again)."""
    if warnings and request.form.get(CONFIRM_FIELD) != signature(warnings):
        return warnings
    return []


def region_choices(codes=None, blank: Optional[str] = None) -> list[tuple[str, str]]:
    """Regions as select choices, optionally only ``codes``."""
    query = select(Region).order_by(Region.code)
    if codes is not None:
        query = query.where(Region.code.in_(codes))
    choices = [(str(r.code), r.name) for r in db.session.scalars(query)]
    return ([("", blank)] if blank is not None else []) + choices


def municipality_choices(region_codes=None, first_region: Optional[int] = None) -> list[SelectChoice]:
    """Municipalities as choices grouped by region (``<optgroup>``), by region then name,
    optionally only some regions; ``first_region`` (the user's own) is listed first (one query)."""
    query = (select(Municipality.code, Municipality.name, Municipality.region_code, Region.name)
             .join(Region, Region.code == Municipality.region_code)
             .order_by(Municipality.region_code != first_region if first_region else Municipality.region_code,
                       Municipality.region_code, Municipality.name))
    if region_codes is not None:
        query = query.where(Municipality.region_code.in_(region_codes))
    return [SelectChoice(str(code), name, optgroup=region) for code, name, _region_code, region
            in db.session.execute(query)]


# A select of municipalities becomes a searchable picker (static/js/pickers.js, Tom Select); without
# JavaScript it stays the plain select it is.
PICKER = {"data-picker": "municipalities", "data-no-results": _l("Ingen kommune passer på søgningen.")}


def _regional_choices(model, region_codes=None) -> list[tuple[str, str]]:
    """Choices for a per-region list (centres, target groups), by region then name; the region is
    named when several regions are listed, since names repeat across regions (one query)."""
    query = (
        select(model.id, model.name, Region.name)
        .join(Region, Region.code == model.region_code)
        .order_by(model.region_code, model.name)
    )
    if region_codes is not None:
        query = query.where(model.region_code.in_(region_codes))
    rows = db.session.execute(query).all()
    several = len({region for _id, _name, region in rows}) > 1
    return [
        (str(id_), f"{name} ({region.removeprefix('Region ')})" if several else name)
        for id_, name, region in rows
    ]


def centre_choices(region_codes=None) -> list[tuple[str, str]]:
    """Psychiatric centres as choices, by region then name."""
    return _regional_choices(PsychiatricCentre, region_codes)


def target_group_choices(region_codes=None) -> list[tuple[str, str]]:
    """Target groups as choices, by region then name."""
    return _regional_choices(TargetGroup, region_codes)


def user_choices() -> list[tuple[str, str]]:
    """Active users who can own a task (ambassadors and admins) by ``User.display_name``; read as
    columns, not whole users (every task form asks)."""
    users = column_rows(_task_owners_query())
    return [("", str(_l("— ingen —")))] + [(str(id_), name) for id_, name in users]


@cache
def _task_owners_query():
    """The statement behind ``user_choices`` (built once per process: every task form asks)."""
    return (select(User.id, User.display_name)
            .where(User.active.is_(True), User.role.in_(("ambassador", "admin"))).order_by(User.name))


def date_text_field(label, validators=None, **kwargs) -> DanishDateField:
    """A Danish date typed as text: a browser's type="date" input cannot show 23-11-2026, so a
    re-shown form (after an error or a conflict) would look empty and lose the user's date."""
    return DanishDateField(label, validators, widget=TextInput(), **kwargs)


def show_error(form, error: FieldError) -> int:
    """Show a service's refusal on the re-shown form, the user's input kept: beside the field it
    names, or at the top as a warning when it names none (or a hidden one, as a ``Conflict``'s
    ``version`` does). The status for the response: 409 for a conflict, else 400."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and field.type not in ("HiddenField", "CSRFTokenField"):
        field.errors = [*field.errors, str(error)]
    else:
        flash(str(error), "warning")
    return 409 if isinstance(error, Conflict) else 400


__all__ = ["CONFIRM_FIELD", "DanishDateField", "DanishMoneyField", "DanishNumberField", "EmptyForm", "FormWarning", "InputRequired",
           "VersionedForm", "non_negative", "region_choices", "unconfirmed", "PICKER", "municipality_choices",
           "centre_choices", "target_group_choices", "user_choices", "date_text_field", "show_error"]
