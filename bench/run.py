"""Page benchmarks under gunicorn on SQLite and PostgreSQL at 1 000, 10 000 and 100 000 activities
(``make bench``).

For each database and size: a fresh database built with ``demo --scale N`` (SQLite: a file;
PostgreSQL: a throw-away database on the server the test suite uses, dropped afterwards);
gunicorn with 2 sync workers on 127.0.0.1 reaching it as in production (``DATABASE_URL``,
psycopg for PostgreSQL); each page requested by 4 concurrent clients signed in as an ambassador,
for at most ``--seconds`` or ``--requests`` per page: throughput, p50 and p95 latency, and
throughput as a ratio to the light signed-in page (``/import/``). That ratio compares like with
like: each page is measured in ``ROUNDS`` slices, each right after a slice of the light page of
the same length, and divided by the light page's throughput over those slices (this machine's
speed drifts by ±25 % within minutes, so one reference measured at the start would favour or
penalise pages by when they ran). gunicorn runs as deployed, with the page cache on
(crm/views/page_cache.py); the pages that cache keeps are then measured again on a second
gunicorn with ``PAGE_CACHE=0``, which is what the first view after any change of data costs.

In process (Flask's test client, one fresh session per request as under gunicorn), per page:
SQL statements per request, the time spent in the database driver's ``execute`` per request
(SQLAlchemy's before/after_cursor_execute events; median of ``REPEATS`` requests) and the query
plan of the page's slowest statement, run again with its own parameters (PostgreSQL:
``EXPLAIN (ANALYZE, BUFFERS)``; SQLite: ``EXPLAIN QUERY PLAN``). Also the STAR status report's
CSV and XLSX generation time. Pages whose endpoint does not exist are reported as missing.

    .venv/bin/python -m bench.run                                  # both databases, three sizes
    .venv/bin/python -m bench.run --sizes 1000,100000 --databases postgresql

Results: printed; written to bench/results/latest.md, the plans to bench/results/plans-<db>.md,
and a summary into README.md between ``<!-- bench:begin -->`` and ``<!-- bench:end -->``.
Targets (issue 19), per database: every page at least 0.5 × the light page's throughput at the
largest size; p50 at the largest size at most 2 × p50 at the smallest; the status report (CSV and
XLSX) under 1 s; SQL statements per page the same at every size.
"""
import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterator, Optional

from bench.common import ROOT, Client, Database, build_database, database_url, gunicorn, machine

RESULTS_DIR = ROOT / "bench" / "results"
RESULTS = RESULTS_DIR / "latest.md"
README = ROOT / "README.md"
README_BEGIN, README_END = "<!-- bench:begin -->", "<!-- bench:end -->"
AMBASSADOR = ("hovedstaden@demo.ips.dk", 1084)
DEMO_PASSWORD = "ips-samarbejde-2026"
# (label, endpoint, URL values); the URL comes from the app's own url_map.
PAGES = (
    ("healthz", "health.healthz", {}),
    # The reference: a light signed-in page (the shared layout and a few short upload forms, no
    # data), i.e. what session, user, CSRF and base.html cost before any data.
    ("light page", "imports.index", {}),
    ("start page", "main.index", {}),
    ("municipality list", "municipalities.index", {}),
    ("board", "municipalities.board", {}),
    ("municipality page", "municipalities.detail", {"code": 101}),
    ("activity list", "activities.index", {}),
    ("dashboard", "dashboard.index", {}),
    ("anchoring map", "dashboard.anchoring_layer", {}),
    # The third seeded item (crm/data/anchoring_items.csv) is health_cluster on a fresh database.
    ("anchoring item", "anchoring.item", {"code": 101, "anchoring_item_id": 3}),
    ("status report", "reports.index", {}),
    ("fidelity page (with annual coverage)", "fidelity.index", {}),
)
LIGHT_PAGE = "light page"
REFERENCE_PAGES = {"healthz", LIGHT_PAGE}
DATABASES = ("sqlite", "postgresql")
CONCURRENCY = 4
ROUNDS = 4  # slices per page, each after a slice of the light page (the ratio's reference)
REPEATS = 5  # in-process requests per page for the SQL time (median)
TARGET_RATIO, TARGET_GROWTH, TARGET_REPORT_SECONDS = 0.5, 2.0, 1.0


@dataclass
class Statement:
    """One statement as the driver ran it, with its time (ms) and its plan once explained."""
    ms: float
    sql: str
    parameters: object
    plan: str = ""


@dataclass
class PageResult:
    label: str
    url: Optional[str]
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statements: Optional[int] = None
    sql_ms: Optional[float] = None  # median time in cursor execute per request, in process
    inprocess_ms: Optional[float] = None  # median time of the whole request, in process
    slowest: Optional[Statement] = None
    note: str = ""
    # The light page measured in slices alternating with this page's (see hammer_paired).
    reference: Optional["PageResult"] = None
    cached: bool = False  # the view keeps its page until the data changes (crm/views/page_cache.py)
    # A cached page measured again with the page cache off: every view pays the whole work, as the
    # first view after any change does.
    uncached: Optional["PageResult"] = None

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def postgres_base() -> Optional[str]:
    """The PostgreSQL server the test suite would use (TEST_DATABASE_URL or 127.0.0.1:5432), or None."""
    from tests.conftest import postgres_base_url

    return postgres_base_url()


@contextmanager
def fresh_database(kind: str, n: int, tmp: Path) -> Iterator[Database]:
    """An empty database of ``kind``: a SQLite file under ``tmp``, or a throw-away PostgreSQL
    database (created as the test suite creates its own, dropped afterwards)."""
    if kind == "sqlite":
        yield tmp / f"bench-{n}.sqlite"
        return
    from tests.conftest import throwaway_postgres_database

    base = postgres_base()
    if base is None:
        raise RuntimeError("PostgreSQL is not reachable")
    with throwaway_postgres_database(base) as url:
        yield url


def _app_for(database: Database):
    from config import TestingConfig
    from crm import create_app

    return create_app(type("BenchRead", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": database_url(database)}))


def resolve_pages(app, labels: Optional[set[str]] = None) -> list[PageResult]:
    """Each page's URL, or a 'missing' result when the endpoint is not (yet) routed."""
    from flask import url_for
    from werkzeug.routing import BuildError

    results = []
    with app.test_request_context():
        for label, endpoint, values in PAGES:
            if labels is not None and label not in labels:
                continue
            try:
                results.append(PageResult(label, url_for(endpoint, **values),
                                          cached=getattr(app.view_functions[endpoint], "page_cached", False)))
            except BuildError:
                results.append(PageResult(label, None, note="missing"))
    return results


def profile_sql(app, pages: list[PageResult], repeats: int = REPEATS) -> None:
    """Per page, in process: statements per request, SQL time per request (median of ``repeats``),
    the whole request's time, and the slowest statement (by its median over the repeats) with its
    plan.

    The requests run outside any outer app context, so each gets its own session, as under
    gunicorn (an outer context would keep the signed-in user cached and hide its query)."""
    from sqlalchemy import event, select

    from crm.extensions import db
    from crm.models import User

    with app.app_context():
        session_id = db.session.scalar(select(User).where(User.email == AMBASSADOR[0])).get_id()
        engine = db.engine
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id  # "id:session token", as Flask-Login stores it
    ran: list[tuple[float, str, object, bool]] = []
    started = {"at": 0.0}

    def before(_conn, _cursor, _statement, _parameters, _context, _executemany):
        started["at"] = time.perf_counter()

    def after(_conn, _cursor, statement, parameters, _context, executemany):
        ran.append(((time.perf_counter() - started["at"]) * 1000, statement, parameters, executemany))

    for page in pages:
        if page.url is None:
            continue
        client.get(page.url)  # warm: templates compiled, statements cached
        runs, walls, status = [], [], 200
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        try:
            for _ in range(repeats):
                ran.clear()
                began = time.perf_counter()
                status = client.get(page.url).status_code
                walls.append((time.perf_counter() - began) * 1000)
                runs.append(list(ran))
        finally:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)
        page.statements = len(runs[-1])
        page.sql_ms = statistics.median(sum(s[0] for s in run) for run in runs)
        page.inprocess_ms = statistics.median(walls)
        page.slowest = _slowest(runs)
        if status != 200:
            page.note = f"HTTP {status} in-process"
    with app.app_context():
        for page in pages:
            if page.slowest is not None:
                page.slowest.plan = explain(db.engine, page.slowest)


def _slowest(runs: list[list[tuple]]) -> Optional[Statement]:
    """The statement with the largest median time over the repeated requests (the same sequence
    each time); statements run with executemany (writes, never a page's read) are not explained."""
    if not runs or not runs[0]:
        return None
    same = all(len(run) == len(runs[0]) for run in runs)
    if same:
        medians = [statistics.median(run[i][0] for run in runs) for i in range(len(runs[0]))]
        candidates = [(ms, runs[-1][i]) for i, ms in enumerate(medians) if not runs[-1][i][3]]
    else:
        candidates = [(s[0], s) for run in runs for s in run if not s[3]]
    if not candidates:
        return None
    ms, (_ms, sql, parameters, _many) = max(candidates, key=lambda c: c[0])
    return Statement(ms, sql, parameters)


def explain(engine, statement: Statement) -> str:
    """The statement's plan with its own parameters, in a transaction that is rolled back."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.parameters or None)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + statement.sql, statement.parameters or ())
        return _sqlite_tree(cursor.fetchall())
    except Exception as exc:  # a plan is information, never a reason to stop the run
        return f"(no plan: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''})"
    finally:
        raw.rollback()
        raw.close()


def _sqlite_tree(rows) -> str:
    """EXPLAIN QUERY PLAN rows (id, parent, _, detail) indented as the sqlite3 shell shows them."""
    depth, lines = {0: -1}, []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + detail)
    return "\n".join(lines)


def measure_report(app) -> dict[str, float]:
    """Seconds to count the last completed half year and write it as CSV and as XLSX (best of 3)."""
    try:
        from crm.formatting import half_year_period, last_completed_half
        from crm.services import report as service
    except ImportError:
        return {}
    with app.app_context(), app.test_request_context():
        period = half_year_period(*last_completed_half(date.today()))
        timings = {}
        for label, writer in (("csv", service.report_to_csv), ("xlsx", service.report_to_xlsx)):
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                writer(service.status_report(*period))
                best = min(best, time.perf_counter() - started)
            timings[label] = best
        return timings


def hammer(port: int, cookies: dict, page: PageResult, seconds: float, max_requests: int) -> None:
    """CONCURRENCY clients request the page until the time or request budget is spent."""
    lock, stop_at = threading.Lock(), time.monotonic() + seconds
    budget = {"left": max_requests}

    def worker():
        client = Client(port)
        client.cookies = dict(cookies)
        while time.monotonic() < stop_at:
            with lock:
                if budget["left"] <= 0:
                    return
                budget["left"] -= 1
            started = time.perf_counter()
            try:
                status = client.get(page.url).status
            except OSError:
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                page.requests += 1
                page.latencies.append(elapsed)
                if status != 200:
                    page.errors += 1

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    page.seconds += time.perf_counter() - started


def hammer_paired(port: int, cookies: dict, page: PageResult, light: PageResult, seconds: float,
                  max_requests: int) -> None:
    """``page`` in ``ROUNDS`` slices, each right after an equal slice of the light page, which
    is recorded as ``page.reference``: the pair shares the machine's conditions of the moment."""
    page.reference = PageResult(light.label, light.url)
    for _ in range(ROUNDS):
        hammer(port, cookies, page.reference, seconds / ROUNDS, max(1, max_requests // ROUNDS))
        hammer(port, cookies, page, seconds / ROUNDS, max(1, max_requests // ROUNDS))


def run_size(kind: str, n: int, seconds: float, max_requests: int, tmp: Path,
             labels: Optional[set[str]] = None) -> dict:
    """Build a ``kind`` database for ``n``, then measure every page (or those in ``labels``) and
    the report; the database is removed afterwards."""
    with fresh_database(kind, n, tmp) as database:
        print(f"[{kind} {n}] building database…", file=sys.stderr)
        load = _load_now()
        build = build_database(database, n)
        app = _app_for(database)
        pages = resolve_pages(app, labels)
        print(f"[{kind} {n}] SQL in process and plans…", file=sys.stderr)
        profile_sql(app, pages)
        report = measure_report(app)
        with app.app_context():
            from crm.extensions import db

            db.engine.dispose()  # PostgreSQL: no idle connection left to block DROP DATABASE
        with gunicorn(database) as port:
            serve(port, pages, pages, f"[{kind} {n}]", seconds, max_requests)
        cached = [p for p in pages if p.cached and p.url]
        for page in cached:
            page.uncached = PageResult(page.label, page.url)
        if cached:
            with gunicorn(database, settings={"PAGE_CACHE": "0"}) as port:
                serve(port, pages, [p.uncached for p in cached], f"[{kind} {n} uncached]", seconds, max_requests)
    return {"database": kind, "n": n, "build": build, "pages": pages, "report": report, "load": load}


def serve(port: int, pages: list[PageResult], measured: list[PageResult], prefix: str, seconds: float,
          max_requests: int) -> None:
    """Sign in, then hammer each of ``measured`` (the light page alone, the others paired with it)."""
    client = Client(port)
    client.login(AMBASSADOR[0], DEMO_PASSWORD)
    light = _light_url(pages)
    for page in measured:
        if page.url is None:
            continue
        print(f"{prefix} {page.label} ({page.url})…", file=sys.stderr)
        client.get(page.url)  # warm up
        if page.label in REFERENCE_PAGES or light is None:
            hammer(port, client.cookies, page, seconds, max_requests)
        else:
            hammer_paired(port, client.cookies, page, light, seconds, max_requests)


# ---------------------------------------------------------------------------------------------
# Rendering


def _fmt(value: Optional[float], spec: str = ".0f") -> str:
    return "–" if value is None else format(value, spec)


def _n(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _light_url(pages: list[PageResult]) -> Optional[PageResult]:
    return next((p for p in pages if p.label == LIGHT_PAGE and p.url), None)


def _ratio(page: PageResult, pages: list[PageResult]) -> Optional[float]:
    """Throughput over the light page's in the slices paired with it (the light page's own run
    when the page was measured alone)."""
    light = page.reference or next((p for p in pages if p.label == LIGHT_PAGE), None)
    return page.throughput / light.throughput if light and light.throughput and page.throughput else None


def _uncached(page: PageResult, pages: list[PageResult]) -> str:
    """The page's throughput and ratio with the page cache off ("–" for pages it does not keep)."""
    if page.uncached is None or not page.uncached.requests:
        return "–"
    return f"{page.uncached.throughput:.1f}, {_fmt(_ratio(page.uncached, pages), '.2f')}"


NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def render(runs: list[dict], seconds: float, max_requests: int) -> str:
    """The full results as markdown: per database and size a table, then the targets."""
    lines = ["# Benchmark results", "", _preamble(runs, seconds, max_requests), "", _COLUMNS, ""]
    for kind in _kinds(runs):
        for run in (r for r in runs if r["database"] == kind):
            lines += [f"## {NAMES[kind]}, N = {_n(run['n'])} activities", "",
                      f"Database built with `demo --scale {run['n']}` in {run['build']['scale_seconds']:.1f} s "
                      f"(whole build with schema and analyse {run['build']['build_seconds']:.1f} s).", "",
                      "| page | URL | req/s | p50 ms | p95 ms | × light page | uncached: req/s, × light page | "
                      "SQL/request | SQL ms | in-process ms | slowest statement ms | errors | note |",
                      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
            for p in run["pages"]:
                note = p.note or ("reference" if p.label in REFERENCE_PAGES else "")
                measured = bool(p.requests)
                lines.append(
                    f"| {p.label} | {p.url or ''} | {_fmt(p.throughput if measured else None, '.1f')} | "
                    f"{_fmt(p.percentile(0.5) if measured else None, '.1f')} | "
                    f"{_fmt(p.percentile(0.95) if measured else None, '.1f')} | {_fmt(_ratio(p, run['pages']), '.2f')} | "
                    f"{_uncached(p, run['pages'])} | {_fmt(p.statements, 'd')} | {_fmt(p.sql_ms, '.1f')} | {_fmt(p.inprocess_ms, '.1f')} | "
                    f"{_fmt(p.slowest.ms if p.slowest else None, '.1f')} | {p.errors} | {note} |")
            if run["report"]:
                lines += ["", "Status report (last completed half year, counted and written, best of 3): "
                          + ", ".join(f"{k.upper()} {v:.3f} s" for k, v in run["report"].items())]
            lines.append("")
        lines += summary(runs, kind) + [""]
    return "\n".join(lines).rstrip() + "\n"


_COLUMNS = ("Columns: req/s, p50 and p95 under gunicorn as deployed; **× light page** = req/s over the light "
            f"signed-in page's (`/import/`) measured in {ROUNDS} slices alternating with the page's own, so both see "
            "the machine in the same state; **uncached** = the pages the page cache keeps (crm/views/page_cache.py) "
            "measured again with it off (`PAGE_CACHE=0`): what the first view after any change costs; "
            "**SQL/request** = statements per request; **SQL ms** = time "
            "spent in the driver's `execute` per request and **in-process ms** = the whole request, both "
            f"in process (Flask test client, median of {REPEATS}); **slowest statement ms** = that page's "
            "slowest statement, whose plan is in `plans-<database>.md`.")


def _preamble(runs: list[dict], seconds: float, max_requests: int) -> str:
    return (f"Machine: {machine()}. gunicorn 2 sync workers on 127.0.0.1; "
            f"{' and '.join(NAMES[k] for k in _kinds(runs))} (PostgreSQL through psycopg, a throw-away database per "
            f"size, `VACUUM ANALYZE` after loading; SQLite in WAL mode); {CONCURRENCY} concurrent clients per page "
            f"signed in as an ambassador, at most {seconds:g} s or {max_requests} requests per page; the clients "
            f"run on the same cores. Run {time.strftime('%Y-%m-%d %H:%M')}, load average "
            f"{_load(runs)} (1 min; at the start and the end: above the 2 cores, other work shared them and "
            "every time is inflated).")


def _load(runs: list[dict]) -> str:
    """The 1-minute load average when the first and the last database was built, and now."""
    values = [run["load"] for run in runs if "load" in run] + [_load_now()]
    return f"{values[0]:.1f} → {values[-1]:.1f}"


def _load_now() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def _kinds(runs: list[dict]) -> list[str]:
    return [k for k in DATABASES if any(r["database"] == k for r in runs)]


def summary(runs: list[dict], kind: str) -> list[str]:
    """Per page of one database: p50 at the smallest and largest size, growth, × light page at the
    largest, SQL statements by size, SQL time at the largest, and which targets it meets."""
    mine = [r for r in runs if r["database"] == kind]
    if not mine:
        return []
    first, last = mine[0], mine[-1]
    lines = [f"### {NAMES[kind]}: targets, N = {_n(first['n'])} → {_n(last['n'])}", "",
             "| page | p50 ms | growth | × light page | uncached: × light page | SQL/request by size | SQL ms "
             "| slowest statement ms | targets |",
             "|---|---:|---:|---:|---:|---|---:|---:|---|"]
    for index, small in enumerate(first["pages"]):
        large = last["pages"][index]
        if not (small.requests and large.requests):
            lines.append(f"| {small.label} | | | | | missing | | | |")
            continue
        growth = large.percentile(0.5) / small.percentile(0.5) if small.percentile(0.5) and len(mine) > 1 else None
        ratio = _ratio(large, last["pages"])
        counts = [run["pages"][index].statements for run in mine]
        sql = " / ".join(_fmt(c, "d") for c in counts)
        p50 = (f"{small.percentile(0.5):.1f} → {large.percentile(0.5):.1f}" if len(mine) > 1
               else f"{large.percentile(0.5):.1f}")
        uncached = _ratio(large.uncached, last["pages"]) if large.uncached else None
        lines.append(f"| {small.label} | {p50} | {_fmt(growth, '.2f')} | {_fmt(ratio, '.2f')} | "
                     f"{_fmt(uncached, '.2f')} | {sql} | "
                     f"{_fmt(large.sql_ms, '.1f')} | {_fmt(large.slowest.ms if large.slowest else None, '.1f')} | "
                     f"{verdict(small.label, ratio, growth, counts)} |")
    report = last["report"]
    if report:
        slow = [k.upper() for k, v in report.items() if v >= TARGET_REPORT_SECONDS]
        lines += ["", f"Status report at {_n(last['n'])}: "
                  + ", ".join(f"{k.upper()} {v:.2f} s" for k, v in report.items())
                  + (f" — **over 1 s: {', '.join(slow)}**" if slow else " — under 1 s: met")]
    met = [_page_targets(r, mine) for r in range(len(first["pages"]))]
    failing = [first["pages"][i].label for i, ok in enumerate(met) if ok is False]
    lines += ["", f"Targets on {NAMES[kind]}: every page ≥ {TARGET_RATIO} × light page at {_n(last['n'])}, "
              f"p50 growth ≤ {TARGET_GROWTH:g}, SQL/request constant — "
              + ("**met by every page**" if not failing else f"**not met by: {', '.join(failing)}**")]
    return lines


def _page_targets(index: int, mine: list[dict]) -> Optional[bool]:
    small, large = mine[0]["pages"][index], mine[-1]["pages"][index]
    if small.label in REFERENCE_PAGES or not (small.requests and large.requests):
        return None
    growth = large.percentile(0.5) / small.percentile(0.5) if len(mine) > 1 and small.percentile(0.5) else None
    counts = [run["pages"][index].statements for run in mine]
    return verdict(small.label, _ratio(large, mine[-1]["pages"]), growth, counts).count("yes") == 3


def verdict(label: str, ratio: Optional[float], growth: Optional[float], counts: list) -> str:
    """Which of the three page targets a page meets (reference rows have none)."""
    if label in REFERENCE_PAGES:
        return "reference"
    fast = ratio is not None and ratio >= TARGET_RATIO
    flat = growth is None or growth <= TARGET_GROWTH
    constant = len(set(counts)) == 1
    return (f"speed {'yes' if fast else 'NO'}, growth {'yes' if flat else 'NO'}, "
            f"SQL {'yes' if constant else 'NO'}")


def render_plans(runs: list[dict], kind: str) -> str:
    """Each page's slowest statement at the largest size of ``kind``, with parameters and plan."""
    mine = [r for r in runs if r["database"] == kind]
    if not mine:
        return ""
    last = mine[-1]
    how = ("`EXPLAIN (ANALYZE, BUFFERS)`, run again with the statement's own parameters" if kind == "postgresql"
           else "`EXPLAIN QUERY PLAN` (SQLite shows the plan, not its times)")
    lines = [f"# Slowest statement per page: {NAMES[kind]}, N = {_n(last['n'])} activities", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M')} by `python -m bench.run`. For each page, the statement with "
             f"the largest median time over {REPEATS} in-process requests, and its plan by {how}.", ""]
    for page in last["pages"]:
        if page.slowest is None:
            continue
        s = page.slowest
        lines += [f"## {page.label} (`{page.url}`): {s.ms:.2f} ms of {page.sql_ms:.1f} ms SQL, "
                  f"{page.statements} statements", "",
                  "```sql", _one_line(s.sql), "```", "", f"Parameters: `{_short(repr(s.parameters), 300)}`", "",
                  "```", s.plan, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _one_line(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def readme_block(runs: list[dict], seconds: float, max_requests: int) -> str:
    """What goes between the README's markers: one table per database and the links."""
    lines = [README_BEGIN, "", _preamble(runs, seconds, max_requests), "", _COLUMNS,
             "Full tables per size: `bench/results/latest.md`; plans: "
             + ", ".join(f"`bench/results/plans-{k}.md`" for k in _kinds(runs)) + ".", ""]
    for kind in _kinds(runs):
        lines += summary(runs, kind) + [""]
    lines += ["Slowest statement per page at the largest size (ms; its plan in the plans file):", "",
              "| page | " + " | ".join(NAMES[k] for k in _kinds(runs)) + " |",
              "|---|" + "---:|" * len(_kinds(runs))]
    lasts = [[r for r in runs if r["database"] == k][-1] for k in _kinds(runs)]
    for index, page in enumerate(lasts[0]["pages"]):
        cells = []
        for last in lasts:
            other = last["pages"][index]
            cells.append(_fmt(other.slowest.ms if other.slowest else None, ".2f"))
        lines.append(f"| {page.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", README_END])


def write_readme(block: str, readme: Path = README) -> bool:
    """Replace the block between the markers; False (and nothing written) when they are missing."""
    text = readme.read_text(encoding="utf-8")
    # The markers on lines of their own (prose may name them).
    found = re.search(rf"^{re.escape(README_BEGIN)}$.*?^{re.escape(README_END)}$", text, re.M | re.S)
    if found is None:
        return False
    readme.write_text(text[:found.start()] + block + text[found.end():], encoding="utf-8")
    return True


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--databases", default=",".join(DATABASES),
                        help="sqlite, postgresql or both (PostgreSQL is skipped when not reachable)")
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget per page")
    parser.add_argument("--requests", type=int, default=2000, help="request budget per page")
    parser.add_argument("--pages", default="", help="only these page labels, comma-separated")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-readme", action="store_true", help="leave README.md as it is")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    kinds = [k for k in args.databases.split(",") if k.strip()]
    if "postgresql" in kinds and postgres_base() is None:
        print("PostgreSQL is not reachable (as for the test suite): measuring SQLite only", file=sys.stderr)
        kinds.remove("postgresql")
    labels = {label.strip() for label in args.pages.split(",") if label.strip()} or None
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        runs = [run_size(kind, n, args.seconds, args.requests, Path(tmp), labels) for kind in kinds for n in sizes]
    output = render(runs, args.seconds, args.requests)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(output, encoding="utf-8")
    for kind in kinds:
        (args.out.parent / f"plans-{kind}.md").write_text(render_plans(runs, kind), encoding="utf-8")
    if not args.no_readme and not write_readme(readme_block(runs, args.seconds, args.requests)):
        print(f"README.md has no {README_BEGIN} … {README_END} block: not updated", file=sys.stderr)
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
