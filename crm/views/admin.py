"""Administration: users, psychiatric centres, and the audit log."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import Email, InputRequired, Length, Optional, ValidationError

from crm.extensions import db
from crm.views.forms import EmptyForm, VersionedForm, region_choices, show_error
from crm.models import ROLES, AuditEntry, PsychiatricCentre, User
from crm.views.access import admin_required, read_required, roles_required
from crm.models.user import ROLE_ADMIN, ROLE_AMBASSADOR, ROLE_EXPERT_PANEL, ROLE_WORKING_GROUP
from crm.services import accounts, audit_log, reference, second_factor
from crm.services.errors import Conflict, FieldError

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_LABELS = {
    ROLE_AMBASSADOR: _l("Ambassadør"),
    ROLE_WORKING_GROUP: _l("Arbejdsgruppe"),
    ROLE_ADMIN: _l("Administrator"),
    ROLE_EXPERT_PANEL: _l("Ekspertpanel"),
}


class UserForm(VersionedForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired(), Email(), Length(max=254)])
    name = StringField(_l("Navn"), validators=[Optional(), Length(max=120)])
    role = SelectField(_l("Rolle"), choices=[(r, ROLE_LABELS[r]) for r in ROLES])
    region = SelectField(_l("Region"))
    password = PasswordField(_l("Adgangskode (tom: uændret)"), description=accounts.PASSWORD_RULES)
    active = BooleanField(_l("Aktiv"), default=True)
    submit = SubmitField(_l("Gem"))

    def __init__(self, *args, user: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._user = user
        self.region.choices = region_choices(blank=str(_l("— ingen —")))

    def validate_email(self, field):
        existing = db.session.scalar(select(User).where(func.lower(User.email) == field.data.strip().lower()))
        if existing is not None and existing is not self._user:
            raise ValidationError(_("Der findes allerede en bruger med denne e-mail."))

    def validate_region(self, field):
        if self.role.data == ROLE_AMBASSADOR and not field.data:
            raise ValidationError(_("En ambassadør skal have en region."))

    def validate_password(self, field):
        if not field.data:
            if self._user is None:
                raise ValidationError(_("Angiv en adgangskode for en ny bruger."))
            return
        problem = accounts.check_new_password(field.data, self.email.data or "", self.name.data or "")
        if problem:
            raise ValidationError(problem)


class CentreForm(FlaskForm):
    name = StringField(_l("Navn"), validators=[InputRequired(), Length(max=160)])
    region = SelectField(_l("Region"))
    submit = SubmitField(_l("Gem"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.region.choices = region_choices()


class SecondFactorResetForm(FlaskForm):
    reason = StringField(
        _l("Begrundelse"), validators=[InputRequired(), Length(max=second_factor.MAX_REASON_LENGTH)],
        description=_l("Vises i revisionsloggen, fx \"Mistet telefon, ringede 23-11-2026\"."),
    )
    submit = SubmitField(_l("Nulstil totrinsbekræftelse"))


@bp.route("/users")
@admin_required
def users():
    all_users = db.session.scalars(select(User).order_by(User.role, User.email)).all()
    return render_template("admin/users.html", users=all_users, role_labels=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int | None = None):
    """Create or change a user. A save meeting another admin's newer save is refused with the
    input kept; the last active admin cannot be demoted or deactivated."""
    user = db.get_or_404(User, user_id) if user_id else None
    form = UserForm(obj=user, user=user)
    if request.method == "GET" and user:
        form.region.data = str(user.region_code or "")
    if form.validate_on_submit():
        data = accounts.UserData(
            email=form.email.data,
            name=form.name.data or "",
            role=form.role.data,
            region_code=int(form.region.data) if form.region.data else None,
            active=bool(form.active.data),
            password=form.password.data or "",
        )
        try:
            saved = accounts.save_user(user, data, form.version.data, actor=current_user)
        except FieldError as error:
            return _refused(form, user, error)
        if saved.id == current_user.id and saved.active:
            login_user(saved)  # an admin's own new password: stay signed in here
        flash(_("Brugeren %(email)s er gemt.", email=saved.email), "success")
        return redirect(url_for("admin.users"))
    return _user_page(form, user)


def _user_page(form: UserForm, user: User | None, reset_form: "SecondFactorResetForm | None" = None):
    factor_on = bool(user and second_factor.is_enabled(user))
    return render_template("admin/user_form.html", form=form, user=user, factor_on=factor_on,
                           reset_form=reset_form or SecondFactorResetForm(prefix="sf", formdata=None))


def _refused(form: UserForm, user: User | None, error: FieldError):
    """The form again with the refusal, the input kept: a rule beside its field (status 200, as
    for any error on this form); another admin's save meanwhile as who and when (409), with the
    new version, so a deliberate second save goes through."""
    status = show_error(form, error)
    if not isinstance(error, Conflict):
        return _user_page(form, user)
    form.version.data = user.version
    return _user_page(form, user), status


@bp.route("/users/<int:user_id>/log-ud-overalt", methods=["POST"])
@admin_required
def user_sign_out_everywhere(user_id: int):
    """End every session and remember cookie of the user (audited as a session-token change)."""
    user = db.get_or_404(User, user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    accounts.sign_out_everywhere(user)
    flash(_("%(email)s er logget ud på alle enheder.", email=user.email), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/totrinsbekraeftelse/nulstil", methods=["POST"])
@admin_required
def user_reset_second_factor(user_id: int):
    """Turn a user's second factor off (lost phone), with a reason for the audit log; the user's
    sessions end, and a user who must have one enrols again at the next sign-in."""
    user = db.get_or_404(User, user_id)
    reset_form = SecondFactorResetForm(prefix="sf")
    if reset_form.validate_on_submit():
        try:
            second_factor.reset(user, reset_form.reason.data, actor=current_user)
        except FieldError as error:
            status = show_error(reset_form, error)
        else:
            flash(_("Totrinsbekræftelsen for %(email)s er nulstillet, og brugeren er logget ud overalt.",
                    email=user.email), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    else:
        status = 400
    form = UserForm(obj=user, user=user, formdata=None)
    form.region.data = str(user.region_code or "")
    return _user_page(form, user, reset_form), status


@bp.route("/centres")
@read_required
def centres():
    rows = db.session.scalars(
        select(PsychiatricCentre).order_by(PsychiatricCentre.region_code, PsychiatricCentre.name)
    ).all()
    return render_template("admin/centres.html", centres=rows, form=EmptyForm())


@bp.route("/centres/new", methods=["GET", "POST"])
@bp.route("/centres/<int:centre_id>", methods=["GET", "POST"])
@admin_required
def centre_edit(centre_id: int | None = None):
    """Add or rename a psychiatric centre: reference data, kept by admins (ambassadors choose
    from the list in plans, contacts and activities)."""
    centre = db.get_or_404(PsychiatricCentre, centre_id) if centre_id else None
    form = CentreForm(obj=centre)
    if request.method == "GET" and centre:
        form.region.data = str(centre.region_code)
    if form.validate_on_submit():
        try:
            reference.save_centre(centre, form.name.data, int(form.region.data))
        except FieldError as error:
            show_error(form, error)  # beside the name; the page keeps its status 200
        else:
            flash(_("Enheden er gemt."), "success")
            return redirect(url_for("admin.centres"))
    return render_template("admin/centre_form.html", form=form, centre=centre)


@bp.route("/audit")
@roles_required(ROLE_ADMIN, ROLE_WORKING_GROUP)
def audit():
    """The audit log, newest first, in words: filtered by user, record (type and id), action and
    period; each entry links to its record while it exists. A constant number of queries a page."""
    filters = audit_log.AuditFilters.from_args(request.args)
    query = filters.apply(select(AuditEntry).order_by(AuditEntry.id.desc()))
    page = db.paginate(query, per_page=50, error_out=False)
    people = db.session.execute(select(User.id, User.name, User.email).order_by(User.email)).all()
    return render_template("admin/audit.html", page=page, rows=audit_log.describe(list(page.items)),
                           filters=filters, entity_choices=audit_log.entity_choices(), people=people,
                           actions=audit_log.ACTIONS), 400 if filters.errors else 200
