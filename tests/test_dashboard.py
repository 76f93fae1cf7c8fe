"""The national coverage dashboard: figures against independently built expectations, the status
report's covered count, a constant number of queries, bad dates, links and read-only access."""
import re
from datetime import date, timedelta
from math import ceil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from crm.clock import local_today
from crm.extensions import db
from crm.formatting import add_months
from crm.models import Activity, Municipality, Note, StageChange
from crm.services import dashboard as service
from crm.services.stages import load_history, replay_stages_on, stages_on
from crm.views import charts
from tests.factories import ActivityFactory, NoteFactory, StageChangeFactory

COVERED = {"plan_signed", "in_operation"}

# (municipality code, region, [(date, stage), ...]) — built by hand, read independently below.
HISTORY = {
    101: [(date(2024, 3, 1), "dialogue"), (date(2024, 9, 10), "plan_signed"), (date(2025, 6, 1), "in_operation")],
    147: [(date(2024, 5, 1), "dialogue"), (date(2025, 2, 1), "plan_signed"), (date(2025, 11, 1), "paused")],
    851: [(date(2024, 4, 15), "plan_in_progress"), (date(2025, 1, 31), "plan_signed")],
    825: [(date(2025, 3, 3), "in_operation")],
    400: [(date(2024, 12, 31), "plan_signed")],
    461: [(date(2025, 5, 5), "dialogue")],
    330: [(date(2024, 2, 2), "plan_signed"), (date(2024, 8, 8), "dialogue")],
}
PROBE_DATES = [date(2024, 1, 1), date(2024, 9, 9), date(2024, 9, 10), date(2024, 12, 31), date(2025, 1, 31),
               date(2025, 3, 2), date(2025, 3, 3), date(2025, 10, 31), date(2025, 11, 1), local_today()]


def _add_history(history=HISTORY):
    for code, changes in history.items():
        for day, stage in changes:
            StageChangeFactory(municipality_code=code, stage=stage, effective_date=day)


def _expected_stage(code: int, day: date, history=HISTORY) -> str:
    stage = "not_contacted"
    for when, what in sorted(history.get(code, [])):
        if when <= day:
            stage = what
    return stage


REGION_OF = {101: 1084, 147: 1084, 851: 1081, 825: 1081, 400: 1084, 461: 1083, 330: 1085}


def _expected_covered(day: date, region_code=None, history=HISTORY) -> int:
    return sum(
        1 for code in history
        if _expected_stage(code, day, history) in COVERED and region_code in (None, REGION_OF[code])
    )


def _headline(html: str) -> int:
    match = re.search(r'class="headline-covered">(\d+)<', html)
    assert match, "headline figure missing"
    return int(match.group(1))


def _region_row(html: str, name: str, table: str = "region-table") -> list[str]:
    html = re.search(rf'<table class="[^"]*{table}[^"]*">(.*?)</table>', html, re.S).group(1)
    row = re.search(rf'<th scope="row">{name}</th>(.*?)</tr>', html, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


# --- Figures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("day", PROBE_DATES)
def test_covered_counts_match_expectation_and_status_report(app, users, login_as, day):
    _add_history()
    from crm.services.report import status_report

    client = login_as(users["working_group"])
    html = client.get(f"/overblik/?on={day:%d-%m-%Y}").get_data(as_text=True)
    expected = _expected_covered(day)
    assert _headline(html) == expected
    data = service.build_dashboard(day, 2 / 3, date(2027, 12, 31))
    assert data.national.covered == expected
    report = status_report(day, day)
    assert report.value("municipalities_covered_at_end", "total") == expected
    for region_code, name in ((1081, "Nordjylland"), (1084, "Hovedstaden"), (1085, "Sjælland")):
        expected_region = _expected_covered(day, region_code)
        assert data.coverage[region_code].covered == expected_region
        assert report.value("municipalities_covered_at_end", region_code) == expected_region
        assert _region_row(html, name)[0] == str(expected_region)


def test_today_is_the_default_and_iso_dates_work(app, users, login_as):
    _add_history()
    client = login_as(users["working_group"])
    assert _headline(client.get("/overblik/").get_data(as_text=True)) == _expected_covered(local_today())
    html = client.get("/overblik/?on=2025-01-31").get_data(as_text=True)
    assert _headline(html) == _expected_covered(date(2025, 1, 31)) == 3  # 101, 851, 400; 330 went back
    assert "31-01-2025" in html
    assert 'value="31-01-2025"' in html and 'value="2025-01-31"' not in html  # the box shows DD-MM-YYYY


def test_a_bad_date_says_which_date_is_shown_instead(app, users, login_as):
    html = login_as(users["working_group"]).get("/overblik/?on=abc").get_data(as_text=True)
    assert 'value="abc"' in html and "Ugyldig dato" in html
    assert f"Viser status pr. {local_today():%d-%m-%Y} i stedet." in html


def test_targets_come_from_settings(app, users, login_as):
    client = login_as(users["working_group"])
    html = client.get("/overblik/").get_data(as_text=True)
    nat = _region_row(html, "Hele landet")
    assert nat[:5] == ["0", "98", "0,0 %", str(ceil(2 / 3 * 98)), "66"]
    assert _region_row(html, "Nordjylland")[3] == "7"  # 66 × 11/98 = 7,41 → 7
    assert _region_row(html, "Hovedstaden")[3] == "20"  # 66 × 29/98 = 19,53 → 19 + a remainder seat
    assert "31-12-2027" in html
    app.config["COVERAGE_TARGET_FRACTION"] = 0.5
    app.config["PROGRAMME_END"] = date(2030, 6, 30)
    html = client.get("/overblik/").get_data(as_text=True)
    assert _region_row(html, "Hele landet")[3] == "49"
    assert _region_row(html, "Nordjylland")[3] == "5"  # 49 × 11/98 = 5,5; the larger remainders win
    assert "30-06-2030" in html


def test_regional_targets_add_up_to_the_national_target(app, users, login_as):
    """Largest remainder: the national 66 shared in proportion to the regions' municipalities."""
    html = login_as(users["working_group"]).get("/overblik/").get_data(as_text=True)
    names = ["Nordjylland", "Midtjylland", "Syddanmark", "Hovedstaden", "Sjælland"]
    targets = {name: int(_region_row(html, name)[3]) for name in names}
    missing = {name: int(_region_row(html, name)[4]) for name in names}
    assert targets == {"Nordjylland": 7, "Midtjylland": 13, "Syddanmark": 15, "Hovedstaden": 20, "Sjælland": 11}
    assert sum(targets.values()) == 66 == int(_region_row(html, "Hele landet")[3])
    assert sum(missing.values()) == 66 == int(_region_row(html, "Hele landet")[4])
    assert "største brøkdel" in html  # the rule is shown on the page


def test_apportioned_targets_always_sum_to_the_national_target():
    sizes = {1081: 11, 1082: 19, 1083: 22, 1084: 29, 1085: 17}
    for fraction in (0.1, 0.25, 1 / 3, 0.5, 0.6, 2 / 3, 0.75, 0.9, 1.0):
        national = service.coverage_target(98, fraction)
        targets = service.apportion_target(national, sizes)
        assert sum(targets.values()) == national
        for code, size in sizes.items():  # each within one of its exact share
            assert abs(targets[code] - national * size / 98) < 1
    # Equal remainders go to the larger region, then the lower code.
    assert service.apportion_target(1, {1: 1, 2: 1}) == {1: 1, 2: 0}
    assert service.apportion_target(1, {1: 1, 2: 2, 3: 1}) == {1: 0, 2: 1, 3: 0}


def test_coverage_target_and_missing():
    assert service.coverage_target(98, 2 / 3) == 66
    assert [service.coverage_target(n, 2 / 3) for n in (11, 17, 19, 22, 29)] == [8, 12, 13, 15, 20]
    assert service.coverage_target(98, 0.5) == 49
    coverage = service.Coverage(70, 98, 66)
    assert coverage.missing == 0 and round(coverage.pct, 1) == 71.4
    assert service.Coverage(38, 98, 66).missing == 28


def test_months_before_clamps_to_month_end():
    assert add_months(date(2026, 8, 31), -6) == date(2026, 2, 28)
    assert add_months(date(2024, 8, 31), -6) == date(2024, 2, 29)
    assert add_months(date(2026, 3, 15), -6) == date(2025, 9, 15)
    assert add_months(date(2026, 1, 1), -12) == date(2025, 1, 1)


# --- Trend and funnel --------------------------------------------------------------------------


def test_monthly_trend_matches_stages_on_at_each_month_end(app):
    _add_history()
    on = date(2025, 11, 15)
    data = service.build_dashboard(on, 2 / 3, date(2027, 12, 31))
    points = data.trend
    assert points[0].on == date(2024, 2, 29)  # first recorded change: 02-02-2024
    assert points[-1].on == on
    assert len(points) == 22  # February 2024 … November 2025
    for point in points:
        assert point.covered[service.NATIONAL] == _expected_covered(point.on)
        assert point.covered[1084] == _expected_covered(point.on, 1084)
    for point in points[::5]:  # and the SQL rule agrees with the replay
        assert point.covered[service.NATIONAL] == sum(s.covered for s in stages_on(point.on).values())


def test_stages_replayed_from_history_match_stages_on(app):
    _add_history()
    regions, region_of = service.regions_and_municipalities()
    assert [r.code for r in regions] == [1081, 1082, 1083, 1084, 1085] and len(region_of) == 98
    history = load_history()
    for day in PROBE_DATES + [date(2024, 2, 1), date(2024, 2, 2)]:
        assert replay_stages_on(history, region_of, day) == stages_on(day), day


def test_target_line_runs_from_first_month_to_target_at_programme_end(app):
    _add_history()
    data = service.build_dashboard(date(2025, 11, 15), 2 / 3, date(2027, 12, 31))
    line = data.national_series.target_line
    assert (line.start, line.start_value) == (date(2024, 2, 29), 1)
    assert (line.end, line.end_value) == (date(2027, 12, 31), 66)
    assert line.value_on(line.start) == 1 and line.value_on(date(2030, 1, 1)) == 66
    midpoint = line.start + (line.end - line.start) / 2
    assert abs(line.value_on(midpoint) - 33.5) < 0.05
    regional = {s.key: s.target_line.end_value for s in data.region_series}
    assert regional == {1081: 7, 1082: 13, 1083: 15, 1084: 20, 1085: 11}  # sums to 66 (largest remainder)


def test_trend_chart_is_svg_with_axis_labels_and_numbers(app, users, login_as):
    _add_history()
    html = login_as(users["working_group"]).get("/overblik/?on=15-11-2025").get_data(as_text=True)
    assert html.count('class="trend-chart"') == 6  # nation + five regions
    assert "Mål 66" in html and "Kommuner</text>" in html
    assert re.search(r'class="tick"[^>]*>2025</text>', html)
    assert 'class="target-line"' in html and 'class="actual-line"' in html
    assert "Tallene bag kurverne" in html
    table = re.search(r'<details class="mt-2 trend-table">(.*?)</details>', html, re.S).group(1)
    row = re.search(r'<th scope="row">31-10-2025</th>(.*?)</tr>', table, re.S).group(1)
    cells = re.findall(r'<td class="text-end">([^<]*)</td>', row)
    assert cells[0] == str(_expected_covered(date(2025, 10, 31)))  # the nation, then the target line, then regions
    assert re.fullmatch(r"\d+,\d", cells[1])
    assert cells[2:] == [str(_expected_covered(date(2025, 10, 31), code)) for code in (1081, 1082, 1083, 1084, 1085)]


def test_funnel_counts_now_and_six_months_earlier(app):
    _add_history()
    on = date(2025, 11, 15)
    data = service.build_dashboard(on, 2 / 3, date(2027, 12, 31))
    assert data.earlier == date(2025, 5, 15)
    rows = {r.stage: r for r in data.funnel}
    for stage in ("dialogue", "plan_signed", "in_operation", "paused", "not_contacted"):
        now = sum(1 for code in HISTORY if _expected_stage(code, on) == stage)
        before = sum(1 for code in HISTORY if _expected_stage(code, data.earlier) == stage)
        if stage == "not_contacted":
            now, before = now + 98 - len(HISTORY), before + 98 - len(HISTORY)
        assert (rows[stage].now, rows[stage].earlier) == (now, before), stage
    assert sum(r.now for r in data.funnel) == 98


# --- Activity overview and gone quiet ----------------------------------------------------------


def test_activity_overview_counts_per_region_track_and_half_year(app, users, login_as):
    on = date(2026, 3, 15)  # this half: 01-01-2026–15-03-2026; last: 01-07-2025–31-12-2025
    for day, kind, region in [
        (date(2026, 1, 1), "dialogue_meeting", 1084), (date(2026, 3, 15), "workshop", 1084),
        (date(2026, 3, 16), "workshop", 1084),  # after the as-of date: not counted
        (date(2025, 12, 31), "course", 1084), (date(2025, 7, 1), "supervision", 1084),
        (date(2025, 6, 30), "course", 1084),  # before last half year
        (date(2026, 2, 2), "conference", None), (date(2025, 9, 9), "other", 1081),
    ]:
        ActivityFactory(start_date=day, type=kind, region_code=region)
    counts = service.activity_overview(on)
    assert counts[(1084, 1)] == (2, 0)
    assert counts[(1084, 2)] == (0, 2)
    assert counts[(None, 3)] == (1, 0)
    assert counts[(1081, service.OTHER_TRACK)] == (0, 1)
    assert (1085, 1) not in counts

    html = login_as(users["working_group"]).get("/overblik/?on=15-03-2026").get_data(as_text=True)
    cells = _region_row(html, "Hovedstaden", "activity-table")
    assert cells[:4] == ["2", "0", "0", "2"]  # track 1 now/before, track 2 now/before
    assert cells[-2:] == ["2", "2"]  # totals
    assert "/aktiviteter/?date_from=2026-01-01&amp;date_to=2026-03-15&amp;region=1084&amp;track=1" in html
    assert "date_from=2025-07-01&amp;date_to=2025-12-31&amp;region=1081&amp;type=other" in html
    assert "region=national&amp;track=3" in html


def test_stage_table_per_region_counts_and_links(app, users, login_as):
    """The table of stages per region: each count as recorded, linked to exactly those
    municipalities (the report's list on a past date), plain when there are none."""
    _add_history()
    on = date(2025, 3, 15)
    html = login_as(users["working_group"]).get(f"/overblik/?on={on:%d-%m-%Y}").get_data(as_text=True)
    table = re.search(r'<table class="[^"]*stage-region-table[^"]*">(.*?)</table>', html, re.S).group(1)
    row = re.search(r'<th scope="row">Hovedstaden</th>(.*?)</tr>', table, re.S).group(1)
    cells = re.findall(r'<td class="text-end">(.*?)</td>', row)
    stages = ["not_contacted", "dialogue", "plan_in_progress", "plan_signed", "in_operation", "paused"]
    hovedstaden = [code for code, region in REGION_OF.items() if region == 1084]
    for stage, cell in zip(stages, cells, strict=True):
        expected = sum(1 for code in hovedstaden if _expected_stage(code, on) == stage)
        if stage == "not_contacted":
            expected += 29 - len(hovedstaden)
        if expected:
            assert cell == (f'<a href="/rapporter/detaljer?metric=stage_{stage}_at_end&amp;region=1084&amp;'
                            f'start={on}&amp;end={on}">{expected}</a>'), stage
        else:
            assert cell == "0", stage


def test_gone_quiet_uses_activities_notes_and_stage_changes(app):
    today = date(2026, 6, 30)
    cutoff = date(2025, 12, 30)
    recent_activity = ActivityFactory(start_date=today - timedelta(days=30), region_code=1084)
    recent_activity.municipalities = [db.session.get(Municipality, 101)]
    old_activity = ActivityFactory(start_date=cutoff - timedelta(days=1), region_code=1084)
    old_activity.municipalities = [db.session.get(Municipality, 147)]
    planned = ActivityFactory(start_date=today + timedelta(days=5), region_code=1084)
    planned.municipalities = [db.session.get(Municipality, 147), db.session.get(Municipality, 151)]
    db.session.commit()
    NoteFactory(municipality_code=153, note_date=cutoff)  # exactly six months ago: still in time
    NoteFactory(municipality_code=155, note_date=date(2025, 1, 1))
    StageChangeFactory(municipality_code=157, effective_date=today, stage="dialogue")
    StageChangeFactory(municipality_code=155, effective_date=date(2025, 2, 1), stage="dialogue")

    quiet = dict(service.gone_quiet(today))
    for code in (101, 153, 157):
        assert db.session.get(Municipality, code) not in quiet
    by_code = {m.code: last for m, last in quiet.items()}
    assert by_code[147] == cutoff - timedelta(days=1)
    assert by_code[155] == date(2025, 2, 1)
    assert by_code[151] is None  # only a planned activity
    assert len(by_code) == 98 - 3
    assert all(isinstance(last, date) or last is None for last in by_code.values())

    hov = service.gone_quiet(today, region_code=1084)
    assert {m.region_code for m, _last in hov} == {1084}
    assert len(hov) == 29 - 3
    ordered = [last for _m, last in hov]
    assert ordered[: ordered.count(None)] == [None] * ordered.count(None)  # never contacted first
    dated = [d for d in ordered if d is not None]
    assert dated == sorted(dated)
    assert {m.code for m, _l in service.gone_quiet(today, months=24)} == {m.code for m, l in quiet.items() if l is None}


def test_gone_quiet_sees_every_recent_activity_through_its_links(app):
    """A municipality with an activity inside the period is not quiet, however many activities
    were logged since; one whose last activity is older is, with that date (the link's copy of
    the start date, which the database keeps, is what is read; moving an activity moves it)."""
    today = date(2026, 6, 30)
    activities = []
    for n, code in enumerate((101, 147, 151, 153, 155)):
        activity = ActivityFactory(start_date=today - timedelta(days=50 * n), region_code=1084)
        activity.municipalities = [db.session.get(Municipality, code)]
        activities.append(activity)
    for i in range(30):  # later activities elsewhere
        ActivityFactory(start_date=today - timedelta(days=i), region_code=1085).municipalities = [
            db.session.get(Municipality, 259)]
    db.session.commit()
    quiet = dict((m.code, last) for m, last in service.gone_quiet(today))
    assert {101, 147, 151, 153, 259}.isdisjoint(quiet) and quiet[155] == today - timedelta(days=200)
    activities[0].start_date = today - timedelta(days=300)
    db.session.commit()
    quiet = dict((m.code, last) for m, last in service.gone_quiet(today))
    assert quiet[101] == today - timedelta(days=300)


def test_gone_quiet_is_one_query(app, count_queries):
    for i in range(30):
        NoteFactory(municipality_code=101, note_date=date(2025, 1, 1) + timedelta(days=i))
    with count_queries() as q:
        result = service.gone_quiet(date(2026, 6, 30))
        [m.region.name for m, _last in result]
    assert q.count == 1


# --- Queries, bad input, access ----------------------------------------------------------------


def _long_history():
    """Monthly stage changes for 60 municipalities over five years, plus notes and activities."""
    stages = ["dialogue", "plan_in_progress", "plan_signed", "in_operation", "paused"]
    codes = [m.code for m in db.session.query(Municipality).order_by(Municipality.code).limit(60)]
    start = date(2021, 1, 1)
    for n, code in enumerate(codes):
        for k in range(12):
            db.session.add(StageChange(municipality_code=code, stage=stages[(n + k) % 5],
                                       effective_date=start + timedelta(days=30 * k * 5 + n)))
        db.session.add(Note(municipality_code=code, note_date=start + timedelta(days=n * 20), text="Notat"))
    for k in range(200):
        db.session.add(Activity(type="dialogue_meeting", title=f"Møde {k}", start_date=start + timedelta(days=9 * k),
                                region_code=1081 + k % 5))
    db.session.commit()


def test_constant_number_of_queries_whatever_the_history(app, users, login_as, count_queries):
    client = login_as(users["working_group"])
    StageChangeFactory(municipality_code=101, stage="dialogue", effective_date=date(2025, 1, 1))
    client.get("/overblik/")  # warm-up (first request compiles and caches)
    db.session.expire_all()  # as in a fresh request: nothing cached in the session
    with count_queries() as short:
        assert client.get("/overblik/").status_code == 200
    _long_history()
    db.session.expire_all()
    with count_queries() as long:
        response = client.get("/overblik/")
    assert response.status_code == 200
    assert long.count == short.count, (short.statements, long.statements)
    assert short.count <= 8, short.statements
    db.session.expire_all()
    with count_queries() as past:
        client.get("/overblik/?on=01-06-2023")
    assert past.count == short.count


@pytest.mark.parametrize("value", ["bad", "31-02-2026", "2026-13-01", "01-01-2999", "01-01-1900", "0001-01-01",
                                   "%00", "9" * 40, "23-11-2026'--", ""])
def test_bad_as_of_dates_never_give_500(app, users, login_as, value):
    client = login_as(users["working_group"])
    response = client.get("/overblik/", query_string={"on": value})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"Status pr. {local_today():%d-%m-%Y}" in html
    if value:
        assert "invalid-feedback" in html or "Datoen" in html or "Vælg en dato" in html
    assert client.get("/overblik/kort.svg", query_string={"on": value}).status_code == 200


def test_error_message_shown_next_to_field_with_input_kept(app, users, login_as):
    html = login_as(users["working_group"]).get("/overblik/?on=32-01-2026").get_data(as_text=True)
    assert "Ugyldig dato" in html
    assert 'value="32-01-2026"' in html
    html = login_as(users["working_group"]).get("/overblik/?on=01-01-2999").get_data(as_text=True)
    assert "Datoen kan ikke ligge efter i dag." in html


@pytest.mark.parametrize("role", ["working_group", "ambassador", "admin"])
def test_every_role_reads_the_dashboard(app, users, login_as, role):
    assert login_as(users[role]).get("/overblik/").status_code == 200


def test_anonymous_is_sent_to_login(client, app):
    response = client.get("/overblik/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/overblik/kort.svg").status_code == 302


def test_dashboard_has_no_write_routes(app, users, login_as):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("dashboard.")]
    assert {r.endpoint for r in rules} == {"dashboard.index", "dashboard.map_svg", "dashboard.anchoring_layer"}
    assert all(r.methods <= {"GET", "HEAD", "OPTIONS"} for r in rules)
    assert login_as(users["working_group"]).post("/overblik/").status_code == 405


def test_figures_link_to_records(app, users, login_as):
    _add_history()
    client = login_as(users["working_group"])
    html = client.get("/overblik/").get_data(as_text=True)
    today = local_today().isoformat()
    assert (f'/rapporter/detaljer?metric=municipalities_covered_at_end&amp;region=total&amp;start={today}'
            f'&amp;end={today}') in html
    assert "/rapporter/detaljer?metric=municipalities_covered_at_end&amp;region=1084" in html
    assert "/kommuner/?stage=plan_signed" in html
    assert "/kommuner/?stage=dialogue&amp;region=1083" in html
    assert "/kommuner/?region=1081" in html
    past = client.get("/overblik/?on=31-01-2025").get_data(as_text=True)
    assert "metric=stage_plan_signed_at_end&amp;region=total&amp;start=2025-01-31&amp;end=2025-01-31" in past
    # The covered link really lists the counted municipalities.
    link = re.search(r'href="(/rapporter/detaljer\?metric=municipalities_covered_at_end&amp;region=total[^"]*)"', past)
    listing = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    for code in (101, 851, 400):
        assert db.session.get(Municipality, code).name in listing


def test_links_are_the_urls_url_for_builds(app):
    from flask import url_for

    from crm.views.dashboard import Links

    on, today = date(2025, 1, 31), date(2026, 3, 15)
    halves = service.HalfYears.around(today)
    with app.test_request_context("/overblik/"):
        past, now = Links(on, today), Links(today, today)
        assert past.municipality(825) == url_for("municipalities.detail", code=825)
        for code in db.session.scalars(select(Municipality.code)):
            assert now.municipality(code) == url_for("municipalities.detail", code=code)
            assert now.fidelity(code) == url_for("fidelity.municipality", code=code)
        assert now.region() == url_for("municipalities.index") and now.region(1081) == url_for(
            "municipalities.index", region=1081)
        assert now.stage("plan_signed", 1083) == url_for("municipalities.index", stage="plan_signed", region=1083)
        assert past.stage("paused") == url_for("reports.drilldown", metric="stage_paused_at_end", region="total",
                                               start="2025-01-31", end="2025-01-31")
        assert past.covered(1084) == url_for("reports.drilldown", metric="municipalities_covered_at_end",
                                             region=1084, start="2025-01-31", end="2025-01-31")
        for region, region_arg in ((1084, 1084), (None, "national"), (service.ALL_REGIONS, None)):
            for track, track_args in ((1, {"track": 1}), (service.OTHER_TRACK, {"type": "other"}), (None, {})):
                expected = url_for("activities.index", date_from=halves.last_start.isoformat(),
                                   date_to=halves.last_end.isoformat(), region=region_arg, **track_args)
                assert now.activities(region, track, halves.last_start, halves.last_end) == expected


QUERY_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=12),
                         st.sampled_from(["Æbeltoft & Ørsted", "a=b/c?d", "100%", " ", "+", "#x", "ü"]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.sampled_from(["region", "stage", "date_from", "metric", "q", "track"]),
                             QUERY_VALUES, max_size=4))
def test_query_urls_are_url_fors_urls(app, query):
    """The dashboard's link builder (crm.views.helpers.QueryUrls) writes exactly what url_for does."""
    from flask import url_for

    from crm.views.helpers import QueryUrls

    with app.test_request_context("/overblik/"):
        urls = QueryUrls()
        for endpoint in ("activities.index", "reports.drilldown", "municipalities.index"):
            assert urls(endpoint, **query) == url_for(endpoint, **query)
            assert urls(endpoint, **query) == url_for(endpoint, **query)  # again, from its cache


def test_page_has_no_inline_script_and_print_stylesheet(app, users, login_as):
    html = login_as(users["working_group"]).get("/overblik/").get_data(as_text=True)
    assert "onclick=" not in html and "<script>" not in html
    assert "js/dashboard.js" in html and "css/dashboard.css" in html
    css = app.test_client().get("/static/css/dashboard.css").get_data(as_text=True)
    assert "@page { size: A4 landscape" in css


def test_slider_steps_through_month_ends_to_today():
    today = date(2026, 3, 10)
    assert service.slider_dates(date(2025, 11, 20), today) == [
        date(2025, 11, 30), date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28), today]
    assert service.slider_dates(None, today) == [today]


def test_line_chart_geometry():
    points = [(date(2025, 1, 31), 0), (date(2025, 2, 28), 3), (date(2025, 3, 31), 5)]
    line = service.TargetLine(date(2025, 1, 31), 0, date(2027, 12, 31), 66)
    series = service.Series(service.NATIONAL, "Hele landet", points, service.Coverage(5, 98, 66), line)
    chart = charts.line_chart(series, date(2025, 3, 31), 640, 250, lambda d: f"{d:%m-%Y}", 6)
    assert [t.label for t in chart.y_ticks] == ["0", "20", "40", "60", "80"]
    assert chart.y_ticks[0].position == chart.bottom and chart.y_ticks[-1].position == chart.top
    assert chart.x_ticks[0].label == "01-2025" and chart.x_ticks[-1].label.endswith("2027")
    assert chart.last[2] == 5 and chart.target_end[2] == 66
    assert chart.target_end[0] == chart.right  # the target line ends at the programme end
    assert len(chart.markers) == 3
    empty = service.Series(service.NATIONAL, "x", [], service.Coverage(0, 98, 66), None)
    assert charts.line_chart(empty, date(2025, 3, 31), 640, 250, str) is None


def test_line_chart_leaves_room_for_its_labels():
    """The target label ("Mål 66", "Target 66") ends at the chart's right edge, right-aligned,
    above the target line's end point, so it grows leftwards into the chart however long the
    translation is; there is headroom above the top grid line for it and the last value's label."""
    points = [(date(2025, 1, 31), 0), (date(2026, 3, 31), 20)]
    line = service.TargetLine(date(2025, 1, 31), 0, date(2027, 12, 31), 20)
    series = service.Series(1084, "Hovedstaden", points, service.Coverage(20, 29, 20), line)
    for width, height in ((640, 250), (250, 150)):
        chart = charts.line_chart(series, date(2026, 3, 31), width, height, str, 4)
        x, y, anchor = chart.target_label
        assert anchor == "end" and x <= width - 2
        assert chart.target_end[1] == chart.top  # 20 of 20: the end point is on the top grid line
        assert y < chart.target_end[1] and y - 11 >= 0  # above the point, a whole 11-unit line inside
        assert chart.last[1] - 7 - 11 >= 0  # the last value's label too
