"""Consistent backups of the database and the uploaded files, and their verified restore.

A backup is a directory::

    manifest.json     what was copied: time, database kind, row counts per table, sha256 of files
    database.sqlite   (SQLite) a copy made with SQLite's online backup API, or
    database.dump     (PostgreSQL) ``pg_dump --format=custom`` taken in one snapshot
    uploads/...       the files under UPLOAD_FOLDER

Both database copies are consistent while the app keeps running: SQLite's backup API copies a
single transaction's view of the file; on PostgreSQL the row counts are read in a transaction
whose snapshot ``pg_dump --snapshot`` then dumps, so manifest and dump describe the same moment.

``restore`` refuses a backup whose manifest does not verify (a missing, extra or altered file),
and checks the restored row counts against the manifest afterwards.
"""
import hashlib
import json
import os
import shutil
import sqlite3
# pg_dump/pg_restore run with a fixed argument list, never through a shell.
import subprocess  # nosec B404
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

from flask import current_app
from sqlalchemy import Connection, create_engine, func, inspect, select, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from crm.extensions import db

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
PG_DUMP_FILE = "database.dump"
UPLOADS_DIR = "uploads"
FORMAT_VERSION = 1
PG_TIMEOUT_SECONDS = 3600


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, for the command line."""


@dataclass
class BackupResult:
    """What a backup or restore did, for the command's summary."""

    directory: Path
    database_kind: str
    row_counts: dict[str, int]
    files: int


# --------------------------------------------------------------------------------------------
# Helpers


def sha256_of(path: Path) -> str:
    """The file's SHA-256 in hex, read in blocks (uploads may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _walk_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (sorted, so manifests are stable)."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def _table_names() -> list[str]:
    """The application's tables, parents first."""
    return [table.name for table in db.metadata.sorted_tables]


def _count_rows(conn: Connection, tables: list[str]) -> dict[str, int]:
    """Rows per table, read through ``conn`` (so inside its transaction/snapshot)."""
    existing = set(inspect(conn).get_table_names())
    return {
        name: conn.execute(select(func.count()).select_from(db.metadata.tables[name])).scalar_one()
        for name in tables
        if name in existing
    }


def _count_rows_sqlite_file(path: Path, tables: list[str]) -> dict[str, int]:
    """Rows per table in an SQLite file (the backup copy itself)."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _count_rows(conn, tables)
    finally:
        engine.dispose()


def _database_kind() -> str:
    name = db.engine.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {name}.")
    return name


def _sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise BackupError("The database is in memory; there is no file to back up.")
    return Path(database)


def _pg_environment(url: URL) -> dict[str, str]:
    """libpq settings for pg_dump/pg_restore; the password goes in the environment, not argv."""
    env = dict(os.environ)
    values = {"PGHOST": url.host, "PGPORT": url.port, "PGUSER": url.username, "PGPASSWORD": url.password,
              "PGDATABASE": url.database, "PGSSLMODE": url.query.get("sslmode")}
    env.update({key: str(value) for key, value in values.items() if value})
    return env


def _pg_tool(name: str) -> str:
    """The full path of pg_dump/pg_restore, or a clear error when it is not installed."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} was not found. Install the PostgreSQL client tools (Debian: apt-get install "
            f"postgresql-client) matching the server's major version."
        )
    return path


def _run(argv: list[str], env: dict[str, str]) -> None:
    """Run a PostgreSQL client tool; its error output becomes the BackupError."""
    result = subprocess.run(  # nosec B603
        argv, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_SECONDS, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed: {result.stderr.strip() or result.returncode}")


# --------------------------------------------------------------------------------------------
# Backup


def _backup_sqlite(dest: Path) -> dict[str, int]:
    """Copy the live SQLite file with the online backup API; count rows in the copy."""
    source = sqlite3.connect(_sqlite_path(), timeout=30)
    target = sqlite3.connect(dest / SQLITE_FILE)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return _count_rows_sqlite_file(dest / SQLITE_FILE, _table_names())


def _backup_postgres(dest: Path) -> dict[str, int]:
    """pg_dump of one exported snapshot, with the row counts read in that same snapshot."""
    pg_dump = _pg_tool("pg_dump")
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts = _count_rows(conn, _table_names())
            # The snapshot stays valid while this transaction is open: dump it now.
            _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  f"--file={dest / PG_DUMP_FILE}"], _pg_environment(db.engine.url))
    return counts


def _copy_uploads(upload_folder: Path, dest: Path) -> dict[str, dict[str, object]]:
    """Copy the uploaded files; returns relative path → {size, sha256} of each copy."""
    files: dict[str, dict[str, object]] = {}
    for path in _walk_files(upload_folder):
        relative = path.relative_to(upload_folder)
        target = dest / UPLOADS_DIR / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        files[f"{UPLOADS_DIR}/{relative.as_posix()}"] = {"size": target.stat().st_size, "sha256": sha256_of(target)}
    return files


def _alembic_revision() -> Optional[str]:
    """The migration the database is at (None for a schema built without Alembic)."""
    if "alembic_version" not in inspect(db.engine).get_table_names():
        return None
    return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()


def backup(dest_dir: Path) -> BackupResult:
    """Write a consistent backup of the database and uploads into the new directory ``dest_dir``."""
    dest_dir = Path(dest_dir)
    if dest_dir.exists() and any(dest_dir.iterdir()):
        raise BackupError(f"{dest_dir} exists and is not empty; choose a new directory.")
    kind = _database_kind()
    dest_dir.mkdir(parents=True, exist_ok=True)
    created_at = datetime.now(timezone.utc)
    counts = _backup_sqlite(dest_dir) if kind == "sqlite" else _backup_postgres(dest_dir)
    database_file = SQLITE_FILE if kind == "sqlite" else PG_DUMP_FILE
    files = {database_file: {"size": (dest_dir / database_file).stat().st_size,
                             "sha256": sha256_of(dest_dir / database_file)}}
    files.update(_copy_uploads(Path(current_app.config["UPLOAD_FOLDER"]), dest_dir))
    manifest = {
        "format": FORMAT_VERSION,
        "created_at": created_at.isoformat(timespec="seconds"),
        "database": {"kind": kind, "file": database_file, "alembic_revision": _alembic_revision()},
        "row_counts": counts,
        "files": files,
    }
    (dest_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return BackupResult(dest_dir, kind, counts, len(files) - 1)


# --------------------------------------------------------------------------------------------
# Verify and restore


def read_manifest(backup_dir: Path) -> dict:
    """The backup's manifest, checked against the files: raises BackupError on any mismatch."""
    backup_dir = Path(backup_dir)
    try:
        manifest = json.loads((backup_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{backup_dir} has no {MANIFEST}; it is not a backup.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{MANIFEST} is not valid JSON: {exc}") from None
    try:
        if manifest["format"] != FORMAT_VERSION:
            raise BackupError(f"Unknown backup format {manifest['format']!r}.")
        listed: dict[str, dict] = manifest["files"]
        database_file = manifest["database"]["file"]
        kind = manifest["database"]["kind"]
        manifest["row_counts"].items()
    except (KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{MANIFEST} is incomplete: {exc}") from None
    if database_file not in listed:
        raise BackupError("The manifest does not list the database file.")
    problems = []
    for relative, meta in sorted(listed.items()):
        path = backup_dir / relative
        if ".." in Path(relative).parts or Path(relative).is_absolute():
            problems.append(f"{relative}: path outside the backup")
        elif not path.is_file():
            problems.append(f"{relative}: missing")
        elif sha256_of(path) != meta.get("sha256"):
            problems.append(f"{relative}: checksum differs (altered or damaged)")
    present = {p.relative_to(backup_dir).as_posix() for p in _walk_files(backup_dir)} - {MANIFEST}
    problems += [f"{extra}: not in the manifest" for extra in sorted(present - set(listed))]
    if problems:
        raise BackupError("The backup does not verify:\n  " + "\n  ".join(problems))
    if kind != _database_kind():
        raise BackupError(f"This is a {kind} backup, but the app's database is {_database_kind()}.")
    return manifest


def _restore_sqlite(backup_dir: Path) -> None:
    """Copy the backup into the live file with the backup API (safe while others have it open)."""
    db.session.remove()
    db.engine.dispose()
    source = sqlite3.connect(backup_dir / SQLITE_FILE)
    target = sqlite3.connect(_sqlite_path(), timeout=30)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _restore_postgres(backup_dir: Path) -> None:
    """pg_restore --clean into the configured database, in one transaction."""
    pg_restore = _pg_tool("pg_restore")
    db.session.remove()
    db.engine.dispose()  # our own idle connections would hold locks on the tables being dropped
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          f"--dbname={db.engine.url.database}", str(backup_dir / PG_DUMP_FILE)], _pg_environment(db.engine.url))


def _restore_uploads(backup_dir: Path, listed: dict[str, dict]) -> int:
    """Make UPLOAD_FOLDER hold exactly the backup's files."""
    upload_folder = Path(current_app.config["UPLOAD_FOLDER"])
    wanted = {rel.removeprefix(f"{UPLOADS_DIR}/") for rel in listed if rel.startswith(f"{UPLOADS_DIR}/")}
    for path in _walk_files(upload_folder):
        if path.relative_to(upload_folder).as_posix() not in wanted:
            path.unlink()
    for relative in wanted:
        target = upload_folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(backup_dir / UPLOADS_DIR / relative, target)
    return len(wanted)


def restore(backup_dir: Path) -> BackupResult:
    """Replace the database and uploads with a verified backup; check the row counts after."""
    backup_dir = Path(backup_dir)
    manifest = read_manifest(backup_dir)
    kind = manifest["database"]["kind"]
    if kind == "sqlite":
        _restore_sqlite(backup_dir)
    else:
        _restore_postgres(backup_dir)
    files = _restore_uploads(backup_dir, manifest["files"])
    with db.engine.connect() as conn:
        counts = _count_rows(conn, list(manifest["row_counts"]))
    if counts != manifest["row_counts"]:
        differ = {t: (manifest["row_counts"][t], counts.get(t)) for t in manifest["row_counts"]
                  if counts.get(t) != manifest["row_counts"][t]}
        raise BackupError(f"Restored row counts differ from the manifest (expected, found): {differ}")
    return BackupResult(backup_dir, kind, counts, files)
