"""Kalender: the personal feed (token URL, reset), the daily digest switch, one activity as .ics,
and importing an .ics file as draft activities (upload → preview → confirm)."""
import re
from datetime import date, timedelta
from typing import Optional

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from crm.clock import local_today
from crm.formatting import format_date
from crm.i18n import gettext as _
from crm.i18n import ngettext
from crm.i18n import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import BooleanField, SelectField, SubmitField
from wtforms.validators import InputRequired, ValidationError

from crm.extensions import db
from crm.views.forms import DanishDateField, EmptyForm
from crm.models import ACTIVITY_TYPES, Activity, Municipality, Region, User
from crm.models.user import CRM_ROLES
from crm.views.access import read_required, roles_required, write_required
from crm.services import calendar_feed, ics_import, pending_uploads, permissions
from crm.services.mail import external_url

bp = Blueprint("calendar", __name__, url_prefix="/kalender")

# Every CRM user manages their own feed link and digest (their own account only); the expert panel
# has no calendar (it sees no activities).
own_account_required = roles_required(*CRM_ROLES)
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,80}$")
IMPORT_KIND = "calendar"  # the kind of its uploads in the pending-upload store


class DigestForm(FlaskForm):
    """The user's own switch for the daily digest e-mail."""

    enabled = BooleanField(_l("Send mig det daglige overblik på e-mail"))
    submit = SubmitField(_l("Gem"))


class IcsUploadForm(FlaskForm):
    """An .ics file and the date range to read from it."""

    file = FileField(_l("Kalenderfil (.ics)"), validators=[FileRequired(_l("Vælg en .ics-fil."))])
    start = DanishDateField(_l("Fra dato"), validators=[InputRequired(_l("Angiv en dato."))])
    end = DanishDateField(_l("Til dato"), validators=[InputRequired(_l("Angiv en dato."))])
    # Checked in validate_region: ambassadors never see the field (their region is used).
    region = SelectField(_l("Region for aktiviteterne"), validate_choice=False)
    submit = SubmitField(_l("Vis aftaler"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        regions = db.session.scalars(select(Region).order_by(Region.code)).all()
        self.region.choices = [("", str(_l("Landsdækkende (ingen region)")))] + [(str(r.code), r.name) for r in regions]

    def validate_region(self, field):
        if field.data and field.data not in {value for value, _label in self.region.choices}:
            raise ValidationError(_("Vælg en region fra listen."))

    def validate_end(self, field):
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError(_("Slutdatoen må ikke ligge før startdatoen."))
        if self.start.data and field.data and (field.data - self.start.data).days > ics_import.MAX_RANGE_DAYS:
            raise ValidationError(_("Vælg en periode på højst tre år."))


# --- The personal feed -----------------------------------------------------------------------


def _feed_urls(user: User, args: dict) -> Optional[dict[str, str]]:
    """The user's feed as https:// and webcal:// URLs (with the chosen filters), or None."""
    if not user.calendar_token:
        return None
    https = external_url("calendar.feed", token=user.calendar_token, **args)
    return {"https": https, "webcal": re.sub(r"^https?://", "webcal://", https)}


def _filter_args() -> dict:
    """The region/type options chosen on the page, kept only when the feed would honour them."""
    scope = calendar_feed.feed_scope(current_user, request.args)
    args: dict = {}
    region = request.args.get("region", "")
    if region == calendar_feed.NATIONAL or (region.isdigit() and scope.region_codes == frozenset({int(region)})):
        args["region"] = region
    if scope.types:
        args["type"] = sorted(scope.types)
    return args


@bp.route("/")
@read_required
def index():
    """The user's feed link (with optional filters), its reset button, and the digest switch."""
    digest_form = DigestForm(enabled=current_user.digest_enabled)
    args = _filter_args()
    return render_template(
        "calendar/index.html",
        urls=_feed_urls(current_user, args),
        filter_args=args,
        digest_form=digest_form,
        reset_form=EmptyForm(),
        regions=calendar_feed.region_choices(),
        types=calendar_feed.type_choices(),
        sees_all=permissions.readable_region_codes(current_user) is None,
    )


@bp.route("/link", methods=["POST"])
@own_account_required
def reset_token():
    """Issue a new feed token (or the first one); the old feed URL stops working at once."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    if calendar_feed.reset_feed_token(actor=current_user._get_current_object()):
        flash(_("Du har fået et nyt kalenderlink. Det gamle virker ikke længere: abonnér på det nye."), "success")
    else:
        flash(_("Dit personlige kalenderlink er oprettet."), "success")
    return redirect(url_for("calendar.index"))


@bp.route("/overblik", methods=["POST"])
@own_account_required
def digest():
    """Turn the user's own daily digest on or off."""
    form = DigestForm()
    if not form.validate_on_submit():
        abort(400)
    calendar_feed.set_digest(bool(form.enabled.data), actor=current_user._get_current_object())
    flash(_("Det daglige overblik er slået til.") if current_user.digest_enabled
          else _("Det daglige overblik er slået fra."), "success")
    return redirect(url_for("calendar.index"))


def _ics_response(data: bytes, filename: str, disposition: str) -> Response:
    """A calendar file response; never cached by shared caches (the feed URL is a secret)."""
    response = Response(data, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.route("/feed/<token>.ics")
def feed(token: str):
    """The personal feed: no sign-in; the secret token in the URL identifies the user (404 if unknown)."""
    if not TOKEN_PATTERN.match(token):
        abort(404)
    user = db.session.scalar(select(User).where(User.calendar_token == token))
    if user is None or not user.active:
        abort(404)
    return _ics_response(calendar_feed.user_feed(user, request.args), "ips-crm.ics", "inline")


@bp.route("/aktivitet/<int:activity_id>.ics")
@read_required
def activity_ics(activity_id: int):
    """One activity as an .ics file, to add to a calendar or send on as an invitation."""
    activity = db.get_or_404(Activity, activity_id)
    return _ics_response(calendar_feed.activity_ics(activity), f"aktivitet-{activity.id}.ics", "attachment")


# --- Importing an .ics file ------------------------------------------------------------------


def _import_region(raw: str) -> Optional[int]:
    """The region the imported activities get (403 unless the user may write it)."""
    return ics_import.import_region(int(raw) if raw.isdigit() else None, actor=current_user._get_current_object())


def _municipality_names() -> dict[int, str]:
    return dict(db.session.execute(select(Municipality.code, Municipality.name)).all())


@bp.route("/import", methods=["GET", "POST"])
@write_required
def import_upload():
    """Upload an .ics file; valid → the preview of its events within the chosen range."""
    form = IcsUploadForm()
    if request.method == "GET":
        today = local_today()
        form.start.data, form.end.data = today - timedelta(days=30), today + timedelta(days=180)
        form.region.data = str(current_user.region_code or "")
    if form.validate_on_submit():
        data = form.file.data.read(int(current_app.config.get("MAX_UPLOAD_BYTES", 10 * 1024 * 1024)) + 1)
        try:
            if len(data) > int(current_app.config.get("MAX_UPLOAD_BYTES", 10 * 1024 * 1024)):
                raise ics_import.IcsError(_("Filen er for stor."))
            proposals = ics_import.read_events(data, form.start.data, form.end.data)
        except ics_import.IcsError as error:
            form.file.errors.append(str(error))
        else:
            region = _import_region(form.region.data or "")
            ics_import.mark_locked(proposals, region)
            token = pending_uploads.save(IMPORT_KIND, form.file.data.filename or "", data, actor=current_user)
            return render_template(
                "calendar/import_preview.html", proposals=proposals, token=token,
                start=form.start.data, end=form.end.data, region=region,
                region_name=db.session.get(Region, region).name if region else _("Landsdækkende"),
                names=_municipality_names(), types=ACTIVITY_TYPES, form=EmptyForm(),
            )
    return render_template("calendar/import.html", form=form, is_ambassador=current_user.is_ambassador)


@bp.route("/import/bekraeft", methods=["POST"])
@write_required
def import_confirm():
    """Create the events the user ticked (with the types they chose) as activities."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    region = _import_region(request.form.get("region", ""))
    token = request.form.get("token", "")
    if not pending_uploads.is_token(token):
        abort(400)
    try:
        start, end = date.fromisoformat(request.form["start"]), date.fromisoformat(request.form["end"])
        upload = pending_uploads.load(IMPORT_KIND, token, actor=current_user)
        proposals = ics_import.read_events(upload.data, start, end)
    except (KeyError, ValueError, pending_uploads.UnknownUpload):
        flash(_("Den uploadede fil er ikke længere tilgængelig. Upload den igen."), "warning")
        return redirect(url_for("calendar.import_upload"))
    selected = set(request.form.getlist("selected"))
    chosen = [p for p in proposals if p.key in selected]
    types = {p.key: request.form.get(f"type:{p.key}", "") for p in chosen}
    created, skipped = ics_import.create_activities(chosen, region, actor=current_user._get_current_object(),
                                                    types=types)
    pending_uploads.discard(token)
    flash(" ".join([
        ngettext("%(num)s aktivitet oprettet fra kalenderen;", "%(num)s aktiviteter oprettet fra kalenderen;",
                 len(created)),
        ngettext("%(num)s var importeret før.", "%(num)s var importeret før.", skipped),
        _("Ret dem til under Aktiviteter.")]), "success")
    for proposal in chosen:
        if proposal.locked:
            flash(_("»%(title)s« (%(date)s) er ikke oprettet: %(reason)s", title=proposal.title,
                    date=format_date(proposal.start_date), reason=proposal.locked), "warning")
    return redirect(url_for("activities.index"))
