"""Production as the README says it: real processes on PostgreSQL and Redis (issue 13, items 1 and 2).

The commands are not copied here: ``readme_production_block()`` reads the block that follows
``<!-- production-commands`` in README.md and runs its lines with bash, in order. So if the
README's commands change, this test runs the changed ones. What the test must choose itself:

- the values of the exported settings (a throw-away PostgreSQL database, a fresh random
  ``SECRET_KEY``, a temporary upload folder); the README's Redis URI and ``CRM_CONFIG`` are used as
  written. The test fails when the README exports a setting it does not know about;
- the port (the README's ``127.0.0.1:8000`` becomes a free port) and the first admin's password;
- three documented settings for running on a shared test machine: ``RATELIMIT_KEY_PREFIX`` (its own
  keys in the machine's Redis), ``SCHEDULER_LOCK_RETRY_SECONDS`` (take over in a second, not 30) and
  ``PROXY_FIX=1``: production runs behind a reverse proxy (README), and the test's HTTP clients play
  that proxy by sending ``X-Forwarded-For``/``X-Forwarded-Proto``, so each check below counts as its
  own client address. Chromium sends no such header and is seen as 127.0.0.1.

Secure cookies over plain http: Chromium treats http://127.0.0.1 as a secure context and so
stores and sends ``Secure`` cookies there; the sign-in below proves it (without the session cookie
the CSRF check would refuse the form). ``requests`` does not, so the HTTP checks keep cookies
themselves (``Visitor``).

Everything started here runs in its own process group, which is stopped at the end.
"""
import os
import re
import secrets
import signal
import subprocess  # nosec B404  (the test starts the README's commands)
import time
import uuid
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import urlsplit

import pyotp
import pytest
import requests

from bench.common import free_port
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.conftest import _pg_state, postgres_base_url, throwaway_postgres_database

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKER = "<!-- production-commands"
README_BIND = "127.0.0.1:8000"
# The settings the README's block exports, and what the test sets each to (None: as written).
EXPORTED = {"CRM_CONFIG", "DATABASE_URL", "SECRET_KEY", "RATELIMIT_STORAGE_URI", "UPLOAD_FOLDER"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# One deployment per run: under `make test` (pytest-xdist, --dist loadgroup) these tests share a worker.
pytestmark = pytest.mark.xdist_group("deployment")


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must run the deployment tests: {why}")
    pytest.skip(why)


def readme_production_block() -> list[str]:
    """The non-empty lines of the ```sh block right after the README's production-commands marker."""
    text = README.read_text(encoding="utf-8")
    assert MARKER in text, "README.md lost its production-commands block"
    after = text[text.index(MARKER):]
    match = re.search(r"```sh\n(.*?)```", after, re.S)
    assert match, "no ```sh block after the production-commands marker"
    return [line.strip() for line in match.group(1).splitlines() if line.strip()]


def _split(block: list[str]) -> tuple[dict[str, str], list[str], str, str]:
    """(exported settings, one-shot commands, the web command, the scheduler command)."""
    exports, once, web, scheduler = {}, [], None, None
    for line in block:
        if line.startswith("export "):
            for name, value in re.findall(r"([A-Z_]+)=(\S*)", line.split("#", 1)[0]):
                exports[name] = value
        elif "gunicorn" in line:
            web = line
        elif re.search(r"\bscheduler\b", line.split("#", 1)[0]):
            scheduler = line
        else:
            once.append(line)
    assert web and scheduler, "the README must start both the web process and the scheduler"
    return exports, once, web, scheduler


def config_settings() -> set[str]:
    """The environment variables config.py reads."""
    source = (ROOT / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r'(?:environ\.get|_env_bool)\("([A-Z_]+)"', source))


class Deployment:
    """The README's processes on one throw-away database; every process in its own group."""

    def __init__(self, database_url: str, work: Path):
        self.block = readme_production_block()
        exports, self.once, self.web_line, self.scheduler_line = _split(self.block)
        assert set(exports) == EXPORTED, (
            f"the README exports {sorted(exports)}; teach this test the new setting(s)")
        assert exports["CRM_CONFIG"] == "production"
        assert README_BIND in self.web_line and "-w 2" in self.web_line
        self.work = work
        self.uploads = work / "uploads"
        self.env = {
            # Nothing from the caller's shell that would change the app (LOGIN_RATE_LIMIT=…, FLASK_…).
            **{k: v for k, v in os.environ.items() if k not in config_settings() and not k.startswith("FLASK_")},
            "CRM_CONFIG": exports["CRM_CONFIG"],
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_hex(32),
            "RATELIMIT_STORAGE_URI": exports["RATELIMIT_STORAGE_URI"],
            "UPLOAD_FOLDER": str(self.uploads),
            "RATELIMIT_KEY_PREFIX": f"crm-test-{uuid.uuid4().hex[:12]}",
            "SCHEDULER_LOCK_RETRY_SECONDS": "0.5",
            "PROXY_FIX": "1",
        }
        self.processes: list[subprocess.Popen] = []
        self.admin_email = ""
        self.password = "Kaffe-med-kanel-" + secrets.token_hex(6)
        # Production requires a second factor for admins: the first sign-in enrols (and keeps the
        # recovery codes here, one for each later sign-in, so no code's time step is needed twice).
        self.admin_recovery_codes: list[str] = []

    # --- one-shot commands -------------------------------------------------------------------

    def run_once(self, line: str, stdin: str = "") -> str:
        result = subprocess.run(["bash", "-c", line], cwd=ROOT, env=self.env, input=stdin,  # nosec B603 B607
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def set_up(self) -> None:
        """db upgrade, seed, the first admin: every one-shot line of the README, in order."""
        for line in self.once:
            if "user create" in line:
                self.admin_email = re.search(r"user create (\S+)", line).group(1)
                self.run_once(line, stdin=self.password + "\n")
            else:
                self.run_once(line)
        assert self.admin_email, "the README must create the first admin"

    def create_user(self, email: str) -> None:
        """Another user (an ambassador), written straight into the database: quicker than another
        CLI process, and not part of what the README asks an operator to do."""
        from crm import create_app
        from crm.extensions import db
        from crm.models import User
        from tests.conftest import _config_for

        app = create_app(_config_for(self.env["DATABASE_URL"]))
        with app.app_context():
            user = User(email=email, name="", role="ambassador", region_code=1084)
            user.set_password(self.password)
            db.session.add(user)
            db.session.commit()
            db.session.remove()
            db.engine.dispose()

    # --- long-running processes --------------------------------------------------------------

    def _start(self, line: str, log_name: str) -> subprocess.Popen:
        log = open(self.work / log_name, "w")  # noqa: SIM115  (closed with the process)
        process = subprocess.Popen(["bash", "-c", line], cwd=ROOT, env=self.env, stdout=log,  # nosec B603 B607
                                   stderr=subprocess.STDOUT, start_new_session=True)
        process.log_path = self.work / log_name
        process.log_file = log
        self.processes.append(process)
        return process

    def start_web(self, name: str) -> tuple[subprocess.Popen, str]:
        """The README's gunicorn line on a free port: (process, base URL); see ``wait_healthy``."""
        port = free_port()
        process = self._start(self.web_line.replace(README_BIND, f"127.0.0.1:{port}"), f"web-{name}.log")
        return process, f"http://127.0.0.1:{port}"

    @staticmethod
    def wait_healthy(process: subprocess.Popen, base: str) -> str:
        """``base`` once its /healthz answers 200 (the database is reachable)."""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited:\n{process.log_path.read_text()}")
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    return base
            except requests.RequestException:  # not listening yet, or a worker still booting
                pass
            time.sleep(0.2)
        pytest.fail(f"gunicorn did not answer /healthz:\n{process.log_path.read_text()}")

    def start_scheduler(self, name: str) -> subprocess.Popen:
        return self._start(self.scheduler_line, f"scheduler-{name}.log")

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        """``sig`` to exactly this process's group, and wait for it."""
        self._signal(process, sig)
        self._reap(process)

    def stop_all(self) -> None:
        """At the end: SIGINT (gunicorn and the scheduler both take it as "stop now") to every
        group at once, then wait for each."""
        for process in self.processes:
            self._signal(process, signal.SIGINT)
        for process in self.processes:
            self._reap(process)

    @staticmethod
    def _signal(process: subprocess.Popen, sig: int) -> None:
        if process.poll() is None:
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass

    @staticmethod
    def _reap(process: subprocess.Popen) -> None:
        """Wait for the process; SIGKILL its group (gunicorn's workers too) if it lingers."""
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        process.log_file.close()


def wait_for_output(process: subprocess.Popen, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = process.log_path.read_text()
        if text in output:
            return output
        if process.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(f"expected {text!r} from {process.args}:\n{process.log_path.read_text()}")


@contextmanager
def _deployment(tmp_path_factory) -> Iterator[Deployment]:
    base = postgres_base_url()
    if base is None:
        _unavailable(f"PostgreSQL not reachable: {_pg_state.get('why', '')}")
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001  (any failure means: no Redis here)
        _unavailable(f"Redis not reachable on 127.0.0.1:6379: {exc}")
    with throwaway_postgres_database(base) as url:
        deployment = Deployment(url, tmp_path_factory.mktemp("deployment"))
        try:
            deployment.set_up()
            yield deployment
        finally:
            deployment.stop_all()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    """The README's production block run once: database, admin, web servers A and B, one scheduler."""
    with _deployment(tmp_path_factory) as running:
        running.create_user("spaerret@region.dk")
        running.create_user("logget.ud@region.dk")
        # Server B is the same README line on another port; both boot at once to save time.
        (web_a, running.web_a), (web_b, running.web_b) = running.start_web("a"), running.start_web("b")
        running.scheduler_1 = running.start_scheduler("1")
        running.wait_healthy(web_a, running.web_a)
        running.wait_healthy(web_b, running.web_b)
        wait_for_output(running.scheduler_1, "Scheduler lock taken")
        yield running


# --------------------------------------------------------------------------------------------
# 1. The README's production start, signed in through Chromium


@pytest.mark.browser
def test_production_starts_as_the_readme_says_and_signs_in_through_chromium(deployment):
    require_chromium()
    from playwright.sync_api import sync_playwright

    base = deployment.web_a
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(locale="da-DK")
            page = context.new_page()
            login = page.goto(f"{base}/login")
            assert login.status == 200
            _assert_security_headers(login.headers, signed_in=False)
            page.get_by_label("E-mail").fill(deployment.admin_email)
            page.get_by_label("Adgangskode").fill(deployment.password)
            page.get_by_label("Husk mig").check()
            page.get_by_role("button", name="Log ind").click()
            page.wait_for_load_state("networkidle")
            if urlsplit(page.url).path == "/login/code":  # enrolled already (another test ran first)
                page.get_by_label("Kode").fill(deployment.admin_recovery_codes.pop())
                page.get_by_role("button", name="Bekræft").click()
            else:
                # Production: an admin must turn on the second factor before anything else.
                assert urlsplit(page.url).path == "/account/two-factor", page.content()[:2000]
                assert page.goto(f"{base}/kontakter/").url.endswith("/account/two-factor")
                secret = page.locator("[data-totp-secret]").inner_text().replace(" ", "")
                page.get_by_label("Kode fra appen").fill(pyotp.TOTP(secret).now())
                page.get_by_role("button", name="Slå totrinsbekræftelse til").click()
                page.wait_for_load_state("networkidle")
                deployment.admin_recovery_codes = page.locator("[data-recovery-codes] li").all_inner_texts()
                assert len(deployment.admin_recovery_codes) == 10
                page.get_by_role("link", name="Jeg har gemt koderne").click()
            page.wait_for_load_state("networkidle")
            assert page.get_by_role("button", name="Log ud").count() == 1

            cookies = {cookie["name"]: cookie for cookie in context.cookies()}
            assert {"session", "remember_token"} <= set(cookies)
            for name in ("session", "remember_token"):
                assert cookies[name]["secure"] and cookies[name]["httpOnly"], cookies[name]
                assert cookies[name]["sameSite"] == "Lax", cookies[name]

            contacts = page.goto(f"{base}/kontakter/")
            assert contacts.status == 200
            _assert_security_headers(contacts.headers, signed_in=True)
            admin = page.goto(f"{base}/admin/users")  # the admin from the README's command is an admin
            assert admin.status == 200
        finally:
            browser.close()

    # The separate scheduler process from the README runs and holds the scheduler lock.
    assert deployment.scheduler_1.poll() is None
    log = deployment.scheduler_1.log_path.read_text()
    assert "Scheduler lock taken: this process runs the jobs." in log and "Scheduled digest" in log


def _assert_security_headers(headers: dict, signed_in: bool) -> None:
    csp = headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"):
        assert directive in csp, csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert ("no-store" in headers.get("cache-control", "")) is signed_in


# --------------------------------------------------------------------------------------------
# 2. Two web servers and two schedulers on one database


class Visitor:
    """An HTTP client with its own address behind the (simulated) proxy, keeping its own cookies:
    ``requests`` will not send ``Secure`` cookies over http, a browser on 127.0.0.1 does."""

    def __init__(self, address: str, cookies: Optional[dict] = None):
        self.address = address
        self.cookies: dict[str, str] = dict(cookies or {})

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        # As a browser behind the TLS proxy: https as the scheme, and the Referer that Flask-WTF's
        # CSRF check insists on for https requests (the app's Referrer-Policy is same-origin).
        headers = {"X-Forwarded-For": self.address, "X-Forwarded-Proto": "https",
                   "Referer": "https://" + url.split("://", 1)[1]}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        response = requests.request(method, url, headers=headers, allow_redirects=False, timeout=30, **kwargs)
        for header in response.raw.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                if morsel.value in ("", '""') or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, url: str) -> requests.Response:
        return self.request("GET", url)

    def csrf(self, url: str) -> str:
        page = self.get(url)
        assert page.status_code == 200, (url, page.status_code)
        match = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert match, f"no CSRF token on {url}"
        return match.group(1)

    def sign_in(self, base: str, email: str, password: str, remember: bool = False) -> requests.Response:
        data = {"csrf_token": self.csrf(f"{base}/login"), "email": email, "password": password}
        if remember:
            data["remember"] = "y"
        return self.request("POST", f"{base}/login", data=data)


def _admin_signed_in(visitor: "Visitor", base: str, deployment: Deployment) -> bool:
    """The first admin's password and second factor: a recovery code once enrolled; else the
    enrolment production requires (the code computed here). True when the admin is signed in."""
    response = visitor.sign_in(base, deployment.admin_email, deployment.password)
    if _path(response) == "/login/code":
        return _signed_in(visitor.request("POST", f"{base}/login/code", data={
            "csrf_token": visitor.csrf(f"{base}/login/code"), "code": deployment.admin_recovery_codes.pop()}))
    assert _path(response) == "/account/two-factor", (response.status_code, response.headers)
    page = visitor.get(f"{base}/account/two-factor")
    secret = re.search(r"data-totp-secret>([A-Z2-7 ]+)<", page.text).group(1).replace(" ", "")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    enrolled = visitor.request("POST", f"{base}/account/two-factor",
                               data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    deployment.admin_recovery_codes = re.findall(r"<li class=\"col\">([a-z2-9-]{11})</li>", enrolled.text)
    assert len(deployment.admin_recovery_codes) == 10, enrolled.text[:2000]
    return visitor.get(f"{base}/").status_code == 200


def _path(response: requests.Response) -> str:
    return urlsplit(response.headers.get("Location", "")).path


def _signed_in(response: requests.Response) -> bool:
    return response.status_code == 302 and _path(response) == "/"


def _goes_to_login(response: requests.Response) -> bool:
    return response.status_code == 302 and _path(response) == "/login"


@pytest.fixture
def second_server(deployment) -> str:
    """Web server B: the README's gunicorn line again, same database, uploads and Redis."""
    return deployment.web_b


def test_a_plan_pdf_uploaded_through_one_server_downloads_through_the_other(deployment, second_server):
    a, b = deployment.web_a, second_server
    admin = Visitor("198.51.100.60")
    assert _admin_signed_in(admin, a, deployment)
    created = admin.request("POST", f"{a}/planer/ny", data={
        "csrf_token": admin.csrf(f"{a}/planer/ny"), "title": "Samarbejdsplan Københavns Kommune",
        "region": "1084", "municipalities": ["101"],
    }, files={"document": ("plan.pdf", PDF, "application/pdf")})
    assert created.status_code == 302, created.text[:3000]
    plan_path = _path(created)
    assert re.fullmatch(r"/planer/\d+", plan_path)
    # The same session cookie works on B (one SECRET_KEY), and B finds the file in the shared folder.
    download = admin.get(f"{b}{plan_path}/dokument")
    assert download.status_code == 200 and download.content == PDF
    assert "no-store" in download.headers["Cache-Control"]


def test_a_change_through_one_server_shows_at_once_on_the_others_cached_pages(deployment, second_server):
    """The page cache as deployed (on by default, one store per worker process): B's workers keep
    the municipality page and the dashboard; a note saved through A renews the token in PostgreSQL,
    so every later view on B shows it."""
    a, b = deployment.web_a, second_server
    admin = Visitor("198.51.100.61")
    assert _admin_signed_in(admin, a, deployment)
    for _ in range(4):  # enough for each of B's workers to keep both pages
        assert admin.get(f"{b}/kommuner/101").status_code == 200
        assert admin.get(f"{b}/overblik/").status_code == 200
    text = f"Notat gemt gennem server A {uuid.uuid4().hex[:8]}"
    saved = admin.request("POST", f"{a}/kommuner/101/notater", data={
        "note-csrf_token": admin.csrf(f"{a}/kommuner/101"), "note-note_date": "02-03-2026", "note-text": text})
    assert saved.status_code == 302, saved.text[:3000]
    for _ in range(4):
        assert text in admin.get(f"{b}/kommuner/101").text


def test_the_sign_in_limit_is_counted_once_across_servers(deployment, second_server):
    """LOGIN_RATE_LIMIT (10 a minute per address) is kept in Redis: 10 tries spread over A and B
    use it up; counted per worker (memory://) four workers would have let 40 through."""
    visitor = Visitor("198.51.100.62")
    servers = [deployment.web_a, second_server]
    token = visitor.csrf(f"{servers[0]}/login")
    codes = [visitor.request("POST", f"{servers[n % 2]}/login",
                             data={"csrf_token": token, "email": f"ukendt{n}@region.dk", "password": "forkert"}
                             ).status_code for n in range(11)]
    assert codes == [200] * 10 + [429]


def test_a_locked_account_is_locked_on_the_other_server(deployment, second_server):
    """[lockout: today 5 wrong passwords lock the account; auth's per-account-and-source back-off
    must keep this black-box result: right after the failures, the right password does not sign in]"""
    a, b = deployment.web_a, second_server
    attacker = Visitor("198.51.100.61")
    token = attacker.csrf(f"{a}/login")
    for _ in range(5):
        response = attacker.request("POST", f"{a}/login", data={
            "csrf_token": token, "email": "spaerret@region.dk", "password": "forkert-forkert"})
        assert response.status_code == 200
    again = Visitor("198.51.100.61")
    assert not _signed_in(again.sign_in(b, "spaerret@region.dk", deployment.password))
    assert _goes_to_login(again.get(f"{b}/kontakter/"))


def test_a_session_ended_on_one_server_is_ended_on_the_other(deployment, second_server):
    """[depends on the auth branch's session revocation] Sign in on A, copy the cookies, log out on
    A: the copied session cookie and the remember cookie must no longer open anything on B."""
    a, b = deployment.web_a, second_server
    user = Visitor("198.51.100.63")
    assert _signed_in(user.sign_in(a, "logget.ud@region.dk", deployment.password, remember=True))
    copied = dict(user.cookies)
    assert {"session", "remember_token"} <= set(copied)
    assert Visitor("198.51.100.64", copied).get(f"{b}/kontakter/").status_code == 200  # works on B
    logout = user.request("POST", f"{a}/logout", data={"csrf_token": user.csrf(f"{a}/kontakter/")})
    assert _goes_to_login(logout)
    needs = "after logout on A, {} still opens /kontakter/ on B (session revocation: the auth branch)"
    assert _goes_to_login(Visitor("198.51.100.64", copied).get(f"{b}/kontakter/")), needs.format("the session cookie")
    remembered = {"remember_token": copied["remember_token"]}
    assert _goes_to_login(Visitor("198.51.100.64", remembered).get(f"{b}/kontakter/")), needs.format(
        "the remember cookie")


def test_only_one_scheduler_runs_jobs_and_the_other_takes_over(deployment):
    first = deployment.scheduler_1
    second = deployment.start_scheduler("2")
    waiting = wait_for_output(second, "standing by")
    assert "Scheduled digest" not in waiting and "lock taken" not in waiting
    assert first.poll() is None
    deployment.stop(first)  # a deploy or a crash: the lock goes with the process's connection
    assert "Scheduler stopped." in first.log_path.read_text()
    took_over = wait_for_output(second, "Scheduler lock taken", timeout=20)
    assert "Scheduled digest" in took_over
