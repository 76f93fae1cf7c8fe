"""Administration: users, psychiatric centres, and the audit log."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import Email, InputRequired, Length, Optional, ValidationError

from crm.extensions import db
from crm.forms import EmptyForm, region_choices
from crm.models import ROLES, AuditEntry, PsychiatricCentre, User
from crm.permissions import admin_required, ensure_can_write, read_required, roles_required, write_required
from crm.models.user import ROLE_ADMIN, ROLE_AMBASSADOR, ROLE_WORKING_GROUP
from crm.services import audit_log

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_LABELS = {
    ROLE_AMBASSADOR: _l("Ambassadør"),
    ROLE_WORKING_GROUP: _l("Arbejdsgruppe"),
    ROLE_ADMIN: _l("Administrator"),
}


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired(), Email(), Length(max=254)])
    name = StringField(_l("Navn"), validators=[Optional(), Length(max=120)])
    role = SelectField(_l("Rolle"), choices=[(r, ROLE_LABELS[r]) for r in ROLES])
    region = SelectField(_l("Region"))
    password = PasswordField(_l("Adgangskode (tom: uændret)"))
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
        elif not 10 <= len(field.data) <= 200:
            raise ValidationError(_("Mindst 10 og højst 200 tegn."))


class CentreForm(FlaskForm):
    name = StringField(_l("Navn"), validators=[InputRequired(), Length(max=160)])
    region = SelectField(_l("Region"))
    submit = SubmitField(_l("Gem"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.region.choices = region_choices()


@bp.route("/users")
@admin_required
def users():
    all_users = db.session.scalars(select(User).order_by(User.role, User.email)).all()
    return render_template("admin/users.html", users=all_users, role_labels=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int | None = None):
    user = db.get_or_404(User, user_id) if user_id else None
    form = UserForm(obj=user, user=user)
    if request.method == "GET" and user:
        form.region.data = str(user.region_code or "")
    if form.validate_on_submit():
        if user is None:
            user = User(email="", password_hash="", role=form.role.data)
            db.session.add(user)
        user.email = form.email.data.strip().lower()
        user.name = form.name.data or ""
        user.role = form.role.data
        user.region_code = int(form.region.data) if form.region.data and form.role.data == ROLE_AMBASSADOR else None
        user.active = form.active.data
        if form.password.data:
            user.set_password(form.password.data)
        db.session.commit()
        flash(_("Brugeren %(email)s er gemt.", email=user.email), "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user)


@bp.route("/centres")
@read_required
def centres():
    rows = db.session.scalars(
        select(PsychiatricCentre).order_by(PsychiatricCentre.region_code, PsychiatricCentre.name)
    ).all()
    return render_template("admin/centres.html", centres=rows, form=EmptyForm())


@bp.route("/centres/new", methods=["GET", "POST"])
@bp.route("/centres/<int:centre_id>", methods=["GET", "POST"])
@write_required
def centre_edit(centre_id: int | None = None):
    centre = db.get_or_404(PsychiatricCentre, centre_id) if centre_id else None
    if centre:
        ensure_can_write(centre.region_code)
    form = CentreForm(obj=centre)
    if request.method == "GET":
        form.region.data = str(centre.region_code if centre else (current_user.region_code or ""))
    if form.validate_on_submit():
        region_code = int(form.region.data)
        ensure_can_write(region_code)
        duplicate = db.session.scalar(
            select(PsychiatricCentre).where(
                PsychiatricCentre.region_code == region_code, PsychiatricCentre.name == form.name.data.strip()
            )
        )
        if duplicate is not None and duplicate is not centre:
            form.name.errors.append(_("Der findes allerede en enhed med dette navn i regionen."))
        else:
            centre = centre or PsychiatricCentre()
            centre.name = form.name.data.strip()
            centre.region_code = region_code
            db.session.add(centre)
            db.session.commit()
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
