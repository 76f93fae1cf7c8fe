"""Automatiske rapporter: saved report views with a schedule and recipients, sent by the
scheduler process through the outbox. The rules (who may do what, due times, producing and
sending) are in ``crm.services.saved_reports``; this module translates between HTTP and them.
"""
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional as OptionalValue

from crm.clock import LOCAL_TZ
from crm.extensions import db
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.models import SavedReport, SavedReportAddress, User
from crm.models.saved_report import FORMATS, FREQUENCIES, PERIOD_RULES, RUN_FAILED
from crm.services import saved_reports as service
from crm.services.errors import Conflict, FieldError
from crm.services.permissions import (
    can_approve_addresses,
    can_create_saved_report,
    can_manage_saved_report,
    writable_region_codes,
)
from crm.views import report_files
from crm.views.access import admin_required, read_required, write_required
from crm.views.forms import EmptyForm, VersionedForm, region_choices, show_error
from crm.views.helpers import int_arg

bp = Blueprint("saved_reports", __name__, url_prefix="/rapporter/automatiske")
bp.record_once(lambda state: report_files.register(state.app))

HOUR_CHOICES = [(str(h), f"{h:02d}:00") for h in range(24)]
DAY_CHOICES = [(str(d), f"{d}.") for d in range(1, service.MAX_DAY + 1)]


class SavedReportForm(VersionedForm):
    """A saved report: what, for which period and region, which file, when and to whom."""

    name = StringField(_l("Navn"), validators=[InputRequired(), Length(max=160)])
    kind = SelectField(_l("Rapport"), validate_choice=False)
    period_rule = SelectField(_l("Periode"), validate_choice=False)
    region = SelectField(_l("Region"), validate_choice=False)
    format = SelectField(_l("Filformat"), validate_choice=False)
    frequency = SelectField(_l("Hyppighed"), validate_choice=False)
    weekday = SelectField(_l("Ugedag (ved ugentlig)"), validate_choice=False)
    day = SelectField(_l("Dag i måneden (ved månedlig og halvårlig)"), validate_choice=False)
    hour = SelectField(_l("Klokkeslæt"), choices=HOUR_CHOICES, validate_choice=False)
    active = BooleanField(_l("Aktiv (sendes efter planen)"), default=True)
    recipients = SelectMultipleField(_l("Modtagere blandt brugerne"), validate_choice=False, coerce=str,
                                     description=_l("Vælg flere med Ctrl-klik (Cmd-klik på Mac)."),
                                     render_kw={"size": 8})
    addresses = TextAreaField(
        _l("Eksterne e-mailadresser (én pr. linje)"), validators=[OptionalValue(), Length(max=6000)],
        description=_l("En ekstern adresse får først rapporten, når en administrator har godkendt den."),
        render_kw={"rows": 3})
    submit = SubmitField(_l("Gem automatisk rapport"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = service.kind_choices()
        self.period_rule.choices = [(key, str(label)) for key, label in PERIOD_RULES.items()]
        writable = writable_region_codes(user)
        self.region.choices = [("", str(_l("Hele landet")))] + region_choices(writable)
        self.format.choices = list(FORMATS.items())
        self.frequency.choices = [(key, str(label)) for key, label in FREQUENCIES.items()]
        self.weekday.choices = [(str(i), str(name)) for i, name in enumerate(service.WEEKDAYS)]
        self.day.choices = DAY_CHOICES
        users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name, User.email))
        self.recipients.choices = [(str(u.id), f"{u.display_name} <{u.email}>") for u in users]


def _data(form: SavedReportForm) -> service.SavedReportData:
    def number(value):
        return int_arg("v", {"v": value})

    return service.SavedReportData(
        name=form.name.data or "", kind=form.kind.data or "", period_rule=form.period_rule.data or "",
        region_code=number(form.region.data), format=form.format.data or "", frequency=form.frequency.data or "",
        weekday=number(form.weekday.data), day=number(form.day.data), hour=number(form.hour.data),
        active=bool(form.active.data),
        recipient_ids=[i for i in (number(v) for v in (form.recipients.data or [])) if i is not None],
        addresses=form.addresses.data or "",
    )


def _fill(form: SavedReportForm, report) -> None:
    """The stored values for GET (a new one: the last completed half-year as XLSX on 10 January/July)."""
    if report is None:
        form.region.data = str(current_user.region_code or "") if current_user.is_ambassador else ""
        form.day.data, form.hour.data, form.frequency.data = "10", "7", "halfyearly"
        form.recipients.data = [str(current_user.id)]
        return
    form.region.data = str(report.region_code or "")
    form.weekday.data, form.day.data, form.hour.data = str(report.weekday), str(report.day), str(report.hour)
    form.recipients.data = [str(u.id) for u in report.recipients]
    form.addresses.data = "\n".join(a.email for a in report.addresses)
    form.version.data = str(report.version)


@bp.route("/")
@read_required
def index():
    """Every saved report: what, when next, to whom, and how its last run went."""
    reports = service.saved_reports()
    now = datetime.now(LOCAL_TZ)
    return render_template(
        "saved_reports/index.html", reports=reports, latest=service.latest_runs(r.id for r in reports),
        next_due={r.id: service.next_due(r, now) if r.active else None for r in reports},
        failed=service.failed_runs() if current_user.is_admin else [],
        can_create=can_create_saved_report(None, user=current_user), service=service)


@bp.route("/<int:saved_report_id>")
@read_required
def detail(saved_report_id: int):
    """One saved report: its settings, recipients (external ones waiting or approved), runs."""
    report = db.get_or_404(SavedReport, saved_report_id)
    runs = service.runs_of(report)
    recipients = service.recipients_of(report)
    return render_template(
        "saved_reports/detail.html", report=report, runs=runs, messages=service.messages_of(runs),
        recipients=recipients, next_due=service.next_due(report, datetime.now(LOCAL_TZ)) if report.active else None,
        can_manage=can_manage_saved_report(report, user=current_user),
        can_approve=can_approve_addresses(user=current_user), failed=RUN_FAILED, service=service, form=EmptyForm())


@bp.route("/ny", methods=["GET", "POST"])
@bp.route("/<int:saved_report_id>/rediger", methods=["GET", "POST"])
@write_required
def edit(saved_report_id: int | None = None):
    """Create or change a saved report."""
    report = db.get_or_404(SavedReport, saved_report_id) if saved_report_id else None
    if report is not None and not can_manage_saved_report(report, user=current_user):
        abort(403)
    form = SavedReportForm(obj=report if request.method == "GET" else None, user=current_user)
    if request.method == "GET":
        _fill(form, report)
        return _form_page(form, report)
    if not form.validate_on_submit():
        return _form_page(form, report, 400)
    try:
        report = service.save_saved_report(report, _data(form), form.version.data, actor=current_user)
    except FieldError as error:
        status = show_error(form, error)
        if isinstance(error, Conflict):
            form.version.data = str(report.version)
        return _form_page(form, report, status)
    flash(_("Den automatiske rapport %(name)s er gemt.", name=report.name), "success")
    return redirect(url_for(".detail", saved_report_id=report.id))


def _form_page(form, report, status: int = 200):
    return render_template("saved_reports/form.html", form=form, report=report), status


@bp.route("/<int:saved_report_id>/slet", methods=["POST"])
@write_required
def delete(saved_report_id: int):
    report = db.get_or_404(SavedReport, saved_report_id)
    name = report.name
    try:
        service.delete_saved_report(report, request.form.get("version"), actor=current_user)
    except Conflict as error:
        flash(str(error), "warning")
        return redirect(url_for(".detail", saved_report_id=saved_report_id))
    flash(_("Den automatiske rapport %(name)s er slettet.", name=name), "success")
    return redirect(url_for(".index"))


@bp.route("/<int:saved_report_id>/send", methods=["POST"])
@write_required
def send(saved_report_id: int):
    """"Send nu": the report for its period as of today, to its recipients, recorded as a run."""
    report = db.get_or_404(SavedReport, saved_report_id)
    if not can_manage_saved_report(report, user=current_user):
        abort(403)
    if not EmptyForm().validate_on_submit():
        abort(400)
    run = service.send_now(report, actor=current_user)
    flash(_("%(name)s: %(outcome)s. %(detail)s", name=report.name, outcome=run.outcome_label, detail=run.detail or ""),
          "warning" if run.outcome != "ok" else "success")
    return redirect(url_for(".detail", saved_report_id=saved_report_id))


@bp.route("/adresser/<int:address_id>/godkend", methods=["POST"])
@admin_required
def approve(address_id: int):
    """An admin approves an external address."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    address = db.get_or_404(SavedReportAddress, address_id)
    service.approve_address(address, actor=current_user)
    flash(_("%(email)s er godkendt og får rapporten fra næste afsendelse.", email=address.email), "success")
    return redirect(url_for(".detail", saved_report_id=address.saved_report_id))
