"""The key that signs sessions, remember cookies and CSRF tokens.

No configuration runs with a key written in the code (only ``TestingConfig`` has a fixed one).
Production takes ``SECRET_KEY`` from the environment (``ProductionConfig.validate`` refuses a
missing or weak one). Development uses ``SECRET_KEY`` when set, otherwise a random key created on
first start and kept in ``instance/secret_key`` (mode 0600), so sessions survive a restart.
"""
import os
import secrets
import time
from pathlib import Path

from flask import Flask

KEY_FILE_NAME = "secret_key"


def load_or_create_secret_key(path: Path) -> str:
    """The key stored in ``path``; created (random, mode 0600) when the file does not exist yet.

    The new key is written to a private temporary file and linked into place, so two processes
    starting at once (gunicorn workers) end up with the same key and never read a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            try:
                os.link(temporary, path)  # atomic; fails when another process was first
            except FileExistsError:
                pass
        finally:
            temporary.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # a copied or restored file: keep it readable by its owner only
    for _attempt in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it and start again to create a new key")


def configure_secret_key(app: Flask) -> None:
    """Give ``app`` its key: the config class's (testing), else SECRET_KEY, else the instance file."""
    if app.config.get("SECRET_KEY"):
        return
    from_env = os.environ.get("SECRET_KEY", "").strip()
    if from_env:
        app.config["SECRET_KEY"] = from_env
        return
    app.config["SECRET_KEY"] = load_or_create_secret_key(Path(app.instance_path) / KEY_FILE_NAME)
