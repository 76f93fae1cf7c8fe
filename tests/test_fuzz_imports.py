"""Property-based fuzzing of every spreadsheet import (Hypothesis): service, web upload and CLI.

Importers are found generically: every ``Importer`` subclass in ``crm.services``, every kind on
the ``/import/`` page, every subcommand of ``flask import``. Files are generated with the right
header (sometimes shuffled, upper-cased, missing, repeated or unknown columns) and random cells —
Unicode, control characters, huge numbers, far dates, empty — with random separators, quoting,
BOM, encodings and line endings; sometimes raw bytes or an XLSX workbook. Properties:

* checking a file never raises, the web never answers 500, the CLI never crashes (exit 0 or 1);
* checking writes nothing; with any error in the report, the default all-or-nothing import is
  refused and every table is unchanged (audit log included).
"""
import csv
import importlib
import io
import os
import pkgutil
import re
from datetime import date

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import crm.services
from crm.services.importing import ALL_OR_NOTHING, GOOD_ROWS_ONLY, Importer, ImportRefused, check_file
from tests.fuzz_support import (
    ErrorCapture,
    Findings,
    db_snapshot,
    exception_key,
    exception_summary,
    fuzz_text,
    parse_forms,
    seed_records,
    snapshot_diff,
)

SCALE = float(os.environ.get("FUZZ_EXAMPLES", "1"))
FUZZ = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))


def importer_classes() -> list[type]:
    """Every concrete Importer in crm.services (modules imported so that subclasses register)."""
    for module in pkgutil.iter_modules(crm.services.__path__):
        try:
            importlib.import_module(f"crm.services.{module.name}")
        except Exception:  # noqa: BLE001 - another area's half-written module must not stop us
            continue
    found, todo = [], list(Importer.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.columns:
            found.append(cls)
    return sorted(found, key=lambda c: c.__name__)


# --------------------------------------------------------------------------------------------
# File strategies

HOVEDSTADEN = ["101", "147", "151", "153", "155", "157", "159", "161", "163", "165", "167", "169", "173", "175",
              "183", "185", "187", "190", "201", "210", "217", "219", "223", "230", "240", "250", "260", "270"]
VALID_DATES = st.dates(min_value=date(2021, 1, 1), max_value=date(2026, 6, 30)).flatmap(
    lambda d: st.sampled_from([d.strftime("%d-%m-%Y"), d.isoformat()]))
# (column-name fragments, a strategy for valid cells, odd but plausible cells)
CELLS = [
    (("municipalities",), st.lists(st.sampled_from(HOVEDSTADEN), min_size=1, max_size=3).map("|".join),
     ["101|147", "København", "9999", "101||", "|", "751|727"]),
    (("municipality", "kommune"), st.sampled_from(HOVEDSTADEN), ["0101", "København", "Aarhus", "9999", "1084"]),
    (("region",), st.just("1084"), ["1085", "", "9999", "1084.0", "Hovedstaden"]),
    (("date", "dato"), VALID_DATES, ["31-12-9999", "29-02-2023", "0001-01-01", "1-1-2025", "2025-3-5"]),
    (("stage", "fase"), st.sampled_from(["dialogue", "plan_signed", "not_contacted", "plan_in_progress"]),
     ["DIALOGUE", "x", "Dialog"]),
    (("type",), st.sampled_from(["dialogue_meeting", "workshop", "course", "supervision"]), ["unknown_type", "Kursus"]),
    (("quarter", "kvartal"), st.builds("{}Q{}".format, st.integers(2021, 2025), st.integers(1, 4)),
     ["2025Q5", "9999Q1", "2025-1", "Q1", "2025q1", "2019Q4"]),
    (("hours", "timer"), st.sampled_from(["2,5", "2.5", "1", ""]), ["1e309", "-1", "100001", "2,5,5"]),
    (("citizens",), st.integers(20, 500).map(str), ["-1", "1000001", "1e3", "12.5"]),
    (("title", "titel"), st.sampled_from(["Dialogmøde", "Workshop om IPS", 'Møde; "citat"']), ["", " "]),
    (("note",), st.sampled_from(["", "Første møde"]), ["\x00"]),
]


def cell_strategies(column: str) -> tuple[st.SearchStrategy[str], list[str]]:
    """(valid cells, odd cells) for a column; unknown columns get small whole numbers."""
    name = column.lower().strip()
    for keys, valid, odd in CELLS:
        if any(k in name for k in keys):
            return valid, odd
    return st.integers(0, 10).map(str), ["999999999999", "-5", "1,5", "x"]


@st.composite
def data_row(draw, header: list[str]):
    """Mostly valid rows with one odd or arbitrary cell now and then; sometimes wild rows."""
    kind = draw(st.sampled_from(["valid", "valid", "one_odd", "one_wild", "wild"]))
    row = [draw(cell_strategies(column)[0]) for column in header]
    if kind == "wild":
        return [draw(st.one_of(st.sampled_from(cell_strategies(c)[1]), fuzz_text())) for c in header]
    if kind != "valid" and row:
        index = draw(st.integers(0, len(row) - 1))
        odd = cell_strategies(header[index])[1]
        row[index] = draw(st.sampled_from(odd)) if kind == "one_odd" else draw(fuzz_text())
    return row


@st.composite
def header_variant(draw, columns: tuple[str, ...]) -> list[str]:
    """Mostly the header as it should be; else shuffled, upper-cased, missing/extra/repeated columns."""
    base = list(columns)
    kind = draw(st.integers(0, 9))
    if kind <= 5:
        return base
    if kind == 6:
        return list(draw(st.permutations(base)))
    if kind == 7:
        return [c.upper() + " " for c in base]
    if kind == 8:
        return draw(st.lists(st.sampled_from(base), max_size=len(base) + 2)) if base else []
    return base + [draw(st.text(min_size=1, max_size=12))]


@st.composite
def spreadsheet(draw, columns: tuple[str, ...]):
    """(bytes, filename) of a CSV (mostly) or XLSX file, or random bytes."""
    kind = draw(st.sampled_from(["csv", "csv", "csv", "csv", "csv", "bytes", "xlsx"]))
    if kind == "bytes":
        return draw(st.binary(max_size=600)), draw(st.sampled_from(["x.csv", "x.xlsx", "x.xls", "x.txt", "x"]))
    header = draw(header_variant(columns))
    rows = draw(st.lists(data_row(header), max_size=6))
    for row in rows:
        shape = draw(st.integers(0, 9))
        if shape == 0 and row:
            row.pop()  # a short row
        elif shape == 1:
            row.append(draw(fuzz_text()))  # a long row
    if kind == "xlsx":
        return _xlsx([header] + rows), draw(st.sampled_from(["data.xlsx", "data.xlsm", "data.csv"]))
    delimiter = draw(st.sampled_from([";", ",", "\t", ";", "|"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    newline = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    body = out.getvalue()
    if draw(st.integers(0, 9)) == 0:
        body += draw(st.sampled_from(['"unterminated', "\x00", "\n\n\n", ";;;;"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-8", "cp1252", "utf-16"]))
    data = body.encode(encoding, errors="replace")
    return data, draw(st.sampled_from(["import.csv", "import.csv", "import.txt", "IMPORT.CSV", "import.xlsx", "import"]))


def _xlsx(table: list[list[str]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook()
    sheet = workbook.active
    for row in table:
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", value)[:32_000] for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# The service (every importer, as admin, ambassador and the command line)


@pytest.mark.parametrize("importer_class", importer_classes(), ids=lambda c: c.__name__)
def test_fuzz_importer_service(app, users, importer_class):
    seed_records(users)
    findings = Findings()

    @settings(max_examples=int(30 * SCALE), **FUZZ)
    @given(file=spreadsheet(importer_class.columns), who=st.sampled_from([None, "admin", "ambassador"]),
           mode=st.sampled_from([ALL_OR_NOTHING, ALL_OR_NOTHING, GOOD_ROWS_ONLY]))
    def fuzz(file, who, mode):
        data, filename = file
        before = db_snapshot()
        where = f"{importer_class.__name__} as {who or 'CLI'} ({filename}, {len(data)} bytes: {data[:120]!r})"
        try:
            result = check_file(importer_class(users[who] if who else None), data, filename)
        except Exception as exc:  # noqa: BLE001 - any exception here is the finding
            findings.add(f"check:{exception_key((type(exc), exc, exc.__traceback__))}",
                         f"check_file raised {exception_summary((type(exc), exc, exc.__traceback__))}\n"
                         f"    file: {where}", len(data))
            return
        if snapshot_diff(before, db_snapshot()):
            findings.add("check-wrote", f"check_file wrote to the database: {where}", len(data))
        try:
            result.apply(mode)
        except ImportRefused:
            event("refused (fatal)" if result.fatal else f"refused ({mode})")
            changed = snapshot_diff(before, db_snapshot())
            if changed:
                findings.add("refused-wrote", f"refused import ({mode}) changed {changed}: {where}", len(data))
            return
        except Exception as exc:  # noqa: BLE001
            findings.add(f"apply:{exception_key((type(exc), exc, exc.__traceback__))}",
                         f"apply({mode}) raised {exception_summary((type(exc), exc, exc.__traceback__))}\n"
                         f"    file: {where}", len(data))
            return
        event(f"applied ({mode}, {result.good_rows} new rows)" if result.good_rows else f"applied ({mode}, nothing new)")
        if mode == ALL_OR_NOTHING and (result.errors or result.fatal):
            findings.add("applied-with-errors", f"all-or-nothing import with {len(result.errors)} errors was "
                         f"applied: {where}", len(data))

    fuzz()
    assert not findings, f"fuzzing {importer_class.__name__} found:\n{findings.report()}"


# --------------------------------------------------------------------------------------------
# The web upload → report → confirm


def _upload_kinds(client) -> dict[str, tuple[str, tuple[str, ...]]]:
    """kind → (file field name, columns) from the /import/ page and each kind's CSV template."""
    kinds = {}
    for form in parse_forms(client.get("/import/").get_data(as_text=True)):
        kind = form.fields.get("kind")
        file_field = next((f.name for f in form.fields.values() if f.kind == "file"), None)
        if kind is None or file_field is None:
            continue
        template = client.get(f"/import/{kind.value}/skabelon.csv")
        header = next(csv.reader(io.StringIO(template.get_data(as_text=True).lstrip("\ufeff")))) \
            if template.status_code == 200 else []
        kinds[kind.value] = (file_field, tuple(header))
    return kinds


@pytest.mark.parametrize("role", ["admin", "ambassador"])
def test_fuzz_web_import(app, users, login_as, role):
    seed_records(users)
    client = login_as(users[role])
    kinds = _upload_kinds(client)
    assert kinds, "the /import/ page offers no import"
    capture = ErrorCapture()
    app.logger.addHandler(capture)
    findings = Findings()

    def check_response(response, what, size):
        for record in capture.records:
            if record.exc_info:
                findings.add(f"500:{exception_key(record.exc_info)}",
                             f"{what} → {response.status_code}: {exception_summary(record.exc_info)}", size)
        if response.status_code >= 500 and not capture.records:
            findings.add(f"status:{response.status_code}", f"{what} → {response.status_code}", size)
        capture.records.clear()

    @settings(max_examples=int(12 * len(kinds) * SCALE), **FUZZ)
    @given(data=st.data())
    def fuzz(data):
        kind = data.draw(st.sampled_from(sorted(kinds)), label="kind")
        file_field, columns = kinds[kind]
        content, filename = data.draw(spreadsheet(columns), label="file")
        what = f"{role} import {kind} ({filename}, {len(content)} bytes: {content[:120]!r})"
        before = db_snapshot()
        response = client.post("/import/", data={"kind": kind, file_field: (io.BytesIO(content), filename)},
                               content_type="multipart/form-data")
        check_response(response, f"POST /import/ {what}", len(content))
        changed = snapshot_diff(before, db_snapshot())
        if changed:
            findings.add("upload-wrote", f"the check step wrote to the database ({changed}): {what}", len(content))
        token = re.search(r'name="token" value="([^"]+)"', response.get_data(as_text=True))
        if token is None:
            event("upload: nothing importable")
            return
        mode = data.draw(st.sampled_from([ALL_OR_NOTHING, GOOD_ROWS_ONLY, "", "x"]), label="mode")
        has_errors = bool(check_file(_importer_for(kind, users[role]), content, filename).errors)
        before = db_snapshot()
        response = client.post("/import/bekraeft", data={"kind": kind, "token": token.group(1), "mode": mode})
        check_response(response, f"POST /import/bekraeft mode={mode!r} {what}", len(content))
        changed = snapshot_diff(before, db_snapshot())
        event(f"confirm {mode or 'default'}: {response.status_code}{' wrote' if changed else ''}")
        if changed and not 300 <= response.status_code < 400:
            findings.add("confirm-refused-wrote", f"confirm answered {response.status_code} but wrote ({changed}): "
                         f"{what}", len(content))
        if has_errors and mode != GOOD_ROWS_ONLY and (changed or 300 <= response.status_code < 400):
            findings.add("confirm-with-errors", f"all-or-nothing confirm of a file with errors was imported: "
                         f"{what}", len(content))

    try:
        fuzz()
    finally:
        app.logger.removeHandler(capture)
    assert not findings, f"fuzzing the web import as {role} found:\n{findings.report()}"


def _importer_for(kind: str, user):
    """The importer behind a web import kind (the view's registry)."""
    from crm.views.imports import KINDS

    return KINDS[kind].importer(user)


# --------------------------------------------------------------------------------------------
# The command line: flask --app wsgi import <kind> FILE


def _cli_kinds(app) -> list[str]:
    return sorted(app.cli.commands["import"].commands)


def _cli_columns(runner, kind: str, tmp_path) -> tuple[str, ...]:
    """The columns a CLI import expects, read from its report on a file with an unknown column."""
    probe = tmp_path / "probe.csv"
    probe.write_text("zzz_unknown\n1\n", encoding="utf-8")
    output = runner.invoke(args=["import", kind, "--dry-run", str(probe)]).output
    match = re.search(r"(?:Tilladte kolonner|Allowed columns): ([^\n]+?)\.?\n", output)
    return tuple(c.strip() for c in match.group(1).split(",")) if match else ("date", "municipality")


def test_fuzz_cli_import(app, users, runner, tmp_path):
    seed_records(users)
    help_text = runner.invoke(args=["import", "--help"]).output
    kinds = [k for k in _cli_kinds(app) if k in help_text]
    assert kinds, help_text
    columns = {kind: _cli_columns(runner, kind, tmp_path) for kind in kinds}
    findings = Findings()

    @settings(max_examples=int(10 * len(kinds) * SCALE), **FUZZ)
    @given(data=st.data())
    def fuzz(data):
        kind = data.draw(st.sampled_from(kinds), label="kind")
        content, filename = data.draw(spreadsheet(columns[kind]), label="file")
        options = data.draw(st.sampled_from([[], [], ["--dry-run"], ["--good-rows-only"]]), label="options")
        path = tmp_path / (re.sub(r"[^\w.]", "_", filename) or "file")
        path.write_bytes(content)
        what = f"flask import {kind} {' '.join(options)} ({filename}, {len(content)} bytes: {content[:120]!r})"
        before = db_snapshot()
        result = runner.invoke(args=["import", kind, *options, str(path)])
        changed = snapshot_diff(before, db_snapshot())
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            exc = result.exception
            findings.add(f"cli:{exception_key((type(exc), exc, exc.__traceback__))}",
                         f"{what} crashed: {exception_summary((type(exc), exc, exc.__traceback__))}", len(content))
            return
        if result.exit_code not in (0, 1):
            findings.add(f"exit:{result.exit_code}", f"{what} exited {result.exit_code}: {result.output[-300:]}",
                         len(content))
        if changed and (result.exit_code != 0 or "--dry-run" in options):
            findings.add("cli-refused-wrote", f"{what} exited {result.exit_code} but wrote {changed}", len(content))
        errors = re.search(r"(?:Rækker med fejl|Rows with errors): (\d+)", result.output)
        if not options and errors and int(errors.group(1)) and (changed or result.exit_code == 0):
            findings.add("cli-applied-with-errors", f"{what} reported errors but imported", len(content))

    fuzz()
    assert not findings, "fuzzing the import commands found:\n" + findings.report()
