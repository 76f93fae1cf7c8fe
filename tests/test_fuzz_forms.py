"""Property-based fuzzing of every form (Hypothesis): no 500, and no database change when refused.

The routes are read from ``app.url_map`` at collection time, so every POST route that exists —
including forms added later — gets its own test, for an administrator and for the region-1084
ambassador. For each route the fields are read from the HTML form that posts to it (the page
itself, or a page of the same area that embeds it), then Hypothesis posts arbitrary values:
Unicode and control characters, very long text, huge and odd numbers, far-out and impossible
dates, empty, repeated and missing fields, random files for file inputs, sometimes asking for
JSON. Properties checked for every single request:

* the status is below 500 and the app logged no unhandled exception;
* unless the answer is a redirect (a saved form) or a successful JSON answer, every table is
  exactly as before (row counts and contents, audit log included).

``FUZZ_EXAMPLES`` (default 1) multiplies the number of examples for a deeper run.
"""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import TestingConfig
from crm import create_app
from tests.fuzz_support import (
    WRITES_ON_REFUSAL,
    ErrorCapture,
    Findings,
    Form,
    build_url,
    db_snapshot,
    discover_forms,
    exception_key,
    exception_summary,
    form_payload,
    request_data,
    rule_by_text,
    seed_records,
    short_payload,
    snapshot_diff,
    write_rules,
)

SCALE = float(os.environ.get("FUZZ_EXAMPLES", "1"))


def _collect_areas() -> dict[str, list[tuple[str, str]]]:
    """Every write route of the app as it is now, grouped by blueprint (one test per area)."""
    config = type("FuzzCollectConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    areas: dict[str, list[tuple[str, str]]] = {}
    for endpoint, rule_text in write_rules(create_app(config)):
        areas.setdefault(endpoint.split(".")[0], []).append((endpoint, rule_text))
    # Deletes last, so the other forms of the area still find their records.
    return {area: sorted(rules, key=lambda r: ("delete" in r[0], r)) for area, rules in sorted(areas.items())}


AREAS = _collect_areas()
ROLES = ("admin", "ambassador")


def _examples(field_count: int, role: str) -> int:
    """Enough examples to vary every field, fewer for field-less (delete) forms and refused roles."""
    base = 3 if field_count <= 1 else min(6 + field_count // 2, 12)
    if role != "admin":
        base = 3
    return max(1, int(base * SCALE))


@pytest.mark.parametrize("area", list(AREAS))
def test_fuzz_forms_of_area(app, users, login_as, area):
    """Every write route of ``area``, as administrator and as the region-1084 ambassador."""
    capture = ErrorCapture()
    app.logger.addHandler(capture)
    findings = Findings()
    try:
        for endpoint, rule_text in AREAS[area]:
            for role in ROLES:
                seed_records(users)  # fresh records: an earlier route may have deleted or changed them
                fuzz_route(app, login_as(users[role]), endpoint, rule_text, role, capture, findings)
    finally:
        app.logger.removeHandler(capture)
    assert not findings, f"fuzzing the {area} forms found:\n{findings.report()}"


def fuzz_route(app, client, endpoint, rule_text, role, capture, findings) -> None:
    """Post Hypothesis-generated input to one route; record 500s and writes on refusal."""
    rule = rule_by_text(app, endpoint, rule_text)
    assert rule is not None
    url = build_url(app, rule)
    allows_get = "GET" in rule.methods
    state = {"forms": discover_forms(app, client, endpoint, url, allows_get), "stale": False}
    if not state["forms"]:
        # A form only shown to visitors who are not signed in (the sign-in form): fuzz it as one.
        anonymous = app.test_client()
        state["forms"] = discover_forms(app, anonymous, endpoint, url, allows_get)
        if state["forms"]:
            client = anonymous
    if not state["forms"]:
        # No HTML form posts here (an API, or a form that is not shown to this user): fuzz blind.
        state["forms"] = [Form("post", url, "", {})]
    field_count = max(len(f.fields) for f in state["forms"])
    method = "POST" if "POST" in rule.methods else sorted(rule.methods & {"PUT", "PATCH", "DELETE"})[0]

    @settings(max_examples=_examples(field_count, role), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def fuzz(data):
        if state["stale"] and allows_get:
            fresh = discover_forms(app, client, endpoint, url, allows_get)
            state["forms"] = fresh or state["forms"]
            state["stale"] = False
        form = data.draw(st.sampled_from(state["forms"]), label="form")
        payload = data.draw(form_payload(form), label="payload")
        wants_json = data.draw(st.integers(0, 4), label="json") == 0
        headers = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"} if wants_json else {}
        before = db_snapshot()
        capture.records.clear()
        multipart = form.has_file or any(isinstance(v, tuple) for _n, v in payload)
        response = client.open(url, method=method, data=request_data(payload), headers=headers,
                                content_type="multipart/form-data" if multipart else None)
        status = response.status_code
        where = f"{role} {method} {url} ({endpoint})"
        for record in capture.records:
            if record.exc_info:
                findings.add(f"500:{exception_key(record.exc_info)}",
                             f"{where} → {status}: {exception_summary(record.exc_info)}\n    input: "
                             f"{short_payload(payload)}{' [JSON]' if wants_json else ''}", len(repr(payload)))
        if status >= 500 and not capture.records:
            findings.add(f"status:{status}", f"{where} → {status} (no exception logged)\n    input: "
                         f"{short_payload(payload)}", len(repr(payload)))
        if 300 <= status < 400 or (status < 300 and response.is_json):
            state["stale"] = True  # saved: edit forms now carry a new version, records may be gone
            return
        if endpoint in WRITES_ON_REFUSAL or status >= 500:
            return
        changed = snapshot_diff(before, db_snapshot())
        if changed:
            findings.add(f"write:{status}:{','.join(c.split(':')[0] for c in changed)}",
                         f"{where} → {status} (not saved) but the database changed: {'; '.join(changed)}\n"
                         f"    input: {short_payload(payload)}", len(repr(payload)))
            state["stale"] = True

    fuzz()
