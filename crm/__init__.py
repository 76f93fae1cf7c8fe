"""The IPS Ambassador CRM: application factory."""
import logging
from importlib import import_module
from pathlib import Path
from typing import Union

from flask import Flask, has_request_context, session
from flask_login import current_user

import config as settings
from config import BASE_DIR, CONFIGS
from crm.extensions import babel, bootstrap, cache, csrf, db, limiter, login_manager, migrate
from crm.secret_key import configure_secret_key

# One blueprint per area; each module exposes ``bp``.
BLUEPRINT_MODULES = (
    "crm.views.errors",
    "crm.views.auth",
    "crm.views.oidc",
    "crm.views.main",
    "crm.views.municipalities",
    "crm.views.tasks",
    "crm.views.plans",
    "crm.views.contacts",
    "crm.views.activities",
    "crm.views.materials",
    "crm.views.imports",
    "crm.views.reports",
    "crm.views.grant_accounts",
    "crm.views.saved_reports",
    "crm.views.dashboard",
    "crm.views.fidelity",
    "crm.views.instruments",
    "crm.views.outcomes",
    "crm.views.evaluation",
    "crm.views.anchoring",
    "crm.views.grants",
    "crm.views.calendar",
    "crm.views.admin",
    "crm.views.jobs",
    "crm.views.health",
)


def create_app(config: Union[str, type, None] = None) -> Flask:
    """Build the app. ``config`` is a name from ``config.CONFIGS``, a config class, or None."""
    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
        instance_path=str(settings.INSTANCE_DIR),
    )
    from crm.requests import CrmRequest

    app.request_class = CrmRequest  # uploads stay in memory until checked (never spooled to disk)
    config_class = CONFIGS[config or "development"] if isinstance(config, (str, type(None))) else config
    if hasattr(config_class, "validate"):
        config_class.validate()
    app.config.from_object(config_class)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_secret_key(app)
    configure_proxy(app)

    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    register_template_helpers(app)
    configure_logging(app)
    from crm.services.pending_uploads import clean_at_start

    clean_at_start(app)  # unconfirmed uploads older than an hour go (also by the scheduler)
    return app


def configure_proxy(app: Flask) -> None:
    """Behind PROXY_FIX reverse proxies, take the client address and scheme from X-Forwarded-*."""
    proxies = int(app.config.get("PROXY_FIX") or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


def _select_locale() -> str:
    """The signed-in user's language, else the one chosen this session, else Danish."""
    if not has_request_context():  # CLI, scheduler jobs: Danish
        return "da"
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.locale or "da"
    return session.get("locale") or "da"


def register_extensions(app: Flask) -> None:
    from crm.database import configure_engine_options

    configure_engine_options(app)  # before db.init_app, which creates the engine
    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=lambda: "Europe/Copenhagen")
    bootstrap.init_app(app)
    limiter.init_app(app)
    cache.init_app(app)

    from crm import audit, security  # noqa: F401  (importing audit registers its ORM listener)
    security.init_app(app)

    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "warning"
    from crm.i18n import lazy_gettext as _l

    login_manager.login_message = _l("Log ind for at se siden.")

    from crm.services.accounts import user_for_session

    # "id:session_token" (User.get_id): a rotated token ends the session and remember cookie.
    login_manager.user_loader(user_for_session)


def register_blueprints(app: Flask) -> None:
    for module_name in BLUEPRINT_MODULES:
        app.register_blueprint(import_module(module_name).bp)


def register_commands(app: Flask) -> None:
    from crm import cli

    cli.register(app)


def register_template_helpers(app: Flask) -> None:
    from crm import i18n, templating

    i18n.init_app(app)
    templating.init_app(app)


def configure_logging(app: Flask) -> None:
    level = getattr(logging, str(app.config.get("LOG_LEVEL", "INFO")).upper(), logging.INFO)
    app.logger.setLevel(level)
