"""Configuration classes, selected by name in ``crm.create_app``.

Every setting that differs between machines comes from the environment; the classes only hold
safe defaults. ``DATABASE_URL`` selects the database in every configuration.
"""
import json
import os
from datetime import date
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_json(name: str, default):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return json.loads(value)
    except ValueError as exc:
        raise RuntimeError(f"{name} is not valid JSON: {exc}") from exc


def _database_url(default_file: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the driver "postgres://"; SQLAlchemy wants psycopg 3 spelled out.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    return f"sqlite:///{INSTANCE_DIR / default_file}"


class Config:
    """Settings shared by every environment."""

    # Never a key written here: create_app takes SECRET_KEY from the environment or, outside
    # production, a random key kept in instance/secret_key (crm/secret_key.py).
    SECRET_KEY = None
    SQLALCHEMY_DATABASE_URI = _database_url("crm.sqlite")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # PostgreSQL only: seconds to wait for a connection before answering 503 (crm/database.py).
    DATABASE_CONNECT_TIMEOUT = int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5"))
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER", str(INSTANCE_DIR / "uploads"))
    MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)))
    # Slightly above the largest upload so Werkzeug's 413 does not pre-empt our clear form error.
    MAX_CONTENT_LENGTH = MAX_UPLOAD_BYTES + 1024 * 1024

    BABEL_DEFAULT_LOCALE = "da"
    BABEL_DEFAULT_TIMEZONE = "Europe/Copenhagen"
    LANGUAGES = {"da": "Dansk", "en": "English"}
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "crm" / "translations")
    BOOTSTRAP_SERVE_LOCAL = True

    # The main pages rendered once per change of data, user, language and date (crm/views/page_cache.py).
    # SimpleCache in each worker process, never shared: see that module for why.
    PAGE_CACHE = _env_bool("PAGE_CACHE", True)
    CACHE_TYPE = "SimpleCache"
    CACHE_THRESHOLD = int(os.environ.get("PAGE_CACHE_PAGES", "300"))  # pages kept per worker
    CACHE_DEFAULT_TIMEOUT = 3600

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    # Sign-in rate limit per client IP (Flask-Limiter). In memory by default, which counts per
    # worker process; point RATELIMIT_STORAGE_URI at e.g. redis://host:6379 to share the count.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Keys in that storage start with this; several installations can share one Redis.
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "ips-crm")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
    # Back-off per (e-mail, client address) after wrong passwords, kept in the database so every
    # worker and app server applies it (crm/services/signin.py): after SIGNIN_FREE_FAILURES
    # failures, wait SIGNIN_BACKOFF_SECONDS, doubling per failure up to SIGNIN_BACKOFF_MAX_SECONDS.
    SIGNIN_FREE_FAILURES = int(os.environ.get("SIGNIN_FREE_FAILURES", "4"))
    SIGNIN_BACKOFF_SECONDS = int(os.environ.get("SIGNIN_BACKOFF_SECONDS", "30"))
    SIGNIN_BACKOFF_MAX_SECONDS = int(os.environ.get("SIGNIN_BACKOFF_MAX_SECONDS", "900"))

    # Sign-in with the organisation's own identity provider (OpenID Connect; README: "Sign-in
    # with Entra ID or NemLog-in"). A JSON list, one object per provider:
    #   {"name": "entra", "display_name": "Region Hovedstaden (Entra ID)",
    #    "issuer": "https://login.microsoftonline.com/<tenant-id>/v2.0",
    #    "client_id": "…", "client_secret": "…",
    #    "scopes": "openid email profile",            (optional, this is the default)
    #    "discovery_url": "…/.well-known/openid-configuration",   (optional, from issuer)
    #    "trust_unverified_email": false,              (optional, see crm/services/oidc.py)
    #    "email_claim": "email"}                       (optional: the claim with the work e-mail)
    # Checked at start (crm/services/oidc.py configured_providers); empty: no such buttons.
    OIDC_PROVIDERS = _env_json("OIDC_PROVIDERS", [])
    # Clock skew accepted on the ID token's exp/iat, in seconds (at most 300).
    OIDC_LEEWAY_SECONDS = int(os.environ.get("OIDC_LEEWAY_SECONDS", "60"))
    # Seconds to wait for the provider's discovery, keys and token endpoint.
    OIDC_HTTP_TIMEOUT = float(os.environ.get("OIDC_HTTP_TIMEOUT", "10"))
    # False: the e-mail and password form is gone and password sign-ins are refused (only the
    # providers above sign people in).
    PASSWORD_LOGIN_ENABLED = _env_bool("PASSWORD_LOGIN_ENABLED", True)

    # Programme targets: settings, never constants in templates.
    COVERAGE_TARGET_FRACTION = float(os.environ.get("COVERAGE_TARGET_FRACTION", str(2 / 3)))
    PROGRAMME_END = date.fromisoformat(os.environ.get("PROGRAMME_END", "2027-12-31"))
    OUTCOME_TARGET_CURRENT_PCT = float(os.environ.get("OUTCOME_TARGET_CURRENT_PCT", "42"))
    OUTCOME_TARGET_CUMULATIVE_PCT = float(os.environ.get("OUTCOME_TARGET_CUMULATIVE_PCT", "59.5"))

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "587"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", True)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "ips-crm@localhost")

    PASSWORD_HASH_METHOD = "scrypt"
    # A second factor (TOTP, crm/services/second_factor.py) for password sign-ins: required for
    # admins (ProductionConfig always), for everyone with TOTP_REQUIRED_FOR_ALL, optional otherwise.
    # Sign-ins through the organisation's identity provider (OpenID Connect) are not asked for it.
    TOTP_REQUIRED_FOR_ADMINS = _env_bool("TOTP_REQUIRED_FOR_ADMINS", True)
    TOTP_REQUIRED_FOR_ALL = _env_bool("TOTP_REQUIRED_FOR_ALL", False)
    # The name authenticator apps show beside the account.
    TOTP_ISSUER = os.environ.get("TOTP_ISSUER", "IPS CRM")
    # Minutes between a correct password and the code before the password must be typed again.
    TOTP_PENDING_MINUTES = int(os.environ.get("TOTP_PENDING_MINUTES", "5"))
    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto (Werkzeug's ProxyFix).
    # 0 (default) trusts no such header, so clients cannot fake their address or https.
    PROXY_FIX = int(os.environ.get("PROXY_FIX", "0"))
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    # Calendar feeds, e-mail and the scheduler (crm/scheduler.py, run as `flask --app wsgi scheduler`).
    # Links in feeds and e-mails; e.g. https://crm.example.dk (empty: the request's own host).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
    CALENDAR_FEED_PAST_DAYS = int(os.environ.get("CALENDAR_FEED_PAST_DAYS", "365"))
    CALENDAR_FIDELITY_DAYS = int(os.environ.get("CALENDAR_FIDELITY_DAYS", "365"))
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
    MAIL_TIMEOUT = int(os.environ.get("MAIL_TIMEOUT", "30"))
    MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", "5"))
    SCHEDULER_TIMEZONE = "Europe/Copenhagen"
    # A second scheduler process stands by and tries to take over this often (crm/scheduler_lock.py).
    SCHEDULER_LOCK_RETRY_SECONDS = float(os.environ.get("SCHEDULER_LOCK_RETRY_SECONDS", "30"))
    SCHEDULER_DIGEST_ENABLED = _env_bool("SCHEDULER_DIGEST_ENABLED", True)
    SCHEDULER_DIGEST_HOUR = int(os.environ.get("SCHEDULER_DIGEST_HOUR", "7"))
    SCHEDULER_DIGEST_MINUTE = int(os.environ.get("SCHEDULER_DIGEST_MINUTE", "0"))
    DIGEST_NEXT_STEP_DAYS = int(os.environ.get("DIGEST_NEXT_STEP_DAYS", "7"))
    DIGEST_FIDELITY_DAYS = int(os.environ.get("DIGEST_FIDELITY_DAYS", "60"))
    DIGEST_QUIET_MONTHS = int(os.environ.get("DIGEST_QUIET_MONTHS", "6"))
    # The half-year reminder runs daily in June and December from this day until it has been sent.
    SCHEDULER_HALFYEAR_ENABLED = _env_bool("SCHEDULER_HALFYEAR_ENABLED", True)
    SCHEDULER_HALFYEAR_DAY = int(os.environ.get("SCHEDULER_HALFYEAR_DAY", "1"))
    SCHEDULER_HALFYEAR_HOUR = int(os.environ.get("SCHEDULER_HALFYEAR_HOUR", "8"))
    HALFYEAR_EXTRA_RECIPIENTS = [
        e.strip() for e in os.environ.get("HALFYEAR_EXTRA_RECIPIENTS", "").split(",") if e.strip()
    ]
    # Failed e-mails are retried this often (minutes) until MAIL_MAX_ATTEMPTS.
    SCHEDULER_MAIL_RETRY_ENABLED = _env_bool("SCHEDULER_MAIL_RETRY_ENABLED", True)
    SCHEDULER_MAIL_RETRY_MINUTES = int(os.environ.get("SCHEDULER_MAIL_RETRY_MINUTES", "15"))
    # Uploads waiting for their confirmation step are removed after this many minutes: at start,
    # and by the scheduler every SCHEDULER_PENDING_CLEANUP_MINUTES (crm/services/pending_uploads.py).
    PENDING_UPLOAD_MAX_AGE_MINUTES = int(os.environ.get("PENDING_UPLOAD_MAX_AGE_MINUTES", "60"))
    SCHEDULER_PENDING_CLEANUP_ENABLED = _env_bool("SCHEDULER_PENDING_CLEANUP_ENABLED", True)
    SCHEDULER_PENDING_CLEANUP_MINUTES = int(os.environ.get("SCHEDULER_PENDING_CLEANUP_MINUTES", "15"))
    # Saved reports that send themselves (crm/services/saved_reports.py): the scheduler looks for
    # due ones this often (minutes); each due time is produced and sent once.
    SCHEDULER_SAVED_REPORTS_ENABLED = _env_bool("SCHEDULER_SAVED_REPORTS_ENABLED", True)
    SCHEDULER_SAVED_REPORTS_MINUTES = int(os.environ.get("SCHEDULER_SAVED_REPORTS_MINUTES", "15"))


class DevelopmentConfig(Config):
    """Local development: the SQLite file under instance/ unless DATABASE_URL says otherwise."""

    DEBUG = False


class TestingConfig(Config):
    """The test suite: fast password hashing, an in-memory database unless told otherwise."""

    TESTING = True
    SECRET_KEY = "testing-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    # Tests (and the browser tests' demo admin) sign admins in without a second factor; the tests
    # of the second factor switch this on. Production always requires it (ProductionConfig).
    TOTP_REQUIRED_FOR_ADMINS = False
    # Tests change settings and the clock between requests; tests/test_page_cache.py (and the
    # tests that start the production configuration) run with the page cache on.
    PAGE_CACHE = False


class ProductionConfig(Config):
    """Production: PostgreSQL in DATABASE_URL, a real secret, secure cookies, shared limiter."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    # While Redis is unreachable, count sign-ins per worker instead of failing every sign-in.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    # Admins always need a second factor for a password sign-in here, whatever the environment says.
    TOTP_REQUIRED_FOR_ADMINS = True

    @classmethod
    def validate(cls) -> None:
        """Fail fast: a real SECRET_KEY from the environment and limiter state shared by workers."""
        secret = os.environ.get("SECRET_KEY", "").strip()
        # A random key of 32+ characters has many distinct ones; "x" * 40 or a word repeated has not.
        if len(secret) < 32 or len(set(secret)) < 10:
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production, e.g. "
                "python3 -c 'import secrets; print(secrets.token_hex(32))'"
            )
        if getattr(cls, "RATELIMIT_ENABLED", True) and cls.RATELIMIT_STORAGE_URI.startswith("memory://"):
            raise RuntimeError(
                "RATELIMIT_STORAGE_URI must point at storage every worker shares in production "
                "(e.g. redis://127.0.0.1:6379/0); memory:// counts sign-ins per worker process"
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
