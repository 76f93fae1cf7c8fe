"""Sign-in, sign-out, own password and language."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SubmitField, ValidationError
from wtforms.validators import EqualTo, InputRequired, Length

from crm.extensions import limiter
from crm.services import accounts, signin
from crm.views import oidc

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Adgangskode"), validators=[InputRequired(), Length(max=200)])
    remember = BooleanField(_l("Husk mig"))
    submit = SubmitField(_l("Log ind"))


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Nuværende adgangskode"), validators=[InputRequired()])
    new = PasswordField(_l("Ny adgangskode"), validators=[InputRequired()], description=accounts.PASSWORD_RULES)
    repeat = PasswordField(
        _l("Gentag ny adgangskode"),
        validators=[InputRequired(), EqualTo("new", message=_l("De to adgangskoder er ikke ens."))],
    )
    submit = SubmitField(_l("Skift adgangskode"))

    def validate_new(self, field):
        problem = accounts.check_new_password(field.data, current_user.email, current_user.name)
        if problem:
            raise ValidationError(problem)


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Sprog"), choices=[("da", "Dansk"), ("en", "English")])
    submit = SubmitField(_l("Gem"))


def _safe_next(target: str | None) -> str:
    """Only follow ``next`` to a path on this site (no open redirect)."""
    if not target or urlsplit(target).netloc or urlsplit(target).scheme or not target.startswith("/"):
        return url_for("main.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if not current_app.config.get("PASSWORD_LOGIN_ENABLED", True):
        # Only the organisation's identity providers sign people in here (crm/views/oidc.py).
        if request.method == "POST":
            flash(_("Log ind med adgangskode er slået fra. Brug din organisations log ind."), "warning")
            return render_template("auth/login.html", form=form), 403
        return render_template("auth/login.html", form=form)
    if form.validate_on_submit():
        user, error = signin.authenticate(form.email.data, form.password.data, request.remote_addr)
        if user:
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(error)
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out: ends this session and every other session and remember cookie of the user."""
    if current_user.is_authenticated:
        accounts.sign_out_everywhere(current_user._get_current_object())
    provider_sign_out = oidc.end_session_url()  # signed in through a provider: sign out there too
    logout_user()
    flash(_("Du er logget ud."), "info")
    return redirect(provider_sign_out or url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
@login_required
def account():
    password_form = PasswordForm(prefix="pw")
    language_form = LanguageForm(prefix="lang", locale=current_user.locale)
    if password_form.submit.data and password_form.validate_on_submit():
        error = signin.checked_password(
            current_user, current_user.email, password_form.current.data, request.remote_addr,
            _("Adgangskoden er forkert."),
        )
        if error:
            password_form.current.errors.append(error)
        else:
            user = current_user._get_current_object()
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
            accounts.change_own_password(user, password_form.new.data)  # other sessions end
            login_user(user, remember=remembered)  # this one goes on with the new token
            flash(_("Din adgangskode er skiftet. Du er logget ud alle andre steder."), "success")
            return redirect(url_for("auth.account"))
    elif language_form.submit.data and language_form.validate_on_submit():
        accounts.set_locale(current_user._get_current_object(), language_form.locale.data)
        return redirect(url_for("auth.account"))
    return render_template("auth/account.html", password_form=password_form, language_form=language_form)


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    """Language for visitors who are not signed in (kept in the session)."""
    if code in ("da", "en"):
        session["locale"] = code
        if current_user.is_authenticated:
            accounts.set_locale(current_user._get_current_object(), code)
    return redirect(_safe_next(request.form.get("next")))
