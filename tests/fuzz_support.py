"""Shared helpers for the fuzz tests (tests/test_fuzz_forms.py, tests/test_fuzz_imports.py).

Everything here is generic: routes are discovered from ``app.url_map``, form fields from the HTML
the app renders, URL arguments from whatever records exist, so forms added later are fuzzed
without editing the tests.
"""
from __future__ import annotations

import hashlib
import logging
import re
import traceback
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from typing import Any, Optional
from urllib.parse import urlsplit

from hypothesis import strategies as st
from sqlalchemy import select

from crm.extensions import db

# --------------------------------------------------------------------------------------------
# Routes

# Endpoints that are not forms of the product (or that only change the signed-in session).
SKIP_ENDPOINTS = {"static", "auth.logout", "auth.set_language"}
SKIP_PREFIXES = ("bootstrap.",)
# Routes that legitimately write on a refused submission (failed sign-in attempts are counted
# for the lockout), so only "no 500" is checked there.
WRITES_ON_REFUSAL = {"auth.login"}

MUNICIPALITY_CODE = 101  # København, region 1084 (the test ambassador's region)
REGION_CODE = 1084


def write_rules(app) -> list[tuple[str, str]]:
    """(endpoint, rule) of every route that accepts POST/PUT/PATCH/DELETE, sorted."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS or rule.endpoint.startswith(SKIP_PREFIXES):
            continue
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            found.add((rule.endpoint, rule.rule))
    return sorted(found)


def rule_by_text(app, endpoint: str, rule_text: str):
    """The werkzeug Rule object for (endpoint, rule) or None if it no longer exists."""
    for rule in app.url_map.iter_rules(endpoint):
        if rule.rule == rule_text:
            return rule
    return None


def _model_classes() -> list[type]:
    return [mapper.class_ for mapper in db.Model.registry.mappers]


def _model_for_argument(name: str) -> Optional[type]:
    """``review_id`` → FidelityReview, ``change_id`` → StageChange …: the model whose class name
    ends with the argument's stem (longest match wins)."""
    stem = re.sub(r"_?(id|pk)$", "", name.lower()).replace("_", "")
    if not stem:
        return None
    candidates = [cls for cls in _model_classes() if cls.__name__.lower().endswith(stem)]
    return min(candidates, key=lambda cls: len(cls.__name__)) if candidates else None


def existing_id(model: type, prefer_region: int = REGION_CODE) -> Optional[Any]:
    """An existing row's primary key, preferring the given region's rows."""
    pk = list(model.__mapper__.primary_key)[0]
    query = select(pk)
    region = getattr(model, "region_code", None)
    if region is not None:
        query = query.order_by((region == prefer_region).desc(), pk)
    else:
        query = query.order_by(pk)
    return db.session.execute(query.limit(1)).scalar()


def url_values(rule) -> dict[str, Any]:
    """Values for a rule's URL arguments taken from records in the database (1 / 'x' if unknown)."""
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = type(rule._converters.get(name)).__name__
        numeric = converter in ("IntegerConverter", "NumberConverter")
        if name in ("code", "municipality_code", "municipality"):
            values[name] = MUNICIPALITY_CODE
            continue
        if name in ("region", "region_code"):
            values[name] = REGION_CODE
            continue
        if name == "year":
            values[name] = 2025
            continue
        model = _model_for_argument(name) if numeric or name.endswith("_id") else None
        value = existing_id(model) if model is not None else None
        if value is None:
            value = 1 if numeric else "x"
        values[name] = value
    return values


def build_url(app, rule) -> str:
    """The rule's URL filled from :func:`url_values` (defaults honoured by url_for)."""
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **url_values(rule))


# --------------------------------------------------------------------------------------------
# Records every form can work on


def seed_records(users: dict) -> None:
    """One record of each kind in region 1084 (and a few in 1085), so URL arguments resolve.

    Each kind is created independently: a model changed by another area must not stop the rest.
    """
    from tests import factories

    def attempt(make):
        try:
            make()
            db.session.commit()
        except Exception:  # noqa: BLE001 - seeding is best effort; a missing record means 404s
            db.session.rollback()

    attempt(lambda: factories.CentreFactory(region_code=REGION_CODE))
    attempt(lambda: factories.StageChangeFactory(municipality_code=MUNICIPALITY_CODE))
    attempt(lambda: factories.NoteFactory(municipality_code=MUNICIPALITY_CODE))
    attempt(lambda: factories.ContactFactory(region_code=REGION_CODE))
    attempt(_activity)
    attempt(_plan)
    attempt(_fidelity_review)
    attempt(_target_group)
    attempt(_outcome_quarter)
    attempt(lambda: factories.TaskFactory(municipality_code=MUNICIPALITY_CODE, due_date=date(2025, 6, 1)))
    attempt(_grant_records)
    attempt(lambda: _saved_report(users))


def _grant_records():
    """The cost lines, a draft budget with a line per cost line, and an expense, in region 1084."""
    from sqlalchemy import select

    from crm.models import CostLine
    from crm.services.reference import seed_cost_lines
    from tests import factories

    seed_cost_lines()
    db.session.commit()
    lines = db.session.scalars(select(CostLine)).all()
    factories.BudgetVersionFactory(region_code=REGION_CODE, amounts={line.id: 100_000 for line in lines})
    factories.ExpenseFactory(region_code=REGION_CODE, cost_line_id=lines[0].id)


def _saved_report(users: dict) -> None:
    from crm.models import SavedReportAddress
    from tests import factories

    owner = users["ambassador"]
    report = factories.SavedReportFactory(region_code=REGION_CODE, owner_id=owner.id, recipients=[owner])
    db.session.add(SavedReportAddress(saved_report_id=report.id, email="chef@jobcenter.dk", proposed_by_id=owner.id))


def _activity():
    from crm.models import Activity, Municipality
    from tests import factories

    activity = factories.ActivityFactory(region_code=REGION_CODE)
    activity.municipalities.append(db.session.get(Municipality, MUNICIPALITY_CODE))
    if isinstance(activity, Activity):
        db.session.add(activity)


def _plan():
    from crm.models import Municipality
    from tests import factories

    plan = factories.PlanFactory(region_code=REGION_CODE, signed_date=date(2025, 6, 1))
    plan.municipalities.append(db.session.get(Municipality, MUNICIPALITY_CODE))


def _fidelity_review():
    from crm.models import FidelityReview

    db.session.add(FidelityReview(municipality_code=MUNICIPALITY_CODE, review_date=date(2025, 5, 5), team="Team Fuzz"))


def _target_group():
    from crm.models import TargetGroup

    db.session.add(TargetGroup(name="Unge under 30", region_code=REGION_CODE))


def _outcome_quarter():
    from crm.models import OutcomeQuarter

    db.session.add(OutcomeQuarter(municipality_code=MUNICIPALITY_CODE, quarter="2025Q1", citizens=10,
                                  with_paid_hours=3, with_employment=2, with_education=1,
                                  ever_paid_hours_or_education=4))


# --------------------------------------------------------------------------------------------
# HTML forms


@dataclass
class Field:
    """One named control of a form. ``kind``: text, textarea, select, checkbox, radio, file,
    hidden, submit, number, date, email, password …; ``options`` for select/radio/checkbox."""

    name: str
    kind: str
    value: str = ""
    options: list[str] = field(default_factory=list)
    multiple: bool = False
    placeholder: str = ""


@dataclass
class Form:
    method: str
    action: str
    enctype: str
    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def has_file(self) -> bool:
        return any(f.kind == "file" for f in self.fields.values())


class FormParser(HTMLParser):
    """Collect every <form> with its named inputs, selects (with options), textareas, buttons."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Optional[Form] = None
        self._select: Optional[Field] = None
        self._textarea: Optional[Field] = None
        self._option_value: Optional[str] = None
        self._option_text = ""

    def _add(self, f: Field) -> None:
        if self._form is None or not f.name:
            return
        existing = self._form.fields.get(f.name)
        if existing is not None and f.kind in ("radio", "checkbox", "submit"):
            for option in f.options:
                if option not in existing.options:
                    existing.options.append(option)
            existing.value = existing.value or f.value
            existing.multiple = existing.multiple or f.kind == "checkbox"
            return
        if existing is None:
            self._form.fields[f.name] = f

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form((a.get("method") or "get").lower(), a.get("action") or "",
                              (a.get("enctype") or "").lower())
            self.forms.append(self._form)
        elif tag == "input":
            kind = (a.get("type") or "text").lower()
            value = a.get("value", "on" if kind in ("checkbox", "radio") else "")
            options = [value] if kind in ("checkbox", "radio", "submit") else []
            f = Field(a.get("name", ""), kind, value if kind not in ("checkbox", "radio") or "checked" in a else "",
                      options, placeholder=a.get("placeholder", ""))
            self._add(f)
        elif tag == "button":
            kind = (a.get("type") or "submit").lower()
            if kind == "submit" and a.get("name"):
                self._add(Field(a["name"], "submit", a.get("value", ""), [a.get("value", "")]))
        elif tag == "select":
            self._select = Field(a.get("name", ""), "select", "", [], multiple="multiple" in a)
            self._add(self._select)
        elif tag == "option" and self._select is not None:
            self._option_value = a.get("value")
            self._option_text = ""
            if "selected" in a:
                self._select.value = a.get("value", "")
        elif tag == "textarea":
            self._textarea = Field(a.get("name", ""), "textarea", "", placeholder=a.get("placeholder", ""))
            self._add(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data
        if self._option_value is not None or self._select is not None:
            self._option_text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "option" and self._select is not None:
            value = self._option_value if self._option_value is not None else self._option_text.strip()
            self._select.options.append(value)
            self._option_value = None
        elif tag == "textarea":
            if self._textarea is not None:  # HTML drops one newline right after <textarea>
                self._textarea.value = re.sub(r"^\r?\n", "", self._textarea.value)
            self._textarea = None


def parse_forms(html: str) -> list[Form]:
    parser = FormParser()
    parser.feed(html)
    return [f for f in parser.forms if f.method == "post"]


def _endpoint_of(app, path: str) -> Optional[str]:
    """The endpoint a POST to ``path`` reaches (None if no route)."""
    try:
        endpoint, _args = app.url_map.bind("localhost").match(path, method="POST")
    except Exception:  # noqa: BLE001 - 404/405/redirects: not a form of ours
        return None
    return endpoint


def forms_posting_to(app, html: str, page_path: str, target_path: str) -> list[Form]:
    """The POST forms on a page (at ``page_path``) that post to ``target_path``, or failing that to
    the same route with other URL arguments (e.g. the board's card of another municipality)."""
    exact, same_route = [], []
    target_endpoint = _endpoint_of(app, target_path)
    for form in parse_forms(html):
        action = urlsplit(form.action).path if form.action else page_path
        if action == target_path:
            exact.append(form)
        elif target_endpoint and _endpoint_of(app, action) == target_endpoint:
            same_route.append(form)
    return exact or same_route[:1]


def get_pages(app, exclude: set[str] = frozenset()):
    """(endpoint, url) of every GET page, with its URL filled from the records."""
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIP_ENDPOINTS or rule.endpoint.startswith(SKIP_PREFIXES):
            continue
        if rule.endpoint == "static" or rule.endpoint in exclude:
            continue
        try:
            pages.append((rule.endpoint, build_url(app, rule)))
        except Exception:  # noqa: BLE001 - a rule we cannot build is simply not crawled
            continue
    return pages


def discover_forms(app, client, endpoint: str, url: str, allows_get: bool) -> list[Form]:
    """The HTML forms that post to ``url``: from the page itself, else from any page that links it
    (the same blueprint's pages first)."""
    target = urlsplit(url).path
    if allows_get:
        response = client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            forms = forms_posting_to(app, response.get_data(as_text=True), target, target)
            if forms:
                return forms
    # A form that posts elsewhere lives on a page of the same area (blueprint).
    blueprint = endpoint.split(".")[0]
    pages = sorted(p for p in get_pages(app) if p[0].split(".")[0] == blueprint)
    found: list[Form] = []
    for page_endpoint, page_url in pages:
        response = client.get(page_url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        found.extend(forms_posting_to(app, response.get_data(as_text=True), urlsplit(page_url).path, target))
        if found:
            return found
    return found


# --------------------------------------------------------------------------------------------
# Values

FAR_DATES = ["31-12-9999", "0001-01-01", "29-02-2023", "99-99-9999", "00-00-0000", "1-1-1", "10000-01-01",
             "2026-13-01", "32-01-2026", "9999-12-31", "01-01-1900", "1899-12-31", "2026-02-30", "23/11/2026",
             "23.11.2026", "2026-11-23T10:00", " 23-11-2026 ", "23-11-26", "-0001-01-01", "29-02-2024"]
ODD_NUMBERS = ["1e309", "-1e309", "NaN", "nan", "inf", "-inf", "-0", "1,5", "2.5", "1.000.000", "0x10", "１２３",
               "١٢٣", "9" * 40, "-" + "9" * 40, "2147483648", "-2147483649", "9223372036854775808", "1_000",
               "0.0000001", "1e-400", "+5", " 7 ", "٣", "Infinity", "-1", "0"]
ODD_TEXT = ["\x00", "a\x00b", "<script>alert(1)</script>", "'; DROP TABLE \"user\"; --", "%s%s%n", "{{ 7*7 }}",
            " ", "\t\r\n", "\u202eevil", "😀" * 3, "Ærø Å Ø", "\ufeff", "\ud7ff", "NULL", "None", "true", "[]",
            "{}", "\\", "../../etc/passwd", "a" * 201, "x" * 2001]


def long_text() -> st.SearchStrategy[str]:
    return st.builds(lambda n, ch: ch * n, st.sampled_from([255, 256, 1001, 5000, 70_000]),
                     st.sampled_from(["a", "ø", "😀", "1", " "]))


def fuzz_text() -> st.SearchStrategy[str]:
    """Arbitrary input for any field: Unicode, control characters, huge/odd numbers, far dates…"""
    return st.one_of(
        st.just(""),
        st.text(max_size=30),
        st.sampled_from(ODD_TEXT),
        st.integers(min_value=-(10 ** 40), max_value=10 ** 40).map(str),
        st.sampled_from(ODD_NUMBERS),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(FAR_DATES),
        st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).flatmap(
            lambda d: st.sampled_from([d.strftime("%d-%m-%Y"), d.isoformat()])),
        long_text(),
    )


def plausible_value(f: Field) -> str:
    """A value likely to pass validation, so that fuzzing other fields reaches the save path."""
    if f.kind in ("select", "radio"):
        options = [o for o in f.options if o != ""]
        return f.value or (options[0] if options else "")
    if f.kind in ("checkbox", "submit"):
        return f.options[0] if f.options else (f.value or "y")
    if f.value:
        return f.value
    name = f.name.lower()
    hint = (f.placeholder or "").lower()
    if f.kind == "date" or "date" in name or "dato" in name or "dd-mm" in hint or "due" in name \
            or name.endswith(("_from", "_to", "from", "until")):
        return "15-03-2025"
    if f.kind == "number" or any(w in name for w in ("hours", "participants", "number", "count", "score",
                                                     "citizens", "total", "version")):
        return "2"
    if f.kind == "email" or "email" in name:
        return "fuzz@test.dk"
    if f.kind == "password" or "password" in name:
        return "correct horse battery staple"
    return "Fuzz tekst"


FILENAMES = ["plan.pdf", "x.csv", "data.xlsx", "a.txt", "evil.html", "run.exe", "", "../../x.pdf", "ø æ å.pdf",
             "a" * 300 + ".pdf", "noext", ".pdf", "x.PDF", "x.docx"]


def file_payload() -> st.SearchStrategy[tuple[bytes, str]]:
    contents = st.one_of(
        st.binary(max_size=2000),
        st.just(b""),
        st.just(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
        st.just(b"<html><script>alert(1)</script></html>"),
        st.just(b"PK\x03\x04" + b"\x00" * 50),
        st.text(max_size=300).map(lambda t: t.encode("utf-8")),
    )
    return st.tuples(contents, st.sampled_from(FILENAMES))


@st.composite
def form_payload(draw, form: Form):
    """A multidict-style payload for ``form``: each field valid, fuzzed, repeated or missing."""
    payload: list[tuple[str, Any]] = []
    for f in form.fields.values():
        if f.name == "csrf_token":
            if draw(st.booleans()):
                payload.append((f.name, f.value))
            continue
        mode = draw(st.sampled_from(["valid", "valid", "fuzz", "missing", "fuzz_valid_choice"]))
        if mode == "missing":
            continue
        if f.kind == "file":
            if mode == "valid" and draw(st.booleans()):
                continue
            payload.append((f.name, draw(file_payload())))  # (bytes, filename); see request_data
            continue
        if mode == "valid" or (mode == "fuzz_valid_choice" and not f.options):
            if f.multiple and f.options:
                for value in draw(st.lists(st.sampled_from(f.options), max_size=4, unique=True)):
                    payload.append((f.name, value))
            else:
                payload.append((f.name, plausible_value(f)))
        elif mode == "fuzz_valid_choice":
            payload.append((f.name, draw(st.sampled_from(f.options))))
        else:
            for value in draw(st.lists(fuzz_text(), min_size=1, max_size=2)):
                payload.append((f.name, value))
    if draw(st.integers(0, 9)) == 0:
        payload.append((draw(st.text(min_size=1, max_size=10)), draw(fuzz_text())))
    return payload


# --------------------------------------------------------------------------------------------
# Database state and server errors


# Bookkeeping a refused form is meant to write: a wrong (current) password counts towards the
# sign-in back-off (crm/services/signin.py), and that write renews the data token as any does.
BOOKKEEPING_TABLES = {"sign_in_throttle", "data_version"}


def db_snapshot() -> dict[str, str]:
    """Per table: row count and a digest of all rows (catches updates as well as inserts)."""
    db.session.rollback()  # see committed data only, and never hold a failed transaction
    state = {}
    for table in db.metadata.sorted_tables:
        if table.name in BOOKKEEPING_TABLES:
            continue
        rows = db.session.execute(select(table)).all()
        digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()[:16]
        state[table.name] = f"{len(rows)}:{digest}"
    db.session.rollback()
    return state


def snapshot_diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [f"{name}: {before.get(name)} → {after.get(name)}" for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)]


class ErrorCapture(logging.Handler):
    """Records the exceptions the app logs (its 500 handler logs every unhandled error)."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def summaries(self) -> list[str]:
        return [exception_summary(r.exc_info) if r.exc_info else record_text(r) for r in self.records]


def record_text(record) -> str:
    return record.getMessage()


def exception_summary(exc_info) -> str:
    """'ExcType: message' plus the project frames (file:line in function) of the traceback."""
    _type, value, tb = exc_info
    frames = [f"{fr.filename.split('/work/main/')[-1]}:{fr.lineno} in {fr.name}"
              for fr in traceback.extract_tb(tb)
              if "/work/main/" in fr.filename and "/.venv/" not in fr.filename and "/tests/" not in fr.filename]
    head = "".join(traceback.format_exception_only(_type, value)).strip().splitlines()
    message = " ".join(head)[:400]
    return f"{message}  [{' <- '.join(reversed(frames[-4:]))}]"


def exception_key(exc_info) -> str:
    """Distinct-bug key: exception type and the innermost project frame."""
    _type, value, tb = exc_info
    frames = [fr for fr in traceback.extract_tb(tb) if "/work/main/" in fr.filename and "/.venv/" not in fr.filename]
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return f"{_type.__name__}@{where}"


def request_data(payload):
    """The payload as request data: files ``(bytes, name)`` become fresh file objects."""
    from io import BytesIO

    from werkzeug.datastructures import MultiDict

    return MultiDict([(name, (BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value)
                      for name, value in payload])


def short_payload(payload) -> str:
    """A readable, bounded rendering of a payload for failure reports."""
    parts = []
    for name, value in payload:
        if isinstance(value, tuple):
            content = value[0]
            value = f"<file {value[1]!r}, {len(content)} bytes: {content[:40]!r}>"
        else:
            value = repr(value) if len(value) <= 80 else repr(value[:60]) + f"…(len {len(value)})"
        parts.append(f"{name}={value}")
    return "{" + ", ".join(parts) + "}"


class Findings:
    """Distinct problems found during one fuzz run (first/shortest input kept per problem)."""

    def __init__(self):
        self.items: dict[str, tuple[int, str]] = {}

    def add(self, key: str, description: str, size: int) -> None:
        if key not in self.items or size < self.items[key][0]:
            self.items[key] = (size, description)

    def __bool__(self):
        return bool(self.items)

    def report(self) -> str:
        return "\n".join(f"- {desc}" for _size, desc in self.items.values())

