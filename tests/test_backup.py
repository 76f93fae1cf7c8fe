"""``flask backup`` / ``flask restore``: a consistent copy while the app runs, and a verified restore."""
import json
import shutil
import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Activity, Note
from crm.services import backup as backup_service
from tests import factories


@pytest.fixture(autouse=True)
def _needs_pg_tools(app):
    """The PostgreSQL run needs pg_dump/pg_restore; skip it (with the reason) when missing."""
    if db.engine.dialect.name == "postgresql" and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore not installed (apt-get install postgresql-client)")


def _uploads(app) -> Path:
    folder = Path(app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_round_trip_brings_back_rows_and_files(app, runner, users, tmp_path):
    factories.ActivityFactory(title="Dialogmøde før backup", created_by_id=users["ambassador"].id)
    factories.NoteFactory(text="Notat før backup")
    uploads = _uploads(app)
    (uploads / "plans").mkdir()
    (uploads / "plans" / "plan.pdf").write_bytes(b"%PDF-1.4 original")
    dest = tmp_path / "backup"

    result = runner.invoke(args=["backup", str(dest)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["database"]["kind"] == db.engine.dialect.name
    assert manifest["row_counts"]["activity"] == 1
    assert manifest["row_counts"]["note"] == 1
    assert manifest["row_counts"]["user"] == 4
    assert manifest["row_counts"]["municipality"] == 98
    assert set(manifest["files"]) == {manifest["database"]["file"], "uploads/plans/plan.pdf"}

    # Life goes on after the backup: rows added and removed, files changed and added.
    factories.ActivityFactory(title="Efter backup", created_by_id=users["ambassador"].id)
    db.session.delete(db.session.scalars(select(Note)).one())
    db.session.commit()
    (uploads / "plans" / "plan.pdf").write_bytes(b"overwritten")
    (uploads / "later.pdf").write_bytes(b"later")

    result = runner.invoke(args=["restore", str(dest), "--yes"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    assert db.session.scalars(select(Activity.title)).all() == ["Dialogmøde før backup"]
    assert db.session.scalars(select(Note.text)).all() == ["Notat før backup"]
    assert (uploads / "plans" / "plan.pdf").read_bytes() == b"%PDF-1.4 original"
    assert not (uploads / "later.pdf").exists()
    # The app works on the restored database (new rows get fresh ids).
    factories.NoteFactory(text="Efter restore")
    assert _count(Note) == 2


def test_backup_refuses_a_non_empty_directory(app, runner, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    result = runner.invoke(args=["backup", str(tmp_path / "full")])
    assert result.exit_code != 0
    assert "not empty" in result.output


@pytest.mark.parametrize("damage", ["alter_database", "alter_upload", "remove_upload", "extra_file",
                                    "bad_json", "no_manifest"])
def test_restore_refuses_a_backup_that_does_not_verify(app, runner, tmp_path, damage):
    (_uploads(app) / "a.pdf").write_bytes(b"a")
    dest = tmp_path / "backup"
    assert runner.invoke(args=["backup", str(dest)]).exit_code == 0
    manifest = json.loads((dest / "manifest.json").read_text())
    database_file = dest / manifest["database"]["file"]
    if damage == "alter_database":
        with database_file.open("ab") as handle:
            handle.write(b"\0")
    elif damage == "alter_upload":
        (dest / "uploads" / "a.pdf").write_bytes(b"b")
    elif damage == "remove_upload":
        (dest / "uploads" / "a.pdf").unlink()
    elif damage == "extra_file":
        (dest / "uploads" / "smuggled.html").write_text("<script>")
    elif damage == "bad_json":
        (dest / "manifest.json").write_text("{not json")
    else:
        (dest / "manifest.json").unlink()
    factories.NoteFactory(text="Må ikke forsvinde")

    result = runner.invoke(args=["restore", str(dest), "--yes"])
    assert result.exit_code != 0
    assert "Error" in result.output
    assert db.session.scalars(select(Note.text)).all() == ["Må ikke forsvinde"]
    assert (_uploads(app) / "a.pdf").read_bytes() == b"a"


def test_restore_asks_for_confirmation(app, runner, tmp_path):
    dest = tmp_path / "backup"
    assert runner.invoke(args=["backup", str(dest)]).exit_code == 0
    factories.NoteFactory(text="Bliver")
    result = runner.invoke(args=["restore", str(dest)], input="n\n")
    assert result.exit_code != 0
    assert db.session.scalars(select(Note.text)).all() == ["Bliver"]


def test_backup_while_writers_run_is_consistent(app, users, tmp_path):
    """Notes are written by another thread during the backup: the copy holds exactly the rows its
    manifest counts (one moment in time), and restoring it gives back that number."""
    stop = threading.Event()
    written = []

    def writer():
        with app.app_context():
            while not stop.is_set():
                db.session.add(Note(municipality_code=101, note_date=date(2025, 1, 1), text=f"n{len(written)}"))
                db.session.commit()
                written.append(1)
            db.session.remove()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:  # the writer is busy before the backup starts
            threading.Event().wait(0.01)
        result = backup_service.backup(tmp_path / "backup")
    finally:
        stop.set()
        thread.join()
    in_backup = result.row_counts["note"]
    assert 20 <= in_backup <= len(written)
    assert len(written) > 0
    restored = backup_service.restore(tmp_path / "backup")
    assert restored.row_counts["note"] == in_backup
    db.session.remove()
    assert _count(Note) == in_backup


def test_restore_refuses_a_backup_of_the_other_database_kind(app, tmp_path):
    dest = tmp_path / "backup"
    backup_service.backup(dest)
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["database"]["kind"] = "postgresql" if manifest["database"]["kind"] == "sqlite" else "sqlite"
    (dest / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(backup_service.BackupError, match="backup, but the app's database is"):
        backup_service.read_manifest(dest)
