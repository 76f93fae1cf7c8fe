"""Sign-in, sign-out, own password and language."""
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SubmitField
from wtforms.validators import EqualTo, InputRequired, Length

from crm.extensions import db, limiter
from crm.models import User
from crm.models.mixins import utcnow

bp = Blueprint("auth", __name__)

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Adgangskode"), validators=[InputRequired(), Length(max=200)])
    remember = BooleanField(_l("Husk mig"))
    submit = SubmitField(_l("Log ind"))


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Nuværende adgangskode"), validators=[InputRequired()])
    new = PasswordField(
        _l("Ny adgangskode"),
        validators=[InputRequired(), Length(min=10, max=200, message=_l("Mindst 10 tegn."))],
    )
    repeat = PasswordField(
        _l("Gentag ny adgangskode"),
        validators=[InputRequired(), EqualTo("new", message=_l("De to adgangskoder er ikke ens."))],
    )
    submit = SubmitField(_l("Skift adgangskode"))


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Sprog"), choices=[("da", "Dansk"), ("en", "English")])
    submit = SubmitField(_l("Gem"))


def _safe_next(target: str | None) -> str:
    """Only follow ``next`` to a path on this site (no open redirect)."""
    if not target or urlsplit(target).netloc or urlsplit(target).scheme or not target.startswith("/"):
        return url_for("main.index")
    return target


def authenticate(email: str, password: str) -> tuple[User | None, str | None]:
    """Check credentials with lockout after repeated failures; returns (user, error message)."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    generic = _("Forkert e-mail eller adgangskode.")
    if user is None:
        return None, generic
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        return None, _("For mange forkerte forsøg. Kontoen er låst i 15 minutter.")
    if not user.check_password(password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        db.session.commit()
        return None, generic
    if not user.active:
        return None, _("Kontoen er deaktiveret. Kontakt en administrator.")
    if user.failed_logins or user.locked_until:
        user.failed_logins = 0
        user.locked_until = None
        db.session.commit()
    return user, None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user, error = authenticate(form.email.data, form.password.data)
        if user:
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(error)
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash(_("Du er logget ud."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    password_form = PasswordForm(prefix="pw")
    language_form = LanguageForm(prefix="lang", locale=current_user.locale)
    if password_form.submit.data and password_form.validate_on_submit():
        if not current_user.check_password(password_form.current.data):
            password_form.current.errors.append(_("Adgangskoden er forkert."))
        else:
            current_user.set_password(password_form.new.data)
            db.session.commit()
            flash(_("Din adgangskode er skiftet."), "success")
            return redirect(url_for("auth.account"))
    elif language_form.submit.data and language_form.validate_on_submit():
        current_user.locale = language_form.locale.data
        db.session.commit()
        return redirect(url_for("auth.account"))
    return render_template("auth/account.html", password_form=password_form, language_form=language_form)


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    """Language for visitors who are not signed in (kept in the session)."""
    if code in ("da", "en"):
        session["locale"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")))
