"""Before and after, in one run: the same pages served by two checkouts side by side.

``python -m bench.compare --before DIR --after DIR [--size N]`` builds a ``demo --scale N`` SQLite
database with each checkout's own code, serves each with gunicorn (2 sync workers, started in that
checkout), signs in as the same ambassador on both, and then measures every page of ``bench.run``
in alternating bursts (before, after, after, before, …). Both sides meet the same load from the
rest of the machine, so the ratio of their medians is fair even where absolute times are not (the
plain ``make bench`` measures each page once, minutes apart). Writes a markdown table.
"""
import argparse
import json
import statistics
import subprocess  # nosec B404
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from bench.common import ROOT, Client, gunicorn, machine
from bench.run import AMBASSADOR, CONCURRENCY, PAGES

DEMO_PASSWORD = "ips-samarbejde-2026"
BUILD = ("import sys; from pathlib import Path; from bench.common import build_database; "
         "build_database(Path(sys.argv[1]), int(sys.argv[2]))")
URLS = ("import sys, json; from bench.run import _app_for, resolve_pages; "
        "from pathlib import Path; print(json.dumps({p.label: p.url for p in resolve_pages(_app_for(Path(sys.argv[1])))}))")


def _in_checkout(checkout: Path, code: str, *args: str) -> str:
    """Run ``code`` with ``checkout``'s own crm package; its standard output."""
    return subprocess.run([sys.executable, "-c", code, *args], cwd=checkout, check=True,  # nosec B603
                          capture_output=True, text=True).stdout


def burst(port: int, cookies: dict, url: str, seconds: float) -> list[float]:
    """CONCURRENCY clients request ``url`` for ``seconds``; the latencies of the 200s."""
    stop_at, latencies, lock = time.monotonic() + seconds, [], threading.Lock()

    def worker():
        client = Client(port)
        client.cookies = dict(cookies)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            status = client.get(url).status
            if status == 200:
                with lock:
                    latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def compare(before: Path, after: Path, size: int, rounds: int, seconds: float, tmp: Path) -> list[tuple]:
    """(label, p50 before ms, p50 after ms) for every page both checkouts route."""
    sides = {"before": before, "after": after}
    urls = {}
    for name, checkout in sides.items():
        database = tmp / f"{name}.sqlite"
        print(f"[{name}] building demo --scale {size}…", file=sys.stderr)
        _in_checkout(checkout, BUILD, str(database), str(size))
        urls[name] = json.loads(_in_checkout(checkout, URLS, str(database)))
    with ExitStack() as stack:
        ports, cookies = {}, {}
        for name, checkout in sides.items():
            ports[name] = stack.enter_context(gunicorn(tmp / f"{name}.sqlite", root=checkout))
            client = Client(ports[name])
            client.login(AMBASSADOR[0], DEMO_PASSWORD)
            cookies[name] = client.cookies
        results = []
        for label, _endpoint, _values in PAGES:
            if not (urls["before"].get(label) and urls["after"].get(label)):
                continue
            print(f"[{label}]…", file=sys.stderr)
            latencies = {"before": [], "after": []}
            for round_ in range(rounds):
                order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
                for name in order:
                    latencies[name] += burst(ports[name], cookies[name], urls[name][label], seconds)
            results.append((label, *(statistics.median(latencies[n]) * 1000 for n in ("before", "after"))))
    return results


def render(results: list[tuple], before: str, after: str, size: int) -> str:
    lines = [f"# Before and after at {size:,} activities".replace(",", " "), "",
             f"Machine: {machine()}. Before: `{before}`, after: `{after}`. Alternating bursts, "
             f"{CONCURRENCY} concurrent clients, signed in as {AMBASSADOR[0]}. Run {time.strftime('%Y-%m-%d %H:%M')}.",
             "", "| page | p50 ms before | p50 ms after | after / before |", "|---|---:|---:|---:|"]
    for label, old, new in results:
        lines.append(f"| {label} | {old:.1f} | {new:.1f} | {new / old:.2f} |")
    return "\n".join(lines) + "\n"


def _revision(checkout: Path) -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True,  # nosec
                          text=True).stdout.strip() or str(checkout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the earlier revision")
    parser.add_argument("--after", type=Path, default=ROOT, help="checkout of the later one (default: this)")
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one burst")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "compare.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = compare(args.before.resolve(), args.after.resolve(), args.size, args.rounds, args.seconds,
                          Path(tmp))
    output = render(results, _revision(args.before), _revision(args.after), args.size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(output, encoding="utf-8")
    print(output)


if __name__ == "__main__":
    main()
