"""Page benchmarks under gunicorn at 1 000, 10 000 and 100 000 activities (``make bench``).

For each size: a fresh SQLite file built with ``demo --scale N``; gunicorn with 2 workers on
127.0.0.1; each page requested by 4 concurrent clients signed in as an ambassador, for at most
``--seconds`` or ``--requests`` per page; throughput, p50 and p95 latency, and throughput as a
ratio to ``/healthz`` measured in the same run. Also SQL statements per request per page (an
in-process test client counting statements on the engine) and the STAR status report's CSV and
XLSX generation time. Pages whose endpoint does not exist are reported as missing.

    .venv/bin/python -m bench.run                       # all three sizes
    .venv/bin/python -m bench.run --sizes 1000,10000    # a quicker run

Results: printed and written to bench/results/latest.md. Targets (issue 9): every page at least
0.3 × the health endpoint's throughput at 100 000, no page slower (p50) at 100 000 than 2 × its
time at 1 000, report generation under 1 s.
"""
import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Optional

from bench.common import ROOT, Client, build_database, gunicorn, machine

RESULTS = ROOT / "bench" / "results" / "latest.md"
AMBASSADOR = ("hovedstaden@demo.ips.dk", 1084)
# (label, endpoint, URL values); the URL comes from the app's own url_map.
PAGES = (
    ("healthz", "health.healthz", {}),
    # Reference, not a target: a light signed-in page (the shared layout and a few short upload
    # forms, no data), i.e. roughly what session, user, CSRF and base.html cost before any data.
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
REFERENCE_PAGES = {"healthz", "light page"}
CONCURRENCY = 4
TARGET_RATIO, TARGET_GROWTH = 0.30, 2.0


@dataclass
class PageResult:
    label: str
    url: Optional[str]
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statements: Optional[int] = None
    note: str = ""

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _app_for(database: Path):
    from config import TestingConfig
    from crm import create_app

    return create_app(type("BenchRead", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}))


def resolve_pages(app) -> list[PageResult]:
    """Each page's URL, or a 'missing' result when the endpoint is not (yet) routed."""
    from flask import url_for
    from werkzeug.routing import BuildError

    results = []
    with app.test_request_context():
        for label, endpoint, values in PAGES:
            try:
                results.append(PageResult(label, url_for(endpoint, **values)))
            except BuildError:
                results.append(PageResult(label, None, note="missing"))
    return results


def count_statements(app, pages: list[PageResult]) -> None:
    """SQL statements per request for each page (second request, so caches are warm).

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
    counter = {"n": 0}

    def on_execute(*_args):
        counter["n"] += 1

    for page in pages:
        if page.url is None:
            continue
        client.get(page.url)
        event.listen(engine, "before_cursor_execute", on_execute)
        counter["n"] = 0
        status = client.get(page.url).status_code
        event.remove(engine, "before_cursor_execute", on_execute)
        page.statements = counter["n"]
        if status != 200:
            page.note = f"HTTP {status} in-process"


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
    page.seconds = time.perf_counter() - started


def run_size(n: int, seconds: float, max_requests: int, tmp: Path) -> dict:
    """Build the database for ``n``, then measure every page and the report."""
    database = tmp / f"bench-{n}.sqlite"
    print(f"[{n}] building database…", file=sys.stderr)
    build = build_database(database, n)
    app = _app_for(database)
    pages = resolve_pages(app)
    count_statements(app, pages)
    report = measure_report(app)
    with gunicorn(database) as port:
        client = Client(port)
        client.login(AMBASSADOR[0], "ips-samarbejde-2026")
        for page in pages:
            if page.url is None:
                continue
            print(f"[{n}] {page.label} ({page.url})…", file=sys.stderr)
            client.get(page.url)  # warm up
            hammer(port, client.cookies, page, seconds, max_requests)
    return {"n": n, "build": build, "pages": pages, "report": report}


def _fmt(value: Optional[float], spec: str = ".0f") -> str:
    return "–" if value is None else format(value, spec)


def render(runs: list[dict], seconds: float, max_requests: int) -> str:
    """The results as markdown: one table per size and a summary against the targets."""
    lines = ["# Benchmark results", "",
             f"Machine: {machine()}. gunicorn 2 sync workers on 127.0.0.1, SQLite (WAL); {CONCURRENCY} concurrent "
             f"clients per page, at most {seconds:g} s or {max_requests} requests per page. "
             f"Run {time.strftime('%Y-%m-%d %H:%M')}.", ""]
    for run in runs:
        pages = run["pages"]
        health = next((p for p in pages if p.label == "healthz" and p.throughput), None)
        lines += [f"## N = {run['n']:,} activities".replace(",", " "), "",
                  f"Database built with `demo --scale {run['n']}` in {run['build']['scale_seconds']:.1f} s.", "",
                  "| page | URL | req/s | p50 ms | p95 ms | × healthz | SQL/request | errors | note |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---|"]
        for p in pages:
            ratio = p.throughput / health.throughput if health and p.throughput else None
            note = p.note or ("reference" if p.label in REFERENCE_PAGES else "")
            lines.append(f"| {p.label} | {p.url or ''} | {_fmt(p.throughput if p.requests else None, '.1f')} | "
                         f"{_fmt(p.percentile(0.5) if p.requests else None, '.1f')} | "
                         f"{_fmt(p.percentile(0.95) if p.requests else None, '.1f')} | {_fmt(ratio, '.2f')} | "
                         f"{_fmt(p.statements, 'd')} | {p.errors} | {note} |")
        if run["report"]:
            lines += ["", "Status report (last completed half year, counted and written, best of 3): "
                      + ", ".join(f"{k.upper()} {v:.3f} s" for k, v in run["report"].items())]
        lines.append("")
    lines += _summary(runs)
    return "\n".join(lines) + "\n"


def _summary(runs: list[dict]) -> list[str]:
    """p50 at the largest size against the smallest, and SQL statements across sizes."""
    if len(runs) < 2:
        return []
    first, last = runs[0], runs[-1]
    lines = [f"## Growth from N = {first['n']} to N = {last['n']}", "",
             "| page | p50 ms (small) | p50 ms (large) | large / small | × healthz (large) | SQL/request by size | targets met |",
             "|---|---:|---:|---:|---:|---|---|"]
    health = next((p for p in last["pages"] if p.label == "healthz"), None)
    for index, small in enumerate(first["pages"]):
        large = last["pages"][index]
        if not (small.requests and large.requests):
            lines.append(f"| {small.label} | | | | | missing | |")
            continue
        growth = large.percentile(0.5) / small.percentile(0.5) if small.percentile(0.5) else None
        ratio = large.throughput / health.throughput if health and health.throughput else None
        sql = " / ".join(_fmt(run["pages"][index].statements, "d") for run in runs)
        lines.append(f"| {small.label} | {small.percentile(0.5):.1f} | {large.percentile(0.5):.1f} | "
                     f"{_fmt(growth, '.2f')} | {_fmt(ratio, '.2f')} | {sql} | {_verdict(small.label, ratio, growth)} |")
    return lines + ["", "Targets: × healthz ≥ 0.30 at 100 000; large / small ≤ 2; report under 1 s.", ""]


def _verdict(label: str, ratio: Optional[float], growth: Optional[float]) -> str:
    """Which of the two page targets a page meets (reference rows have none)."""
    if label in REFERENCE_PAGES:
        return "reference"
    fast = ratio is not None and ratio >= TARGET_RATIO
    flat = growth is not None and growth <= TARGET_GROWTH
    return f"throughput {'yes' if fast else 'NO'}, growth {'yes' if flat else 'NO'}"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget per page")
    parser.add_argument("--requests", type=int, default=2000, help="request budget per page")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        runs = [run_size(n, args.seconds, args.requests, Path(tmp)) for n in sizes]
    output = render(runs, args.seconds, args.requests)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(output, encoding="utf-8")
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
