"""Form pieces shared by several areas."""
from typing import Optional

from crm.i18n import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, HiddenField, IntegerField
from wtforms.validators import InputRequired, NumberRange
from wtforms.widgets import TextInput

from crm.extensions import db
from crm.models import Region

DATE_FORMATS = ["%d-%m-%Y", "%Y-%m-%d"]


class DanishDateField(DateField):
    """A date typed as 23-11-2026 (or ISO 2026-11-23); shown as 23-11-2026.

    A text input, not ``type=date``: browsers show a date input's value only in ISO form, so a
    re-shown form would lose the Danish-formatted date the user typed.
    """

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("format", DATE_FORMATS)
        render_kw = kwargs.setdefault("render_kw", {})
        render_kw.setdefault("placeholder", _l("dd-mm-åååå"))  # lazy: translated when rendered
        render_kw.setdefault("inputmode", "numeric")
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(str(_l("Ugyldig dato. Skriv den som dd-mm-åååå, fx 23-11-2026.")))

    def _value(self) -> str:
        """A valid date is shown the Danish way, also when it was typed as ISO; input with an
        error is shown as typed, so the user can correct it."""
        if self.data is not None and not self.errors:
            return self.data.strftime("%d-%m-%Y")
        return super()._value()


def non_negative(message=None):
    """Counts cannot be negative."""
    return NumberRange(min=0, max=10_000_000, message=message or _l("Skal være et tal fra 0 og op."))


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for POST-only buttons (delete, reset…)."""


class VersionedForm(FlaskForm):
    """Base for forms editing a record with optimistic locking: carries the version shown."""

    version = HiddenField()


def region_choices(codes=None, blank: Optional[str] = None) -> list[tuple[str, str]]:
    """Regions as select choices, optionally only ``codes``."""
    query = select(Region).order_by(Region.code)
    if codes is not None:
        query = query.where(Region.code.in_(codes))
    choices = [(str(r.code), r.name) for r in db.session.scalars(query)]
    return ([("", blank)] if blank is not None else []) + choices


__all__ = ["DanishDateField", "EmptyForm", "VersionedForm", "non_negative", "region_choices", "IntegerField", "InputRequired"]
