"""Annual measurement coverage: which municipalities with an agreement had a complete review in a
year, as of any date, counted by the database (hand counts on both databases), on the fidelity
page and the dashboard with a constant number of statements; the instrument pages end to end."""
from datetime import date

from sqlalchemy import select

from crm.extensions import db
from crm.models import InstrumentVersion
from crm.services import measurement_coverage as coverage
from tests import factories
from tests.test_fidelity import make_review, scores_for_total


def stage(code, stage_code, on):
    factories.StageChangeFactory(municipality_code=code, stage=stage_code, effective_date=on)


def build():
    """København signed 2024, measured 2025-03-01; Frederiksberg signed 2024, only a draft in 2025
    and a complete review in 2024; Ballerup signed 2025-06-01, measured 2025-09-01; Greve (1085)
    signed 2024 and paused 2025-05-01 (measured 2025-02-01, not due at the end of 2025);
    Aalborg (1081) in operation since 2023, measured 2025-12-31."""
    stage(101, "plan_signed", date(2024, 1, 10))
    stage(147, "plan_signed", date(2024, 2, 1))
    stage(151, "dialogue", date(2024, 5, 1)); stage(151, "plan_signed", date(2025, 6, 1))
    stage(253, "plan_signed", date(2024, 3, 1)); stage(253, "paused", date(2025, 5, 1))
    stage(851, "in_operation", date(2023, 1, 1))
    make_review(101, date(2025, 3, 1), scores_for_total(90))
    make_review(147, date(2024, 6, 1), scores_for_total(80))
    make_review(147, date(2025, 4, 1), {"Staffing-1": 3})  # a draft: never counts
    make_review(151, date(2025, 9, 1), scores_for_total(100))
    make_review(253, date(2025, 2, 1), scores_for_total(70))
    make_review(851, date(2025, 12, 31), scores_for_total(110))


def test_coverage_by_hand_at_several_dates(app):
    build()
    end = coverage.coverage(2025, date(2025, 12, 31))
    assert [(r.code, r.done) for r in end.rows] == [(851, True), (151, True), (147, False), (101, True)]
    assert (end.due, end.done, [r.name for r in end.missing]) == (4, 3, ["Frederiksberg"])
    mid = coverage.coverage(2025, date(2025, 4, 30))  # Greve still covered, Ballerup not yet
    assert {r.code: r.done for r in mid.rows} == {851: False, 101: True, 147: False, 253: True}
    # 2024 as of today: the year ends on 31 December 2024.
    old = coverage.coverage(2024, date(2026, 6, 1))
    assert (old.end, {r.code: r.done for r in old.rows}) == (date(2024, 12, 31),
                                                              {851: False, 101: False, 147: True, 253: False})
    assert coverage.coverage(2026, date(2025, 6, 1)).rows == []  # before the year
    region = coverage.coverage(2025, date(2025, 12, 31), region_code=1084)
    assert (region.due, region.done) == (3, 2)
    assert sorted(coverage.counts_by_region(date(2025, 1, 1), date(2025, 12, 31))) == [(1081, 1, 1), (1084, 3, 2)]
    years = coverage.recent_years(date(2025, 12, 31))
    assert [(y.year, y.due, y.done) for y in years] == [(2025, 4, 3), (2024, 4, 1), (2023, 1, 0)]
    # One region (a year with nobody due counts 0), and a date within the year.
    years = coverage.recent_years(date(2025, 12, 31), region_code=1084)
    assert [(y.year, y.due, y.done) for y in years] == [(2025, 3, 2), (2024, 2, 1), (2023, 0, 0)]
    years = coverage.recent_years(date(2025, 4, 30), 2)
    assert [(y.year, y.due, y.done) for y in years] == [(2025, 4, 2), (2024, 4, 1)]


def test_status_report_keys_match_the_coverage(app):
    from crm.services import report

    build()
    figures = report.status_report(date(2025, 7, 1), date(2025, 12, 31))
    assert [figures.value("quality_measurements_due", c) for c in figures.columns] == [1, 0, 0, 3, 0, 4]
    assert [figures.value("quality_measurements_done", c) for c in figures.columns] == [1, 0, 0, 2, 0, 3]
    h1 = report.status_report(date(2025, 1, 1), date(2025, 6, 30))  # Greve paused; Ballerup signed
    assert [h1.value("quality_measurements_due", c) for c in h1.columns] == [1, 0, 0, 3, 0, 4]
    assert [h1.value("quality_measurements_done", c) for c in h1.columns] == [0, 0, 0, 1, 0, 1]
    assert report.report_to_csv(figures).decode().splitlines()[-2:] == [
        "quality_measurements_due,1,0,0,3,0,4", "quality_measurements_done,1,0,0,2,0,3"]


def test_fidelity_page_and_dashboard_show_coverage_with_constant_statements(app, users, login_as,
                                                                            count_queries):
    build()
    client = login_as(users["working_group"])
    html = client.get("/fidelitet/?as_of=31-12-2025").text
    section = html.split('id="coverage"')[1].split("</section>")[0]
    assert 'data-year="2025"' in section and "Frederiksberg" in section and "København" not in section
    assert client.get("/fidelitet/?as_of=nonsense").status_code == 200
    with count_queries() as small:
        client.get("/fidelitet/?as_of=31-12-2025")
    stage(461, "plan_signed", date(2024, 1, 1)); stage(751, "in_operation", date(2024, 1, 1))
    make_review(461, date(2025, 5, 5), scores_for_total(99))
    client.get("/fidelitet/?as_of=31-12-2025")  # warm up the same way (the signed-in user is loaded once)
    with count_queries() as large:
        client.get("/fidelitet/?as_of=31-12-2025")
    assert large.count == small.count
    dashboard = client.get("/overblik/?on=2025-12-31").text
    card = dashboard.split('id="measurement-coverage"')[1].split("</section>")[0]
    assert 'data-due="6" data-done="4"' in card and "Frederiksberg" in card and "Aarhus" in card


def test_instrument_pages_define_a_version_end_to_end(app, users, login_as):
    client = login_as(users["working_group"])
    v1 = db.session.scalar(select(InstrumentVersion))
    assert "Services-4" in client.get(f"/maaleredskaber/version/{v1.id}").text
    response = client.post(f"/maaleredskaber/version/{v1.id}/kladde", data={"label": "IPS-25 DK",
                                                                             "copy_from": str(v1.id)})
    assert response.status_code == 302
    v2 = db.session.scalar(select(InstrumentVersion).where(InstrumentVersion.number == 2))
    item = next(i for i in v2.items if i.key == "Services-4")
    draft_page = client.get(f"/maaleredskaber/version/{v2.id}?item={item.id}&band={v2.bands[0].id}").text
    assert "Ret punkt Services-4" in draft_page and 'value="Services-4"' in draft_page
    assert f"Ret niveau {v2.bands[0].code}" in draft_page and "Aktivér" in draft_page
    data = {"item_id": item.id, "key": "DK-1", "section": "Services", "number": 4, "label_da": "Jobsøgning",
            "label_en": "Job search", "min_score": 1, "max_score": 5, "allowed_values": "", "weight": 1,
            "version": v2.version}
    assert client.post(f"/maaleredskaber/version/{v2.id}/punkt", data=data).status_code == 302
    # A stale version is refused (409) and changes nothing.
    stale = client.post(f"/maaleredskaber/version/{v2.id}/punkt", data={**data, "label_da": "Andet"})
    assert stale.status_code == 409
    db.session.expire_all()
    assert client.post(f"/maaleredskaber/version/{v2.id}/aktiver", data={"version": v2.version}).status_code == 302
    db.session.expire_all()
    assert v2.state == "active"
    assert client.post(f"/maaleredskaber/version/{v2.id}/punkt", data={**data, "version": v2.version}).status_code == 400
    page = client.get(f"/maaleredskaber/version/{v2.id}").text
    assert "DK-1" in page and "Services-4" in page  # the item and its mapping
    listing = client.get("/maaleredskaber/").text
    assert "v2" in listing and "IPS-25 DK" in listing
    # An ambassador records a review with the new version; the form shows its items.
    ambassador = login_as(users["ambassador"])
    form = ambassador.get(f"/fidelitet/kommune/101/ny?version={v2.id}").text
    assert "score_dk_1" in form and "score_services_4" not in form
    overview = ambassador.get(f"/fidelitet/?version={v2.id}")
    assert overview.status_code == 200
