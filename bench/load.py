"""Bounded load test: 20 ambassadors at once logging activities and reading pages.

A fresh SQLite database (``demo --scale N``, default 1 000, plus 20 ambassador accounts, four per
region), gunicorn with 2 workers on 127.0.0.1, and 20 simulated ambassadors, each in its own
thread: sign in through the form, then alternately save a new activity through the activity form
(with its CSRF token) and read a page, until ``--duration`` seconds have passed. Afterwards every
activity the server confirmed (302) must be in the database exactly once. Stops by itself.

    .venv/bin/python -m bench.load                    # 120 s
    .venv/bin/python -m bench.load --duration 30      # a quick run

Exit status 0 only with zero errors and zero lost writes.
"""
import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench.common import LOAD_PASSWORD, Client, build_database, gunicorn, machine

READ_PAGES = ("/", "/kommuner/", "/kommuner/tavle", "/aktiviteter/", "/kommuner/{code}", "/overblik/",
              "/rapporter/")
MUNICIPALITY_BY_REGION = {1081: 851, 1082: 751, 1083: 461, 1084: 101, 1085: 265}


class Ambassador(threading.Thread):
    """One simulated ambassador: sign in, then write, read, write, read… until the deadline."""

    def __init__(self, number: int, port: int, deadline: float):
        super().__init__(daemon=True)
        self.number, self.port, self.deadline = number, port, deadline
        self.region = 1081 + (number - 1) % 5
        self.confirmed: list[str] = []
        self.errors: list[str] = []
        self.requests = Counter()
        self.latencies: list[float] = []

    def _timed(self, kind: str, call):
        started = time.perf_counter()
        response = call()
        self.latencies.append(time.perf_counter() - started)
        self.requests[kind] += 1
        return response

    def run(self) -> None:
        client = Client(self.port)
        try:
            client.login(f"load{self.number}@bench.dk", LOAD_PASSWORD)
        except Exception as exc:  # counted, never raised: the test reports every failure
            self.errors.append(f"sign-in: {exc}")
            return
        step = 0
        while time.monotonic() < self.deadline:
            try:
                if step % 2 == 0:
                    self._write(client, step // 2)
                else:
                    page = READ_PAGES[(step // 2) % len(READ_PAGES)]
                    path = page.format(code=MUNICIPALITY_BY_REGION[self.region])
                    response = self._timed("read", lambda: client.get(path))
                    if response.status != 200:
                        self.errors.append(f"GET {path}: HTTP {response.status}")
            except Exception as exc:
                self.errors.append(f"step {step}: {exc!r}")
            step += 1

    def _write(self, client: Client, index: int) -> None:
        title = f"Belastningstest {self.number}-{index}"
        token = client.csrf_token("/aktiviteter/ny")
        form = {"csrf_token": token, "type": "dialogue_meeting", "title": title, "start_date": "15-01-2026",
                "region_code": str(self.region), "municipality_codes": [str(MUNICIPALITY_BY_REGION[self.region])],
                "participants": "6", "hours": "1,5", "version": ""}
        response = self._timed("write", lambda: client.post("/aktiviteter/ny", form))
        if response.status == 302:
            self.confirmed.append(title)
        else:
            self.errors.append(f"POST activity {title}: HTTP {response.status}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--scale", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crm-load-") as tmp:
        database = Path(tmp) / "load.sqlite"
        build_database(database, args.scale, extra_ambassadors=args.users)
        with gunicorn(database) as port:
            deadline = time.monotonic() + args.duration
            users = [Ambassador(n + 1, port, deadline) for n in range(args.users)]
            started = time.perf_counter()
            for user in users:
                user.start()
            for user in users:
                user.join(timeout=args.duration + 120)
            elapsed = time.perf_counter() - started
        conn = sqlite3.connect(database)
        stored = Counter(title for (title,) in conn.execute(
            "SELECT title FROM activity WHERE title LIKE 'Belastningstest %'"))
        conn.close()
    confirmed = [title for user in users for title in user.confirmed]
    lost = [title for title in confirmed if stored[title] != 1]
    unexpected = sorted(set(stored) - set(confirmed))
    errors = [f"ambassador {user.number}: {error}" for user in users for error in user.errors]
    requests = sum((user.requests for user in users), Counter())
    latencies = sorted(latency for user in users for latency in user.latencies)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0  # noqa: E731
    print(f"Load test on {machine()}: {args.users} ambassadors for {elapsed:.0f} s against gunicorn "
          f"(2 workers, SQLite, N = {args.scale}).")
    print(f"Requests: {requests['write']} activity saves, {requests['read']} page reads "
          f"({(requests['write'] + requests['read']) / elapsed:.1f}/s); latency p50 {p(0.5):.0f} ms, "
          f"p95 {p(0.95):.0f} ms.")
    print(f"Errors: {len(errors)}. Confirmed writes: {len(confirmed)}; stored exactly once: "
          f"{len(confirmed) - len(lost)}; lost or duplicated: {len(lost)}; stored but not confirmed: {len(unexpected)}.")
    for line in (errors + [f"lost: {t}" for t in lost])[:20]:
        print("  " + line)
    return 0 if not errors and not lost and not unexpected and confirmed else 1


if __name__ == "__main__":
    sys.exit(main())
