"""No data lost: concurrent writers from threads and processes, and a PostgreSQL outage.

The outage is simulated with a TCP proxy in front of the real PostgreSQL server (which other
test runs share, so it is never stopped): closing the proxy is, for the app, exactly a database
that went away; reopening it is the database coming back.
"""
import multiprocessing
import socket
import threading
import time
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from crm.extensions import db
from crm.models import Activity, Note
from tests import factories
from tests.conftest import _config_for

THREADS = 6
PROCESSES = 3
WRITES = 15  # per writer and kind


def _write_in_process(url: str, writer: str, user_id: int, errors) -> None:
    """A separate process (own interpreter, own engine) writing notes and activities."""
    from crm import create_app

    app = create_app(_config_for(url))
    try:
        with app.app_context():
            for i in range(WRITES):
                db.session.add(Note(municipality_code=101, note_date=date(2025, 1, 1), text=f"{writer} note {i}",
                                    created_by_id=user_id))
                db.session.commit()
                db.session.add(Activity(type="dialogue_meeting", title=f"{writer} activity {i}",
                                        start_date=date(2025, 1, 2), region_code=1084, created_by_id=user_id))
                db.session.commit()
            db.session.remove()
            db.engine.dispose()
    except Exception as exc:  # reported to the parent, which fails the test
        errors.put(f"{writer}: {exc!r}")


def _write_in_thread(app, writer: str, user, errors: list) -> None:
    """A thread with its own app context (so its own session): notes via the ORM, activities
    through the real form as a signed-in ambassador."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
    try:
        with app.app_context():
            for i in range(WRITES):
                db.session.add(Note(municipality_code=101, note_date=date(2025, 1, 1), text=f"{writer} note {i}",
                                    created_by_id=user.id))
                db.session.commit()
                response = client.post("/aktiviteter/ny", data={
                    "type": "dialogue_meeting", "title": f"{writer} activity {i}", "start_date": "02-01-2025",
                    "region_code": "1084", "municipality_codes": ["101"], "version": ""})
                if response.status_code != 302:
                    errors.append(f"{writer} activity {i}: HTTP {response.status_code}")
            db.session.remove()
    except Exception as exc:
        errors.append(f"{writer}: {exc!r}")


def test_concurrent_writers_lose_nothing(app, database_url, users):
    user = users["ambassador"]
    factories.ActivityFactory(title="before")
    ctx = multiprocessing.get_context("spawn")
    process_errors = ctx.Queue()
    processes = [ctx.Process(target=_write_in_process, args=(database_url, f"process{n}", user.id, process_errors))
                 for n in range(PROCESSES)]
    thread_errors: list[str] = []
    threads = [threading.Thread(target=_write_in_thread, args=(app, f"thread{n}", user, thread_errors))
               for n in range(THREADS)]
    for worker in processes + threads:
        worker.start()
    for thread in threads:
        thread.join(timeout=300)
    for process in processes:
        process.join(timeout=300)
    errors = thread_errors + [process_errors.get() for _ in range(process_errors.qsize())]
    assert errors == []
    assert all(p.exitcode == 0 for p in processes)

    db.session.remove()
    writers = [f"thread{n}" for n in range(THREADS)] + [f"process{n}" for n in range(PROCESSES)]
    expected_notes = {f"{w} note {i}" for w in writers for i in range(WRITES)}
    expected_activities = {f"{w} activity {i}" for w in writers for i in range(WRITES)} | {"before"}
    assert set(db.session.scalars(select(Note.text))) == expected_notes
    assert set(db.session.scalars(select(Activity.title))) == expected_activities
    assert db.session.scalar(select(func.count(Activity.id))) == len(expected_activities)  # no duplicates


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


# --------------------------------------------------------------------------------------------
# PostgreSQL outage


class TcpProxy:
    """A loopback TCP proxy to PostgreSQL that can be stopped (outage), restarted, or made to
    accept connections and never answer (a hung server)."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = 0
        self.blackhole = False
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Close the listener and cut every open connection, as a crashed server would."""
        if self._listener:
            try:  # wakes the thread blocked in accept(); close() alone leaves the port listening
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            if self.blackhole:
                continue  # hold the connection open and never answer
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets.append(upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def proxied_app(app, database_url):
    """A second app on the same PostgreSQL database, reaching it through the proxy."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: the outage test needs a database server")
    url = make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    proxied_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxied = __import__("crm").create_app(_config_for(proxied_url, DATABASE_CONNECT_TIMEOUT=2))
    yield proxied, proxy
    proxy.stop()
    with proxied.app_context():
        db.engine.dispose()


def _timed_get(client, url):
    started = time.monotonic()
    response = client.get(url)
    return response, time.monotonic() - started


def test_app_survives_a_database_restart(proxied_app, users):
    proxied, proxy = proxied_app
    client = proxied.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = users["ambassador"].get_id()
    assert client.get("/healthz").status_code == 200
    assert client.get("/kommuner/").status_code == 200  # the pool now holds live connections

    proxy.stop()  # the database goes away; pooled connections die
    response, seconds = _timed_get(client, "/healthz")
    assert response.status_code == 503 and seconds < 3
    response, seconds = _timed_get(client, "/kommuner/")
    assert response.status_code == 503 and seconds < 3
    assert "Traceback" not in response.get_data(as_text=True)

    proxy.start()  # the database is back: the next requests reconnect by themselves
    assert client.get("/healthz").status_code == 200
    assert client.get("/kommuner/").status_code == 200


def test_a_hung_database_gives_503_after_the_connect_timeout(proxied_app, users):
    proxied, proxy = proxied_app
    client = proxied.test_client()
    proxy.stop()
    proxy.blackhole = True  # accepts TCP connections, never answers
    proxy.start()
    response, seconds = _timed_get(client, "/healthz")
    assert response.status_code == 503
    assert seconds < 2 + 3  # DATABASE_CONNECT_TIMEOUT (2 s) plus slack, not a hang
