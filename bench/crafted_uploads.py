"""Crafted uploads up to the upload limit: how long each takes to be refused (or read) and how much
memory it costs. Not a test: ``python -m bench.crafted_uploads`` prints a Markdown table.

Each file is built by ``tests/crafted_files.py`` (the same builders the tests use), scaled up to
``MAX_UPLOAD_BYTES`` where a bigger file would be worse, and handed to the function its upload
path calls: ``read_table`` (activities, stage changes), ``check_file`` with an ``OutcomeImporter``
(outcomes), ``ics_import.read_events`` (.ics), ``uploads.read_pdf`` (plan PDF). Time is wall-clock
of one call without tracing; memory is the peak of Python allocations during a second call
(tracemalloc) and the growth of the process's resident set over both. The target (issue 13): every crafted file
refused in under 2 s with under 100 MB of memory growth.
"""
import gc
import io
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import crafted_files as crafted  # noqa: E402

MB = 1024 * 1024


def _rss() -> int:
    """The process's resident set now, in bytes (Linux)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")


def _counted_strings(limit: int) -> bytes:
    """Shared strings that do not compress 100 : 1 (so the ratio check lets them through) and
    fill the upload: refused by counting the entries as they stream by."""
    def chunks():
        yield b'<?xml version="1.0" encoding="UTF-8"?>\n<sst ' + crafted.SHEET_NS.encode() + b">"
        size, n = 0, 0
        while size < 20 * MB:
            block = b"".join(b"<si><t>%x</t></si>" % (n + i) for i in range(10_000))
            n += 10_000
            size += len(block)
            yield block
        yield b"</sst>"
    return crafted._with_strings(chunks())


def _sheet_up_to(limit: int) -> bytes:
    """Real rows with numbers (ratio about 10 : 1), as many as the sheet-size limit allows."""
    def chunks():
        yield crafted._sheet_xml("A1:A1")[:-len(b"</sheetData></worksheet>")]
        size, row = 0, 2
        while size < 40 * MB:
            block = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c><c r="B%d"><v>%d</v></c></row>'
                             % (r, r, r * 7919, r, r * 104729) for r in range(row, row + 5_000))
            row += 5_000
            size += len(block)
            yield block
        yield b"</sheetData></worksheet>"
    return crafted._rewrite(crafted.plain_xlsx(), {crafted.SHEET: chunks()})


def _largest_allowed() -> bytes:
    """An ordinary activity file at the cell limit (12 499 rows of 8 columns and the header, written
    by openpyxl with inline strings, its slowest form to read): read, not refused."""
    header = ("date", "type", "title", "region", "municipalities", "participants", "hours", "note")
    rows = [header] + [("2025-03-05", "workshop", f"Workshop {n}", "1084", "101", "12", "2,5", f"note {n}")
                       for n in range(12_499)]
    return crafted.plain_xlsx(rows)


def _outcome_check(filename: str):
    """The outcome import's check of a file named ``filename`` (what its upload path calls)."""
    from crm.services.importing import check_file
    from crm.services.outcomes import OutcomeImporter

    return lambda data: check_file(OutcomeImporter(), data, filename)


def cases(limit: int):
    """(name, path, builder, call) for each crafted file."""
    from crm.services import ics_import
    from crm.services.importing import read_table
    from crm.services.uploads import read_pdf
    from werkzeug.datastructures import FileStorage

    days = (date(2026, 3, 1), date(2026, 3, 31))
    xlsx = lambda data: read_table(data, "fil.xlsx")  # noqa: E731
    return [
        ("XLSX declaring A1:XFD1048576", "activities/stages", crafted.xlsx_dimension_bomb, xlsx),
        ("XLSX shared-strings bomb (1 M entries)", "outcomes",
         crafted.xlsx_shared_strings_bomb, _outcome_check("star.xlsx")),
        ("XLSX 20 MB of distinct shared strings", "activities/stages", lambda: _counted_strings(limit), xlsx),
        ("XLSX zip-bomb member (2 GB of spaces)", "activities/stages", lambda: crafted.xlsx_zip_bomb(2000), xlsx),
        ("XLSX 40 MB sheet of real rows", "activities/stages", lambda: _sheet_up_to(limit), xlsx),
        ("XLSX 12 500 rows × 8 columns (just allowed)", "activities/stages", _largest_allowed, xlsx),
        ("XLSX row of 2 M empty cells", "activities/stages", crafted.xlsx_wide_row, xlsx),
        ("XLSX billion laughs", "outcomes", crafted.xlsx_entities,
         _outcome_check("star.xlsx")),
        ("XLSX 80 000 zip members", "activities/stages", lambda: crafted.xlsx_many_members(80_000), xlsx),
        ("CSV one 9 MB line of fields", "activities/stages", lambda: crafted.csv_wide_record(limit // 3 - 10),
         lambda d: read_table(d, "fil.csv")),
        ("CSV one record of 1.6 M quoted line breaks", "outcomes",
         lambda: crafted.csv_multiline_record(limit // 6 - 10), _outcome_check("star.csv")),
        (".ics RRULE:FREQ=SECONDLY, no COUNT", "calendar", crafted.ics_secondly,
         lambda d: ics_import.read_events(d, *days)),
        (".ics SECONDLY since 1970", "calendar", lambda: crafted.ics_secondly("19700101T000000Z"),
         lambda d: ics_import.read_events(d, *days)),
        (".ics 1.4 M properties (the limit)", "calendar", lambda: crafted.ics_many_lines(limit // 7 - 20),
         lambda d: ics_import.read_events(d, *days)),
        (".ics 29 000 properties (just allowed)", "calendar", lambda: crafted.ics_many_lines(29_000),
         lambda d: ics_import.read_events(d, *days)),
        ("PDF one byte over the limit", "plan PDF", lambda: crafted.pdf_oversized(limit),
         lambda d: read_pdf(FileStorage(io.BytesIO(d), "plan.pdf"))),
    ]


def _outcome(call, data) -> str:
    try:
        result = call(data)
    except Exception as error:  # every refusal is a ValueError subclass with a user message
        return f"refused: {str(error)[:90]}"
    errors = getattr(result, "errors", None)
    if errors:
        return f"refused: {str(errors[0].message)[:90]}"
    return "read"


def main() -> None:
    from crm import create_app
    from crm.extensions import db

    app = create_app("testing")
    limit = app.config["MAX_UPLOAD_BYTES"]
    rows = []
    with app.app_context(), app.test_request_context():
        db.create_all()
        for name, path, build, call in cases(limit):
            data = build()
            gc.collect()
            rss_before = _rss()
            started, cpu_started = time.perf_counter(), time.process_time()
            outcome = _outcome(call, data)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            gc.collect()
            tracemalloc.start()
            _outcome(call, data)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rss_growth = max(0, _rss() - rss_before)
            rows.append((name, path, len(data), outcome, seconds, cpu, peak, rss_growth))
            del data
    print(f"Upload limit (MAX_UPLOAD_BYTES): {limit / MB:.0f} MB\n")
    print("| crafted file | upload path | size | outcome | wall s | CPU s | peak Python MB | RSS growth MB |")
    print("|---|---|---:|---|---:|---:|---:|---:|")
    for name, path, size, outcome, seconds, cpu, peak, rss in rows:
        shown = f"{size / 1024:.1f} KB" if size < MB else f"{size / MB:.1f} MB"
        print(f"| {name} | {path} | {shown} | {outcome} | {seconds:.3f} | {cpu:.3f} | {peak / MB:.1f} | "
              f"{rss / MB:.1f} |")
    refused = [r for r in rows if r[3].startswith("refused")]
    worst = max(refused, key=lambda r: r[5])
    print(f"\nRefused: {len(refused)} of {len(rows)}; slowest refusal {worst[0]} ({worst[5]:.2f} s CPU). "
          f"Largest peak: {max(r[6] for r in rows) / MB:.1f} MB (Python), {max(r[7] for r in rows) / MB:.1f} MB (RSS).")


if __name__ == "__main__":
    main()
