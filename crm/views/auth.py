"""Sign-in (with the second factor's step), sign-out, own password, second factor and language."""
import time
from urllib.parse import urlsplit

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField, ValidationError
from wtforms.validators import EqualTo, InputRequired, Length

from crm.extensions import limiter
from crm.models.user import User
from crm.services import accounts, second_factor, signin
from crm.services.errors import FieldError
from crm.views import oidc
from crm.views.forms import show_error
from crm.views.sign_in_method import PASSWORD, SIGN_IN_METHOD, mark_signed_in, signed_in_by_password

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


class CodeForm(FlaskForm):
    """A code from the authenticator app, or a recovery code."""

    code = StringField(
        _l("Kode"), validators=[InputRequired(), Length(max=40)],
        description=_l("De 6 cifre fra godkendelsesappen, eller en af dine gendannelseskoder."),
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Bekræft"))


class EnrolForm(FlaskForm):
    code = StringField(
        _l("Kode fra appen"), validators=[InputRequired(), Length(max=40)],
        description=_l("Skriv de 6 cifre, appen viser nu."),
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField(_l("Slå totrinsbekræftelse til"))


class NewRecoveryCodesForm(CodeForm):
    submit = SubmitField(_l("Lav nye gendannelseskoder"))


class DisableForm(CodeForm):
    submit = SubmitField(_l("Slå totrinsbekræftelse fra"))


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
            target = _safe_next(request.args.get("next"))
            if second_factor.is_enabled(user):
                _await_code(user, bool(form.remember.data), target)
                return redirect(url_for("auth.second_step"))
            login_user(user, remember=form.remember.data)
            mark_signed_in(PASSWORD)
            if second_factor.is_required(user):
                flash(_("Du skal slå totrinsbekræftelse til, før du kan bruge CRM'et."), "info")
                return redirect(url_for("auth.two_factor"))
            return redirect(target)
        form.password.errors.append(error)
    return render_template("auth/login.html", form=form)


# --- The second step of a password sign-in ----------------------------------------------------
# Between a correct password and a correct code the session holds only ``AWAITING`` (user id, the
# user's session token as the password step saw it, the deadline, "remember me" and the checked
# ``next``); nobody is signed in until the code is right.

AWAITING = "awaiting_second_factor"
# How the current session was signed in: crm/views/sign_in_method.py (the OpenID Connect sign-in
# marks its sessions OIDC, and the second factor is asked for only after a password).
# The session passed the second factor (or enrolled); holds the user's id as Flask-Login keeps it,
# so the gate below need not read the database on every page.
FACTOR_CHECKED = "second_factor_checked"


def _mark_factor_checked(user: User) -> None:
    session[FACTOR_CHECKED] = user.get_id()


def _await_code(user: User, remember: bool, target: str) -> None:
    minutes = current_app.config.get("TOTP_PENDING_MINUTES", 5)
    session[AWAITING] = {"user": user.id, "token": user.session_token, "until": int(time.time()) + 60 * minutes,
                         "remember": remember, "next": target}


def _awaiting() -> tuple[User | None, dict]:
    state = session.get(AWAITING)
    if not isinstance(state, dict) or not isinstance(state.get("until"), int) or state["until"] < time.time():
        return None, {}
    return second_factor.user_awaiting_code(state.get("user"), state.get("token", "")), state


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def second_step():
    """The code after a correct password: from the authenticator app or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    user, state = _awaiting()
    if user is None:
        if session.pop(AWAITING, None) is not None:
            flash(_("Log ind igen: der gik for lang tid, før koden blev skrevet."), "warning")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        error = second_factor.check_code(user, form.code.data)
        if error is None:
            session.pop(AWAITING, None)
            login_user(user, remember=bool(state.get("remember")))
            mark_signed_in(PASSWORD)
            _mark_factor_checked(user)
            if second_factor.recovery_codes_left(user) <= 2:
                flash(_("Du har få gendannelseskoder tilbage. Lav nye under Min konto → Totrinsbekræftelse."),
                      "warning")
            return redirect(_safe_next(state.get("next")))
        form.code.errors.append(error)
        form.code.data = ""
    return render_template("auth/second_step.html", form=form)


_GATE_OPEN = frozenset({"auth.two_factor", "auth.logout", "auth.set_language", "auth.login", "static",
                        "bootstrap.static"})


@bp.before_app_request
def _second_factor_gate():
    """A user who must have a second factor and has none may, after a password sign-in, only
    enrol (or sign out) until it is on. Checked on the server for every request."""
    endpoint = request.endpoint or ""
    if endpoint in _GATE_OPEN or endpoint.startswith("health."):
        return None
    if not current_user.is_authenticated or not signed_in_by_password():
        return None
    if session.get(FACTOR_CHECKED) == current_user.get_id():
        return None
    user = current_user._get_current_object()
    if not second_factor.is_required(user) or second_factor.is_enabled(user):
        return None
    flash(_("Du skal slå totrinsbekræftelse til, før du kan bruge CRM'et."), "info")
    return redirect(url_for("auth.two_factor"))


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out: ends this session and every other session and remember cookie of the user."""
    if current_user.is_authenticated:
        accounts.sign_out_everywhere(current_user._get_current_object())
    provider_sign_out = oidc.end_session_url()  # signed in through a provider: sign out there too
    logout_user()
    for key in (AWAITING, SIGN_IN_METHOD, FACTOR_CHECKED):
        session.pop(key, None)
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
    return render_template("auth/account.html", password_form=password_form, language_form=language_form,
                           factor_on=second_factor.is_enabled(current_user))


# --- The second factor on the account page --------------------------------------------------------

def _remembered() -> bool:
    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


def _sign_in_again(user: User) -> None:
    """After a change that ended the user's sessions: this one goes on with the new token."""
    login_user(user, remember=_remembered())
    _mark_factor_checked(user)


def _qr_svg(uri: str) -> Markup:
    """The QR code as inline SVG (segno; no script, no request to anyone)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=4, omitsize=False)
    return Markup(svg)  # nosec B704: segno draws the data as modules (paths); no text of it is in the SVG


@bp.route("/account/two-factor", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
@login_required
def two_factor():
    """Enrolment (a new secret as QR code and text, confirmed by a code), or, when the factor is
    on: recovery codes left, new recovery codes and turning it off."""
    user = current_user._get_current_object()
    if second_factor.is_enabled(user):
        return render_template("auth/two_factor.html", enabled=True, codes_left=second_factor.recovery_codes_left(user),
                               new_codes_form=NewRecoveryCodesForm(prefix="new"), disable_form=DisableForm(prefix="off"),
                               required=second_factor.is_required(user))
    form = EnrolForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = second_factor.confirm_enrolment(user, form.code.data, actor=user)
        except FieldError as error:
            status = show_error(form, error)
            form.code.data = ""
        else:
            _sign_in_again(user)
            flash(_("Totrinsbekræftelse er slået til. Du er logget ud alle andre steder."), "success")
            return render_template("auth/recovery_codes.html", codes=codes)
    secret = second_factor.start_enrolment(user, actor=user)
    uri = second_factor.provisioning_uri(user, secret)
    return render_template("auth/two_factor.html", enabled=False, form=form, qr=_qr_svg(uri),
                           secret=second_factor.grouped(secret), required=second_factor.is_required(user)), status


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@login_required
def new_recovery_codes():
    user = current_user._get_current_object()
    form = NewRecoveryCodesForm(prefix="new")
    if form.validate_on_submit():
        try:
            codes = second_factor.regenerate_recovery_codes(user, form.code.data, actor=user)
        except FieldError as error:
            return _factor_page_with_error(user, error, new_codes_form=form)
        _sign_in_again(user)
        flash(_("Du har nye gendannelseskoder; de gamle virker ikke længere."), "success")
        return render_template("auth/recovery_codes.html", codes=codes)
    return _factor_page_with_error(user, None, new_codes_form=form)


@bp.route("/account/two-factor/disable", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@login_required
def disable_two_factor():
    user = current_user._get_current_object()
    form = DisableForm(prefix="off")
    if form.validate_on_submit():
        try:
            second_factor.disable(user, form.code.data, actor=user)
        except FieldError as error:
            return _factor_page_with_error(user, error, disable_form=form)
        login_user(user, remember=_remembered())
        session.pop(FACTOR_CHECKED, None)
        flash(_("Totrinsbekræftelse er slået fra. Du er logget ud alle andre steder."), "success")
        return redirect(url_for("auth.two_factor") if second_factor.is_required(user) else url_for("auth.account"))
    return _factor_page_with_error(user, None, disable_form=form)


def _factor_page_with_error(user: User, error: FieldError | None, **forms):
    """The second-factor page again with the refusal beside the code field it concerns."""
    if not second_factor.is_enabled(user):
        return redirect(url_for("auth.two_factor"))
    forms.setdefault("new_codes_form", NewRecoveryCodesForm(prefix="new", formdata=None))
    forms.setdefault("disable_form", DisableForm(prefix="off", formdata=None))
    status = 400
    for form in forms.values():
        if error is not None and form.is_submitted() and form.code.raw_data:
            status = show_error(form, error)
            form.code.data = ""
    return render_template("auth/two_factor.html", enabled=True, codes_left=second_factor.recovery_codes_left(user),
                           required=second_factor.is_required(user), **forms), status


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    """Language for visitors who are not signed in (kept in the session)."""
    if code in ("da", "en"):
        session["locale"] = code
        if current_user.is_authenticated:
            accounts.set_locale(current_user._get_current_object(), code)
    return redirect(_safe_next(request.form.get("next")))
