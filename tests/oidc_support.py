"""A real OpenID Provider for the sign-in tests: tests/oidc_provider/server.js (panva's
oidc-provider, installed by `npm ci` into that folder when its node_modules is missing).

Without Node.js the provider tests are skipped with a plain message, except under CI, where they
fail. ``ProviderProcess`` starts the script on a free 127.0.0.1 port for a CRM whose live server
will listen on ``crm_port`` (the provider must know the CRM's redirect URI before it starts).
"""
import fcntl
import json
import os
import shutil
import socket
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from werkzeug.serving import make_server

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_SECRET = "test-secret"
# The provider's accounts (its login page takes the subject as login name, any password).
ACCOUNTS = {
    "sub-anna": {"email": "anna@test.dk", "email_verified": True, "name": "Anna Ambassadør"},
    "sub-anna-2": {"email": "anna@test.dk", "email_verified": True, "name": "Anna (ny konto)"},
    "sub-ib": {"email": "ib@test.dk", "email_verified": True, "name": "Ib Inaktiv"},
    "sub-unverified": {"email": "ulla@test.dk", "email_verified": False, "name": "Ulla"},
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_node() -> None:
    """Skip (outside CI) or fail (in CI) when Node.js and npm are missing; install the provider's
    packages when they are not there yet (one worker at a time)."""
    if not (shutil.which("node") and shutil.which("npm")):
        if _in_ci():
            pytest.fail("CI must run the OpenID Connect provider tests, but Node.js/npm is missing")
        pytest.skip("Node.js is not installed: the OpenID Connect provider tests are skipped")
    with open(PROVIDER_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline", "--cache", str(PROVIDER_DIR / ".npm-cache")],
                cwd=PROVIDER_DIR, check=True, stdout=subprocess.DEVNULL, timeout=300,
            )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProviderProcess:
    """The running provider: ``issuer`` and the CRM's ``crm_base_url`` it accepts redirects to."""

    def __init__(self, crm_port: int):
        self.crm_port = crm_port
        self.crm_base_url = f"http://127.0.0.1:{crm_port}"
        env = {**os.environ, "PORT": "0", "CRM_BASE_URL": self.crm_base_url, "ACCOUNTS": json.dumps(ACCOUNTS)}
        self.process = subprocess.Popen(
            ["node", "server.js"], cwd=PROVIDER_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the OpenID provider did not start: " + self.process.stderr.read())
        self.issuer = json.loads(line)["issuer"]
        # Keep reading its warnings so a full pipe never blocks it.
        threading.Thread(target=self.process.stderr.read, daemon=True).start()

    def settings(self, client_id: str = "crm", **extra) -> dict:
        """One OIDC_PROVIDERS entry for the CRM, named "test", using ``client_id``."""
        return {"name": "test", "display_name": "Test-IdP", "issuer": self.issuer, "client_id": client_id,
                "client_secret": CLIENT_SECRET, **extra}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextmanager
def live_server_on(app, port: int) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1:``port`` (the port the provider redirects back to)."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sign_in_at_provider(page, subject: str) -> None:
    """The provider's own pages (oidc-provider's development interactions): login, then consent."""
    page.locator("input[name=login]").fill(subject)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()
