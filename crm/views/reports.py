"""Statusrapport til STAR: the half-yearly figures per region, drill-down to the records behind
each number, CSV/XLSX/print, and frozen submissions compared with today's count.

All counting is in ``crm.services.report``; these views parse the period, call it and render.
Submitting is for administrators only: the report is national (it freezes every region's figures),
so it is the coordinator's act, not one region's ambassador's; the working group only reads.
"""
from datetime import date
from typing import Iterable, NamedTuple, Optional

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import Form, HiddenField, SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional as OptionalValue

from crm import clock
from crm.extensions import db
from crm.formatting import format_number, half_year_period, last_completed_half, parse_date, period_label
from crm.views.forms import DanishDateField, DanishNumberField, EmptyForm, region_choices, show_error
from crm.models import PeriodReopening, ReportSubmission
from crm.views.access import admin_required, read_required
from crm.views.page_cache import cached_page
from crm.services import audit_log, period_locks
from crm.services import report as service
from crm.services.errors import FieldError
from crm.services.permissions import can_reopen_periods
from crm.services.export import CSV_EXCEL
from crm.views.files import download
from crm.views.form_markup import form_field
from crm.views.helpers import QueryUrls

bp = Blueprint("reports", __name__, url_prefix="/rapporter")

HALF_CHOICES = [("1", _l("1. halvår (januar–juni)")), ("2", _l("2. halvår (juli–december)"))]


class HalfYearForm(Form):
    """Choose a half year (GET; no CSRF needed for reading)."""

    year = DanishNumberField(_l("År"), validators=[OptionalValue(), NumberRange(2000, 2100)])
    half = SelectField(_l("Halvår"), choices=HALF_CHOICES, validators=[OptionalValue()])


class RangeForm(Form):
    """Choose any date range (GET)."""

    start = DanishDateField(_l("Fra og med"), validators=[OptionalValue()])
    end = DanishDateField(_l("Til og med"), validators=[OptionalValue()])


class SubmitForm(FlaskForm):
    """Mark the shown period as submitted to STAR (POST with CSRF)."""

    start = HiddenField()
    end = HiddenField()
    note = TextAreaField(_l("Bemærkning (fx journalnummer hos STAR)"),
                         validators=[OptionalValue(), Length(max=2000)])


def _chosen_period(half_form: HalfYearForm, range_form: RangeForm) -> tuple[date, date]:
    """The period the user asked for; with bad input, errors go on the fields and the last
    completed half year is shown instead (never a 500)."""
    if request.args.get("start") or request.args.get("end"):
        if range_form.validate():
            start, end = range_form.start.data, range_form.end.data
            if start is None or end is None:
                (range_form.start if start is None else range_form.end).errors.append(
                    _("Angiv både fra- og til-dato."))
            elif start > end:
                range_form.end.errors.append(_("Til-datoen skal ligge på eller efter fra-datoen."))
            else:
                return start, end
    elif request.args.get("year") or request.args.get("half"):
        if half_form.validate():
            if half_form.year.data is None:
                half_form.year.errors.append(_("Angiv et år."))
            elif not half_form.half.data:
                half_form.half.errors.append(_("Vælg 1. eller 2. halvår."))
            else:
                return half_year_period(half_form.year.data, int(half_form.half.data))
    year, half = last_completed_half()
    return half_year_period(year, half)


def _period_from_args() -> tuple[date, date]:
    """``start``/``end`` from the query string for pages linked from the report; 400 if bad."""
    start, end = parse_date(request.args.get("start")), parse_date(request.args.get("end"))
    if start is None or end is None or start > end:
        abort(400)
    return start, end


def _column_arg(value: Optional[str]):
    """'total' or a region code from the query string; 404 for anything else."""
    if value == service.TOTAL:
        return value
    try:
        column = int(value or "")
    except ValueError:
        abort(404)
    if not service.is_region(column):
        abort(404)
    return column


@bp.route("/")
@read_required
@cached_page
def index():
    """The report for the chosen period, with the latest submission of that period compared."""
    half_form, range_form = HalfYearForm(request.args), RangeForm(request.args)
    start, end = _chosen_period(half_form, range_form)
    if not request.args.get("year"):
        half_form.year.data = half_form.year.data or start.year
        half_form.half.data = half_form.half.data or ("1" if start.month <= 6 else "2")
    report = service.status_report(start, end)
    all_submissions = service.submissions()
    submission = service.latest_submission_for(start, end, among=all_submissions)
    differences = service.submitted_report(submission).differences(report) if submission else []
    submit_form = SubmitForm(start=start.isoformat(), end=end.isoformat())
    table = _table_context()
    return render_template(
        "reports/index.html", report=report, half_form=half_form, range_form=range_form,
        submit_form=submit_form, submission=submission, differences=differences,
        changed={(d.metric.key, d.column): d.submitted for d in differences},
        submissions=all_submissions, links=_drilldown_links(start, end, table["columns"]), form_field=form_field, **table,
    )


def _drilldown_links(start: date, end: date, columns: Iterable[service.Column]) -> dict[tuple[str, service.Column], str]:
    """Each figure's link to its records, (metric key, column) → the URL exactly as
    ``url_for('reports.drilldown', metric=…, region=…, start=…, end=…)`` writes it.

    Each metric's, column's and the period's part built once (``QueryUrls``) and joined, not
    url_for in each of the table's 156 cells, where it was a third of the page's time.
    """
    urls = QueryUrls()

    def query(**values) -> str:
        return urls("reports.drilldown", **values).partition("?")[2]

    path, period = urls("reports.drilldown"), query(start=start.isoformat(), end=end.isoformat())
    metrics = [(key, f"{path}?{query(metric=key)}&") for key in service.METRIC_KEYS]
    regions = [(column, f"{query(region=column)}&{period}") for column in columns]
    return {(key, column): metric + region for key, metric in metrics for column, region in regions}


class FiguresRow(NamedTuple):
    """One metric's row of the figures table: the metric, its label and its ``<td>`` cells."""

    metric: service.Metric
    label: str
    cells: Markup


@bp.app_template_global()
def figures_rows(report: service.StatusReport, columns: Iterable[service.Column], column_names: dict,
                 links: Optional[dict] = None, changed: Optional[dict] = None,
                 changed_label: str = "") -> list[FiguresRow]:
    """The rows of ``reports/_macros.html``'s figures table (26 metrics × 6 columns).

    The cells are written here, each value escaped once per table, row or distinct figure, not by
    a template loop per cell, where escaping the translated labels again in each cell cost a
    quarter of the report page. ``links``: (metric key, column) → drill-down URL, or none;
    ``changed``: (metric key, column) → the submitted figure, shown under today's.
    """
    columns = tuple(columns)
    names = {column: escape(column_names[column]) for column in columns}
    show_records = escape(_("vis poster")) if links else ""
    rows = []
    for metric, cells in report.shown_rows(columns):
        label, key = escape(metric.label), escape(metric.key)
        tds = [_figure_td(metric, key, label, column, names[column], escape(shown), links, show_records,
                          changed.get((metric.key, column)) if changed else None, changed_label)
               for column, shown in cells]
        rows.append(FiguresRow(metric, label, Markup("".join(tds))))  # nosec B704: every part escaped by _figure_td
    return rows


def _figure_td(metric: service.Metric, key: str, label: str, column: service.Column, name: str, shown: str,
               links: Optional[dict], show_records: str, before, changed_label: str) -> str:
    """One figure's cell: the figure (linked to its records when there are links) and, when it
    changed since the submission, the submitted figure under it. Every argument is escaped."""
    css = "text-end table-warning" if before is not None else "text-end"
    figure = f'<span class="figure">{shown}</span>'
    if links:
        figure = (f'<a href="{escape(links[(metric.key, column)])}" '
                  f'aria-label="{label}, {name}: {shown} ({show_records})">{figure}</a>')
    if before is not None:
        figure += (f'<span class="d-block small changed-note">{escape(changed_label)} '
                   f'{escape(format_number(before, metric.decimals))}</span>')
    return f'<td class="{css}" data-metric="{key}" data-column="{escape(column)}">{figure}</td>'


def _table_context() -> dict:
    """What every figures table needs: columns in screen order and their headings (translated
    once here, not in each of the table's cells)."""
    names = service.column_names()
    return {"columns": service.display_order(names), "column_names": names, "total": service.TOTAL}


@bp.route("/detaljer")
@read_required
def drilldown():
    """The records behind one number: ``metric``, ``region`` (code or 'total'), ``start``, ``end``."""
    start, end = _period_from_args()
    column = _column_arg(request.args.get("region"))
    if request.args.get("metric") not in service.METRICS_BY_KEY:
        abort(404)
    page = request.args.get("page", 1, type=int) or 1
    detail = service.drilldown(request.args["metric"], column, start, end, page)
    return render_template("reports/drilldown.html", detail=detail, start=start, end=end,
                           period=period_label(start, end),
                           material_record_label=service.material_record_label, **_table_context())


@bp.route("/eksport.<fmt>")
@read_required
def export(fmt: str):
    """The report for ``start``–``end`` as CSV (STAR's machine format, unchanged) or XLSX."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    start, end = _period_from_args()
    report = service.status_report(start, end)
    data = service.report_to_csv(report) if fmt == "csv" else service.report_to_xlsx(report)
    return download(data, service.report_filename(report, fmt), fmt)


@bp.route("/eksport-excel.csv")
@read_required
def export_excel():
    """The same report table as ``eksport.csv`` in the Danish Excel dialect (the page's button)."""
    start, end = _period_from_args()
    report = service.status_report(start, end)
    return download(service.report_to_excel_csv(report), service.report_filename(report, "csv"), CSV_EXCEL)


@bp.route("/udskrift")
@read_required
def print_view():
    """A clean A4 page of the report and its definitions (the browser prints or saves as PDF)."""
    start, end = _period_from_args()
    submission_id = request.args.get("indsendelse", type=int)
    if submission_id:
        submission = db.get_or_404(ReportSubmission, submission_id)
        report, frozen = service.submitted_report(submission), submission
    else:
        report, frozen = service.status_report(start, end), None
    return render_template("reports/print.html", report=report, submission=frozen,
                           printed_at=clock.utcnow(), **_table_context())


@bp.route("/indsend", methods=["POST"])
@admin_required
def submit():
    """Freeze the period's figures and files as sent to STAR, with who and when."""
    form = SubmitForm()
    start, end = parse_date(form.start.data), parse_date(form.end.data)
    if not form.validate_on_submit() or start is None or end is None or start > end:
        messages = [e for errors in form.errors.values() for e in errors]
        flash(" ".join(messages) or _("Perioden kunne ikke læses; prøv igen fra rapportsiden."), "warning")
        return redirect(url_for("reports.index"))
    submission = service.submit_report(start, end, form.note.data, actor=current_user)
    flash(_("Statusrapporten for %(period)s er markeret som indsendt. Tallene og filerne er gemt, "
            "som de er nu.", period=period_label(start, end)), "success")
    return redirect(url_for("reports.submission_detail", submission_id=submission.id))


class ReopenForm(FlaskForm):
    """An administrator opens the submitted period's lock for one region, with a reason."""

    region = SelectField(_l("Region"), validators=[InputRequired()])
    reason = TextAreaField(_l("Begrundelse"), validators=[InputRequired(), Length(max=2000)],
                           description=_l("Hvorfor skal tal i en indsendt periode ændres? Gemmes i loggen."))
    submit = SubmitField(_l("Genåbn perioden for regionen"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.region.choices = [("", _("Vælg region")), *region_choices(),
                               (period_locks.NATIONAL, _("Landsdækkende aktiviteter (uden region)"))]


@bp.route("/indsendelser/<int:submission_id>")
@read_required
def submission_detail(submission_id: int):
    """A submitted report exactly as sent, with where today's count differs, and its lock:
    which regions were reopened (when, by whom, why, re-locked when) and what changed meanwhile."""
    submission = db.get_or_404(ReportSubmission, submission_id)
    return _submission_page(submission, ReopenForm())


def _submission_page(submission: ReportSubmission, reopen_form: ReopenForm, status: int = 200):
    frozen = service.submitted_report(submission)
    now = service.status_report(submission.period_start, submission.period_end)
    differences = frozen.differences(now)
    reopenings = period_locks.reopenings_of(submission)
    changes = period_locks.changes_while_open(reopenings)
    return render_template("reports/submission.html", submission=submission, report=frozen,
                           differences=differences,
                           changed={(d.metric.key, d.column): d.now for d in differences},
                           reopenings=reopenings,
                           changes_while_open={key: audit_log.describe(entries) for key, entries in changes.items()},
                           reopen_form=reopen_form, relock_form=EmptyForm(),
                           can_reopen=can_reopen_periods(current_user),
                           **_table_context()), status


@bp.route("/indsendelser/<int:submission_id>/genaabn", methods=["POST"])
@admin_required
def reopen(submission_id: int):
    """Open the submitted period's lock for one region (administrators; the reason is required)."""
    submission = db.get_or_404(ReportSubmission, submission_id)
    form = ReopenForm()
    if not form.validate_on_submit():
        return _submission_page(submission, form, 400)
    try:
        reopening = period_locks.reopen_period(submission, form.region.data, form.reason.data, actor=current_user)
    except FieldError as error:
        return _submission_page(submission, form, show_error(form, error))
    flash(_("%(period)s er genåbnet for %(region)s. Husk at låse den igen, når rettelserne er lavet.",
            period=period_label(submission.period_start, submission.period_end),
            region=reopening.region.name if reopening.region else _("de landsdækkende aktiviteter")), "success")
    return redirect(url_for("reports.submission_detail", submission_id=submission.id) + "#laas")


@bp.route("/indsendelser/<int:submission_id>/genaabninger/<int:reopening_id>/laas", methods=["POST"])
@admin_required
def relock(submission_id: int, reopening_id: int):
    """Lock a reopened period again (administrators)."""
    submission = db.get_or_404(ReportSubmission, submission_id)
    reopening = db.get_or_404(PeriodReopening, reopening_id)
    same_period = (reopening.period_start, reopening.period_end) == (submission.period_start, submission.period_end)
    if not same_period or not EmptyForm().validate_on_submit():
        abort(400)
    period_locks.relock(reopening, actor=current_user)
    flash(_("Perioden er låst igen."), "success")
    return redirect(url_for("reports.submission_detail", submission_id=submission_id) + "#laas")


@bp.route("/indsendelser/<int:submission_id>.<fmt>")
@read_required
def submission_file(submission_id: int, fmt: str):
    """The CSV or XLSX file exactly as generated when the report was submitted."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    submission = db.get_or_404(ReportSubmission, submission_id)
    data = submission.csv_data if fmt == "csv" else submission.xlsx_data
    return download(data, _submission_filename(submission, fmt), fmt)


@bp.route("/indsendelser/<int:submission_id>-excel.csv")
@read_required
def submission_excel(submission_id: int):
    """The submitted CSV's frozen figures in the Danish Excel dialect (the same rows and figures)."""
    submission = db.get_or_404(ReportSubmission, submission_id)
    return download(service.report_csv_to_excel(submission.csv_data), _submission_filename(submission, "csv"),
                    CSV_EXCEL)


def _submission_filename(submission: ReportSubmission, extension: str) -> str:
    return f"statusrapport-{submission.period_start}-{submission.period_end}-indsendt-{submission.id}.{extension}"
