"""Økonomi (the grant side): the regions' grants, budgets per year with versions and STAR's
approval, the expenses with filters, export and forms, and the admins' cost lines of the call."""
from datetime import date
from typing import Optional

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange
from wtforms.validators import Optional as OptionalValue

from crm.clock import local_today
from crm.extensions import db
from crm.formatting import money_decimal, parse_date
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.models import BudgetVersion, CostLine, Expense, Region
from crm.services import budgets as budget_service
from crm.services import expenses as expense_service
from crm.services.errors import Conflict, FieldError
from crm.services.export import EXPORT_FORMATS
from crm.services.permissions import (ensure_can_maintain_grants, ensure_can_write_region_finances,
                                      writable_region_codes)
from crm.views.access import admin_required, read_required, write_required
from crm.views.files import table_response
from crm.views.forms import (DanishDateField, DanishMoneyField, DanishNumberField, VersionedForm, region_choices,
                             show_error)
from crm.views.helpers import int_arg, own_region_default

bp = Blueprint("grants", __name__)
PER_PAGE = 50


def _region_or_404(region_code: int) -> Region:
    return db.get_or_404(Region, region_code)


def _year_or_404(year: int) -> int:
    if not budget_service.FIRST_YEAR <= year <= budget_service.LAST_YEAR:
        abort(404)
    return year


# --- The overview and the grants ------------------------------------------------------------------

@bp.route("/oekonomi/")
@read_required
def index():
    """Each region's grant, its approved budget for the year and what is spent in the year."""
    year = int_arg("year") or local_today().year
    _year_or_404(year)
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    spent = dict(db.session.execute(
        select(Expense.region_code, func.sum(Expense.amount_ore))
        .where(Expense.spent_on >= date(year, 1, 1), Expense.spent_on <= date(year, 12, 31))
        .group_by(Expense.region_code)).all())
    return render_template("grants/index.html", regions=regions, year=year, grants=budget_service.grants_by_region(),
                           budgets=budget_service.overview(year), spent={k: int(v) for k, v in spent.items()},
                           years=sorted(set(budget_service.budget_years()) | {year, local_today().year}, reverse=True))


class GrantForm(VersionedForm):
    """A region's grant from STAR."""

    amount = DanishMoneyField(_l("Tilskud i alt (kr.)"), validators=[InputRequired()])
    project_start = DanishDateField(_l("Projektperiodens start"), validators=[InputRequired()])
    project_end = DanishDateField(_l("Projektperiodens slut"), validators=[InputRequired()])
    reference = StringField(_l("STAR's journalnummer/reference"), validators=[OptionalValue(), Length(max=60)])
    submit = SubmitField(_l("Gem tilskud"))


@bp.route("/oekonomi/tilskud/<int:region_code>", methods=["GET", "POST"])
@admin_required
def edit_grant(region_code: int):
    """Record or change a region's grant (admins)."""
    region = _region_or_404(region_code)
    grant = budget_service.grant_for(region_code)
    form = GrantForm(obj=grant if request.method == "GET" else None)
    if request.method == "GET" and grant is not None:
        form.amount.data = grant.amount_ore
        form.version.data = str(grant.version)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            data = budget_service.GrantData(form.amount.data, form.project_start.data, form.project_end.data,
                                            form.reference.data or "")
            try:
                budget_service.save_grant(region_code, data, form.version.data, actor=current_user)
            except FieldError as error:
                status = show_error(form, error)
                if isinstance(error, Conflict) and grant is not None:
                    form.version.data = str(grant.version)
            else:
                flash(_("Tilskuddet til %(region)s er gemt.", region=region.name), "success")
                return redirect(url_for(".index"))
        else:
            status = 400
    return render_template("grants/grant_form.html", form=form, region=region, grant=grant), status


# --- Budgets -------------------------------------------------------------------------------------

@bp.route("/oekonomi/budget/<int:region_code>/<int:year>")
@read_required
def budget(region_code: int, year: int):
    """Every version of the region's budget for the year: lines, notes, totals, differences."""
    region = _region_or_404(region_code)
    _year_or_404(year)
    version_list = budget_service.versions(region_code, year)
    views = budget_service.version_views(version_list)
    used = {cost_line_id for view in views for cost_line_id in view.amounts}
    lines = [line for line in budget_service.cost_lines() if line.active or line.id in used]
    return render_template("grants/budget.html", region=region, year=year, views=views, lines=lines,
                           draft=next((v for v in version_list if v.approved_on is None), None),
                           the_budget=budget_service.newest_approved(version_list),
                           approve_form=ApproveForm(formdata=None, approved_on=local_today()),
                           revise_form=ReviseForm(formdata=None, revised_on=local_today()),
                           may_write=_may_write(region_code))


def _may_write(region_code: int) -> bool:
    try:
        ensure_can_write_region_finances(region_code, user=current_user)
    except PermissionError:
        return False
    return True


class ApproveForm(FlaskForm):
    approved_on = DanishDateField(_l("Godkendt af STAR den"), validators=[InputRequired()])
    submit = SubmitField(_l("Registrér godkendelse"))


class ReviseForm(FlaskForm):
    revised_on = DanishDateField(_l("Revisionens dato"), validators=[InputRequired()])
    reason = TextAreaField(_l("Begrundelse for ændringen"), validators=[InputRequired(), Length(max=2000)],
                           render_kw={"rows": 3})
    submit = SubmitField(_l("Lav revision"))


def _budget_form(lines: list[CostLine]):
    """A form with the version's date and reason and an amount and a note per cost line."""

    class BudgetForm(FlaskForm):
        revised_on = DanishDateField(_l("Versionens dato"), validators=[InputRequired()])
        reason = TextAreaField(_l("Begrundelse"), validators=[InputRequired(), Length(max=2000)],
                               render_kw={"rows": 2})
        submit = SubmitField(_l("Gem udkast"))

    for line in lines:
        setattr(BudgetForm, budget_service.amount_field(line.id), DanishMoneyField(
            _("Beløb: %(label)s", label=line.label), validators=[InputRequired()], description=""))
        setattr(BudgetForm, budget_service.note_field(line.id), TextAreaField(
            _("Note: %(label)s", label=line.label), validators=[InputRequired(), Length(max=2000)],
            render_kw={"rows": 2}))
    return BudgetForm


def _draft_data(form, lines: list[CostLine]) -> budget_service.DraftData:
    return budget_service.DraftData(form.revised_on.data, form.reason.data or "", {
        line.id: budget_service.LineData(form[budget_service.amount_field(line.id)].data,
                                         form[budget_service.note_field(line.id)].data or "")
        for line in lines})


def _budget_form_page(form, lines, region, year, version, status=200):
    return render_template("grants/budget_form.html", form=form, lines=lines, region=region, year=year,
                           version=version), status


def _save_budget(version: Optional[BudgetVersion], region: Region, year: int):
    lines = budget_service.form_cost_lines(version)
    form = _budget_form(lines)()
    if request.method == "GET":
        if version is not None:
            form.revised_on.data, form.reason.data = version.revised_on, version.reason
            for line in version.lines:
                form[budget_service.amount_field(line.cost_line_id)].data = line.amount_ore
                form[budget_service.note_field(line.cost_line_id)].data = line.note
        else:
            form.revised_on.data = local_today()
        return _budget_form_page(form, lines, region, year, version)
    if not form.validate_on_submit():
        return _budget_form_page(form, lines, region, year, version, 400)
    try:
        saved = budget_service.save_draft(version, _draft_data(form, lines), region_code=region.code, year=year,
                                          actor=current_user)
    except FieldError as error:
        return _budget_form_page(form, lines, region, year, version, show_error(form, error))
    flash(_("Udkastet (version %(number)s) er gemt.", number=saved.number), "success")
    return redirect(url_for(".budget", region_code=region.code, year=year))


@bp.route("/oekonomi/budget/<int:region_code>/<int:year>/ny", methods=["GET", "POST"])
@write_required
def new_budget(region_code: int, year: int):
    """The first version of a region's budget for a year (later ones are revisions)."""
    region = _region_or_404(region_code)
    ensure_can_write_region_finances(region_code, user=current_user)
    _year_or_404(year)
    existing = budget_service.versions(region_code, year)
    if existing:
        draft = next((v for v in existing if v.approved_on is None), None)
        if draft is not None:
            return redirect(url_for(".edit_budget", budget_version_id=draft.id))
        flash(_("Budgettet for %(year)s findes; lav en revision af den godkendte version.", year=year), "info")
        return redirect(url_for(".budget", region_code=region_code, year=year))
    return _save_budget(None, region, year)


@bp.route("/oekonomi/budgetversion/<int:budget_version_id>", methods=["GET", "POST"])
@write_required
def edit_budget(budget_version_id: int):
    """Change a draft version (an approved one is revised, never changed)."""
    version = db.get_or_404(BudgetVersion, budget_version_id)
    ensure_can_write_region_finances(version.region_code, user=current_user)
    if version.approved_on is not None:
        flash(_("Version %(number)s er godkendt og kan ikke ændres; lav en revision.", number=version.number), "info")
        return redirect(url_for(".budget", region_code=version.region_code, year=version.year))
    return _save_budget(version, version.region, version.year)


@bp.route("/oekonomi/budgetversion/<int:budget_version_id>/godkend", methods=["POST"])
@admin_required
def approve_budget(budget_version_id: int):
    """Record STAR's approval of a draft (admins)."""
    version = db.get_or_404(BudgetVersion, budget_version_id)
    form = ApproveForm()
    back = url_for(".budget", region_code=version.region_code, year=version.year)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(" ".join(str(message) for message in errors), "warning")
        return redirect(back)
    try:
        budget_service.approve(version, form.approved_on.data, actor=current_user)
    except FieldError as error:
        flash(str(error), "warning")
        return redirect(back)
    flash(_("Version %(number)s er registreret som godkendt af STAR.", number=version.number), "success")
    return redirect(back)


@bp.route("/oekonomi/budgetversion/<int:budget_version_id>/revider", methods=["GET", "POST"])
@write_required
def revise_budget(budget_version_id: int):
    """Start a revision of an approved version: a new draft with a copy of its lines."""
    version = db.get_or_404(BudgetVersion, budget_version_id)
    ensure_can_write_region_finances(version.region_code, user=current_user)
    back = url_for(".budget", region_code=version.region_code, year=version.year)
    if version.approved_on is None:
        return redirect(back)
    form = ReviseForm(revised_on=local_today()) if request.method == "GET" else ReviseForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                draft = budget_service.revise(version, form.revised_on.data, form.reason.data or "",
                                              actor=current_user)
            except FieldError as error:
                status = show_error(form, error)
            else:
                flash(_("Version %(number)s er oprettet som udkast; ret beløbene og noterne.", number=draft.number),
                      "success")
                return redirect(url_for(".edit_budget", budget_version_id=draft.id))
        else:
            status = 400
    return render_template("grants/revise.html", form=form, version=version), status


@bp.route("/oekonomi/budgetversion/<int:budget_version_id>/slet", methods=["POST"])
@write_required
def discard_budget(budget_version_id: int):
    """Delete a draft version."""
    version = db.get_or_404(BudgetVersion, budget_version_id)
    ensure_can_write_region_finances(version.region_code, user=current_user)
    back = url_for(".budget", region_code=version.region_code, year=version.year)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        budget_service.discard_draft(version, actor=current_user)
    except FieldError as error:
        flash(str(error), "warning")
        return redirect(back)
    flash(_("Udkastet er slettet."), "success")
    return redirect(back)


# --- Expenses --------------------------------------------------------------------------------------

def _expense_filter() -> tuple[expense_service.ExpenseFilter, dict]:
    """The list's filters from the query string (garbage is ignored, never a 500), and the args
    that keep them in links."""
    region_code = int_arg("region")
    if (own := own_region_default()) is not None:
        region_code = own
    start, end = parse_date(request.args.get("start", "")), parse_date(request.args.get("end", ""))
    filters = expense_service.ExpenseFilter(region_code=region_code, cost_line_id=int_arg("cost_line"),
                                            start=start, end=end)
    args = {key: value for key, value in {
        "region": region_code, "cost_line": filters.cost_line_id,
        "start": start.isoformat() if start else None, "end": end.isoformat() if end else None}.items()
        if value is not None}
    return filters, args


@bp.route("/oekonomi/udgifter/")
@read_required
def expenses():
    """The expenses, filtered by region, cost line and period, paged; the total of the filter;
    ``?format=csv-excel|csv|xlsx`` exports every filtered expense."""
    filters, args = _expense_filter()
    query = expense_service.expense_query(filters)
    if request.args.get("format") in EXPORT_FORMATS:
        return _export(request.args["format"], db.session.scalars(query).unique().all())
    page = db.paginate(query, per_page=PER_PAGE, max_per_page=PER_PAGE, error_out=False)
    return render_template("grants/expenses.html", page=page, filters=filters, args=args,
                           total=expense_service.total(filters),
                           regions=db.session.scalars(select(Region).order_by(Region.code)).all(),
                           cost_lines=budget_service.cost_lines())


def export_header() -> list[str]:
    return [_("Dato"), _("Region"), _("Udgiftspost"), _("Kode"), _("Beløb (kr.)"), _("Beskrivelse"), _("Bilag"),
            _("Aktivitet"), _("Kilde")]


def export_rows(expense_list) -> list[tuple]:
    """One row per expense; the amount an exact Decimal of kroner (a number cell in XLSX)."""
    return [(e.spent_on, e.region.name, e.cost_line.label, e.cost_line.code, money_decimal(e.amount_ore),
             e.description, e.voucher, e.activity.title if e.activity else "",
             _("import") if e.source == "import" else _("formular")) for e in expense_list]


def _export(fmt: str, expense_list):
    return table_response(fmt, f"udgifter-{local_today().isoformat()}", export_header(), export_rows(expense_list))


class ExpenseForm(VersionedForm):
    """An expense: a credit note is a negative amount."""

    spent_on = DanishDateField(_l("Dato"), validators=[InputRequired()])
    region = SelectField(_l("Region"), validate_choice=False)
    cost_line = SelectField(_l("Udgiftspost"), validate_choice=False)
    amount = DanishMoneyField(_l("Beløb (kr.)"), validators=[InputRequired()],
                              description=_l("Kroner med øre, fx 1.234,50. En kreditnota er negativ, fx -250."))
    description = StringField(_l("Beskrivelse"), validators=[InputRequired(), Length(max=300)])
    voucher = StringField(_l("Bilag"), validators=[InputRequired(), Length(max=60)],
                          description=_l("Bilagsnummeret i økonomisystemet."))
    activity = SelectField(_l("Aktivitet (valgfri)"), validate_choice=False)
    submit = SubmitField(_l("Gem udgift"))

    def __init__(self, *args, writable=None, expense=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.region.choices = region_choices(writable)
        used = expense.cost_line_id if expense is not None else None
        self.cost_line.choices = [("", str(_l("— vælg —")))] + [
            (str(line.id), line.label) for line in budget_service.cost_lines() if line.active or line.id == used]
        activities = expense_service.region_activity_choices(writable)
        several = writable is None or len(writable) > 1
        names = {code: name for code, name in db.session.execute(select(Region.code, Region.name))}
        self.activity.choices = [("", str(_l("— ingen —")))] + [
            (str(id_), f"{label} ({names.get(region, '')})" if several else label)
            for id_, label, region in activities]
        if expense is not None and expense.activity is not None and expense.activity_id not in {
                a[0] for a in activities}:
            self.activity.choices.append((str(expense.activity_id), expense.activity.title))


def _expense_data(form: ExpenseForm) -> expense_service.ExpenseData:
    return expense_service.ExpenseData(
        region_code=int_arg("r", {"r": form.region.data}), spent_on=form.spent_on.data,
        cost_line_id=int_arg("c", {"c": form.cost_line.data}), amount_ore=form.amount.data,
        description=form.description.data or "", voucher=form.voucher.data or "",
        activity_id=int_arg("a", {"a": form.activity.data}))


@bp.route("/oekonomi/udgifter/ny", methods=["GET", "POST"])
@bp.route("/oekonomi/udgifter/<int:expense_id>", methods=["GET", "POST"])
@write_required
def edit_expense(expense_id: Optional[int] = None):
    """Create or change an expense of a region the user may write."""
    expense = db.get_or_404(Expense, expense_id) if expense_id else None
    if expense is not None:
        ensure_can_write_region_finances(expense.region_code, user=current_user)
    form = ExpenseForm(obj=expense if request.method == "GET" else None,
                       writable=writable_region_codes(current_user), expense=expense)
    if request.method == "GET":
        if expense is not None:
            form.region.data, form.cost_line.data = str(expense.region_code), str(expense.cost_line_id)
            form.amount.data, form.version.data = expense.amount_ore, str(expense.version)
            form.activity.data = str(expense.activity_id or "")
        else:
            form.region.data = str(current_user.region_code or "")
            form.spent_on.data = local_today()
        return _expense_page(form, expense)
    if not form.validate_on_submit():
        return _expense_page(form, expense, 400)
    try:
        expense = expense_service.save_expense(expense, _expense_data(form), form.version.data, actor=current_user)
    except FieldError as error:
        status = show_error(form, error)
        if isinstance(error, Conflict) and expense is not None:
            db.session.refresh(expense)
            form.version.data = str(expense.version)
            return _expense_page(form, expense, status, current=expense)
        return _expense_page(form, expense, status)
    flash(_("Udgiften (bilag %(voucher)s) er gemt.", voucher=expense.voucher), "success")
    return redirect(url_for(".expenses", region=expense.region_code))


def _expense_page(form, expense, status: int = 200, **context):
    return render_template("grants/expense_form.html", form=form, expense=expense, **context), status


@bp.route("/oekonomi/udgifter/<int:expense_id>/slet", methods=["POST"])
@write_required
def delete_expense(expense_id: int):
    """Delete an expense entered by mistake (a refund is a credit note, a negative expense)."""
    expense = db.get_or_404(Expense, expense_id)
    ensure_can_write_region_finances(expense.region_code, user=current_user)
    region_code, voucher = expense.region_code, expense.voucher
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        expense_service.delete_expense(expense, request.form.get("version"), actor=current_user)
    except FieldError as error:
        flash(str(error), "warning")
        return redirect(url_for(".edit_expense", expense_id=expense_id))
    flash(_("Udgiften (bilag %(voucher)s) er slettet.", voucher=voucher), "success")
    return redirect(url_for(".expenses", region=region_code))


# --- Cost lines (admins) --------------------------------------------------------------------------

class CostLineForm(VersionedForm):
    code = StringField(_l("Kode"), validators=[OptionalValue(), Length(max=40)],
                       description=_l("Små bogstaver, tal og _. Kan ikke ændres senere (bruges i import og eksport)."))
    label_da = StringField(_l("Navn (dansk)"), validators=[InputRequired(), Length(max=200)])
    label_en = StringField(_l("Navn (engelsk)"), validators=[InputRequired(), Length(max=200)])
    guidance = TextAreaField(_l("Vejledning"), validators=[OptionalValue(), Length(max=2000)], render_kw={"rows": 3})
    position = DanishNumberField(_l("Rækkefølge"), validators=[OptionalValue(), NumberRange(min=0, max=100000)])
    active = BooleanField(_l("Aktiv (kan bruges i nye budgetter og udgifter)"))
    submit = SubmitField(_l("Gem udgiftspost"))


@bp.route("/admin/udgiftsposter/")
@admin_required
def cost_lines():
    """The call's cost lines, in their order."""
    return render_template("grants/cost_lines.html", lines=budget_service.cost_lines())


@bp.route("/admin/udgiftsposter/ny", methods=["GET", "POST"])
@bp.route("/admin/udgiftsposter/<int:cost_line_id>", methods=["GET", "POST"])
@admin_required
def edit_cost_line(cost_line_id: Optional[int] = None):
    """Create or change a cost line (admins); the code of a stored one is fixed."""
    ensure_can_maintain_grants(current_user)
    line = db.get_or_404(CostLine, cost_line_id) if cost_line_id else None
    form = CostLineForm(obj=line if request.method == "GET" else None)
    if request.method == "GET":
        if line is not None:
            form.version.data = str(line.version)
        else:
            form.active.data = True
        return _cost_line_page(form, line)
    if not form.validate_on_submit():
        return _cost_line_page(form, line, 400)
    data = budget_service.CostLineData(form.label_da.data or "", form.label_en.data or "", form.guidance.data or "",
                                       form.position.data or 0, bool(form.active.data), form.code.data or "")
    try:
        line = budget_service.save_cost_line(line, data, form.version.data, actor=current_user)
    except FieldError as error:
        return _cost_line_page(form, line, show_error(form, error))
    flash(_("Udgiftsposten %(label)s er gemt.", label=line.label), "success")
    return redirect(url_for(".cost_lines"))


def _cost_line_page(form, line, status: int = 200):
    return render_template("grants/cost_line_form.html", form=form, line=line), status

