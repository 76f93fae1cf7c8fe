"""Administration of e-mail and scheduled jobs: the outbox (status, errors, send again) and the
job runs (outcome, "run now"). Admins only."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from crm.i18n import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.extensions import db
from crm.views.files import send_bytes
from crm.views.forms import EmptyForm
from crm.models.messaging import MAIL_STATUSES, JobRun, OutboxMessage
from crm.views.access import admin_required
from crm.services import jobs as jobs_service
from crm.services import mail, saved_reports

bp = Blueprint("jobs", __name__, url_prefix="/admin")
PER_PAGE = 50


def _int_form_field(name: str) -> int:
    """A required integer from the POSTed form; 400 otherwise."""
    raw = (request.form.get(name) or "").strip()
    if not raw.isdigit():
        abort(400)
    return int(raw)


@bp.route("/udbakke")
@admin_required
def outbox():
    """Every e-mail the CRM made, newest first, with status, attempts and the last error."""
    status = request.args.get("status", "")
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status in MAIL_STATUSES:
        query = query.where(OutboxMessage.status == status)
    else:
        status = ""
    page = db.paginate(query, per_page=PER_PAGE, max_per_page=PER_PAGE, error_out=False)
    return render_template("jobs/outbox.html", page=page, status=status, statuses=MAIL_STATUSES,
                           smtp=mail.smtp_configured(), form=EmptyForm(), can_retry=mail.can_retry)


@bp.route("/udbakke/<int:message_id>")
@admin_required
def message(message_id: int):
    """One e-mail in full."""
    item = db.get_or_404(OutboxMessage, message_id)
    return render_template("jobs/message.html", message=item, form=EmptyForm(), can_retry=mail.can_retry(item))


@bp.route("/udbakke/<int:message_id>/vedhaeftning")
@admin_required
def attachment(message_id: int):
    """The message's attachment as a download."""
    item = db.get_or_404(OutboxMessage, message_id)
    data = mail.attachment_bytes(item) if item.attachment_name else None
    if data is None:
        abort(404)
    return send_bytes(data, item.attachment_name, item.attachment_mimetype or "application/octet-stream")


@bp.route("/udbakke/send-igen", methods=["POST"])
@admin_required
def retry():
    """Send one message again now (form field ``message_id``), whatever its attempt count."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    item = db.get_or_404(OutboxMessage, _int_form_field("message_id"))
    if not mail.can_retry(item):
        flash(_("E-mailen er allerede sendt eller ved at blive sendt."), "warning")
    else:
        counts = mail.retry(item)
        flash(_("Forsøgt igen: %(counts)s.", counts=mail.describe_counts(counts)),
              "success" if counts.get("sent") else "warning")
    if request.form.get("back") == "message":
        return redirect(url_for("jobs.message", message_id=item.id))
    return redirect(url_for("jobs.outbox"))


@bp.route("/koersler")
@admin_required
def runs():
    """Job runs, newest first, and a "run now" button per job."""
    query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc())
    job = request.args.get("job", "")
    if job in jobs_service.JOBS:
        query = query.where(JobRun.job == job)
    else:
        job = ""
    page = db.paginate(query, per_page=PER_PAGE, max_per_page=PER_PAGE, error_out=False)
    return render_template("jobs/runs.html", page=page, jobs=jobs_service.JOBS, job=job,
                           latest=jobs_service.latest_runs(), form=EmptyForm(),
                           failed_reports=saved_reports.failed_runs())


@bp.route("/koersler/koer", methods=["POST"])
@admin_required
def run_now():
    """Run one job now (form field ``job``); it is recorded like a scheduled run."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    name = request.form.get("job", "")
    if name not in jobs_service.JOBS:
        abort(400)
    run = jobs_service.run_job(name, triggered_by=current_user.email)
    if run is None:
        flash(_("Jobbet kører allerede i en anden proces."), "warning")
    else:
        flash(_("%(job)s: %(outcome)s. %(detail)s", job=jobs_service.JOBS[name].label,
                outcome=run.outcome_label, detail=run.detail or ""),
              "warning" if run.outcome == "failed" else "success")
    return redirect(url_for("jobs.runs"))
