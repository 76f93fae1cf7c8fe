"""Delregnskaber: the half-yearly partial accounts of the regions' grants, per region and for the
nation, on the page, as CSV (Danish Excel), XLSX and a print view (A4/PDF).

Everything is computed in ``crm.services.grant_accounts``; these views read the half-year and the
region from the query string, call it and render. Read like the status report: by every CRM role
(the accounts are national, as the report is); the expert panel not at all.
"""
from typing import Optional

from flask import Blueprint, abort, render_template, request
from wtforms import Form, SelectField
from wtforms.validators import NumberRange, Optional as OptionalValue

from crm import clock
from crm.formatting import last_completed_half
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.services import grant_accounts as service
from crm.services import report
from crm.views.access import read_required
from crm.views.files import download
from crm.views.forms import DanishNumberField
from crm.views.reports import HALF_CHOICES

bp = Blueprint("grant_accounts", __name__, url_prefix="/regnskab")

FORMATS = {"csv": "csv-excel", "xlsx": "xlsx"}  # the file's extension → crm.views.files format


class AccountsForm(Form):
    """Choose a half-year and a region or the nation (GET; no CSRF needed for reading)."""

    year = DanishNumberField(_l("År"), validators=[OptionalValue(), NumberRange(2000, 2100)])
    half = SelectField(_l("Halvår"), choices=HALF_CHOICES, validators=[OptionalValue()])
    region = SelectField(_l("Region"), validators=[OptionalValue()])


def _form() -> AccountsForm:
    form = AccountsForm(request.args)
    names = report.column_names()
    form.region.choices = [("", str(report.TOTAL_NAME))] + [
        (str(code), names[code]) for code in report.display_order(names)[:-1]]
    return form


def _chosen(form: AccountsForm) -> tuple[int, int, Optional[int], bool]:
    """(year, half, region code or None, valid): with bad input the errors go on the fields and the
    last completed half-year of the nation is shown (never a 500)."""
    year, half = last_completed_half()
    if not form.validate():
        return year, half, None, False
    if form.year.data is not None or form.half.data:
        if form.year.data is None:
            form.year.errors.append(_("Angiv et år."))
            return year, half, None, False
        if not form.half.data:
            form.half.errors.append(_("Vælg 1. eller 2. halvår."))
            return year, half, None, False
        year, half = int(form.year.data), int(form.half.data)
    region = int(form.region.data) if form.region.data else None
    return year, half, region, True


def _accounts_from_args() -> service.PartialAccounts:
    """The accounts the links of the page ask for (``year``, ``half``, ``region``); without a
    half-year the last completed one; 400 for a bad value, 404 for an unknown region."""
    form = _form()
    year, half, region, valid = _chosen(form)
    if not valid:
        abort(400)
    return service.partial_accounts(year, half, region)


@bp.route("/")
@read_required
def index():
    """The accounts of the chosen half-year, for a region or the nation."""
    form = _form()
    year, half, region, valid = _chosen(form)
    form.year.data, form.half.data = year, str(half)
    form.region.data = str(region) if region else ""
    accounts = service.partial_accounts(year, half, region)
    args = {"year": year, "half": half, **({"region": region} if region else {})}
    return render_template("grant_accounts/index.html", accounts=accounts, form=form, invalid=not valid,
                           args=args, **service.page_context())


@bp.route("/eksport.<fmt>")
@read_required
def export(fmt: str):
    """The same accounts as CSV (Danish Excel) or XLSX."""
    if fmt not in FORMATS:
        abort(404)
    accounts = _accounts_from_args()
    data = service.accounts_to_csv(accounts) if fmt == "csv" else service.accounts_to_xlsx(accounts)
    return download(data, service.accounts_filename(accounts, fmt), FORMATS[fmt])


@bp.route("/udskrift")
@read_required
def print_view():
    """A clean A4 page of the accounts (the browser prints it or saves it as PDF)."""
    accounts = _accounts_from_args()
    return render_template(service.PRINT_TEMPLATE, **service.print_context(accounts, clock.utcnow()))
