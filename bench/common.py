"""Shared by ``bench.run`` and ``bench.load``: a fresh database, a gunicorn server on loopback,
and a tiny HTTP client that signs in through the real form (with its CSRF token).

Everything binds to 127.0.0.1 only and stops by itself.
"""
import http.client
import os
import platform
import re
import socket
import subprocess  # nosec B404
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Union
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def machine() -> str:
    """'2 × AMD EPYC, Python 3.11.7, Linux 6.1' for the results file."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} × {model}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


Database = Union[Path, str]


def database_url(database: Database) -> str:
    """A SQLite file's path as a URL; a URL (e.g. ``postgresql+psycopg://…``) as it is."""
    return f"sqlite:///{database}" if isinstance(database, Path) else database


def dialect_of(database: Database) -> str:
    """'sqlite' or 'postgresql'."""
    return database_url(database).split(":", 1)[0].split("+", 1)[0]


def build_database(database: Database, n: int, extra_ambassadors: int = 0) -> dict:
    """A fresh, empty database (a SQLite file, or a PostgreSQL database given by URL) filled with
    schema, reference data, demo users and ``demo --scale n``, then analysed.

    ``create_all`` rather than migrations (the bench measures pages, not upgrades). Returns timings:
    the demo loader alone and the whole build (schema, loader, ANALYZE).
    """
    from config import TestingConfig
    from crm import create_app
    from crm.demo import load_demo
    from crm.extensions import db

    config = type("BenchBuild", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": database_url(database),
                                                   "PASSWORD_HASH_METHOD": "pbkdf2:sha256:100000"})
    app = create_app(config)
    started = time.perf_counter()
    with app.app_context(), app.test_request_context():
        db.create_all()
        loading = time.perf_counter()
        load_demo(scale=n)
        seconds = time.perf_counter() - loading
        if extra_ambassadors:
            _add_ambassadors(extra_ambassadors)
        db.session.commit()
        # PostgreSQL: VACUUM ANALYZE sets the visibility map too, so index-only scans are possible
        # at once, as on a database autovacuum has visited (it cannot run in a transaction).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(db.text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"))
        db.session.remove()
        db.engine.dispose()
    return {"scale_seconds": seconds, "build_seconds": time.perf_counter() - started}


LOAD_PASSWORD = "bench-load-password"


def _add_ambassadors(count: int) -> None:
    """``count`` extra ambassadors load1@bench.dk… spread over the five regions."""
    from crm.extensions import db
    from crm.models import User

    for i in range(count):
        user = User(email=f"load{i + 1}@bench.dk", name=f"Belastning {i + 1}", role="ambassador",
                    region_code=1081 + i % 5)
        user.set_password(LOAD_PASSWORD)
        db.session.add(user)
    db.session.commit()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(database: Database, workers: int = 2, upload_dir: Optional[Path] = None,
             root: Path = ROOT, settings: Optional[dict[str, str]] = None) -> Iterator[int]:
    """gunicorn on 127.0.0.1 with ``workers`` sync workers serving the checkout at ``root`` on
    ``database`` (a SQLite file or a PostgreSQL URL, which the app reaches through psycopg as in
    production), with ``settings`` added to its environment; yields the port, stops it afterwards."""
    port = free_port()
    if upload_dir is None:
        upload_dir = database.parent / "uploads" if isinstance(database, Path) else Path(tempfile.mkdtemp())
    env = dict(os.environ, CRM_CONFIG="development", DATABASE_URL=database_url(database),
               SECRET_KEY="bench-" + "x" * 40, LOG_LEVEL="WARNING",
               UPLOAD_FOLDER=str(upload_dir),
               # Many simulated users sign in from one address: lift the per-address limit here only.
               LOGIN_RATE_LIMIT="100000 per minute", **(settings or {}))
    process = subprocess.Popen(  # nosec B603
        [GUNICORN, "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "--timeout", "120", "wsgi:app"], cwd=root, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if Client(port).get("/healthz").status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


class Response:
    """Status, headers and body of one response."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Client:
    """A cookie-keeping HTTP/1.1 client for one simulated user (gunicorn's sync workers close
    each connection, so every request opens a new one, as a browser behind a proxy would)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: Optional[dict] = None) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            data = raw.read()
            for name, value in raw.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";", 1)[0]
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: dict) -> Response:
        return self.request("POST", path, form)

    def csrf_token(self, path: str) -> str:
        match = CSRF_RE.search(self.get(path).text)
        if not match:
            raise RuntimeError(f"no CSRF token on {path}")
        return match.group(1) or match.group(2)

    def login(self, email: str, password: str) -> None:
        token = self.csrf_token("/login")
        response = self.post("/login", {"csrf_token": token, "email": email, "password": password})
        if response.status != 302:
            raise RuntimeError(f"sign-in as {email} failed: HTTP {response.status}")
