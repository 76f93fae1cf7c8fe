"""The status report's ``materials`` figure: published Material records counted once, in the
period of their first publication, plus ``material`` activities not linked to a Material; a
linked activity counts through its material. Data built here, checked on both databases."""
import io
from datetime import date

import pytest
from openpyxl import load_workbook

from crm.extensions import db
from crm.models import MaterialVersion, material_region
from crm.services import report as service
from tests import factories

H1 = (date(2025, 1, 1), date(2025, 6, 30))
H2 = (date(2025, 7, 1), date(2025, 12, 31))
COLUMNS = (1081, 1082, 1083, 1084, 1085, "total")


def material(title, published_on=None, regions=(), state="published", versions=1, retired=False, kind="guide"):
    """A material as stored after its workflow (its transitions are the service's job, tested in
    test_materials.py): ``published_on`` is its first publication."""
    m = factories.MaterialFactory(title=title, published_on=published_on, kind=kind,
                                  state="retired" if retired else state)
    for number in range(1, versions + 1):
        db.session.add(MaterialVersion(material_id=m.id, number=number, link=f"https://example.dk/{number}",
                                       verdict="approved"))
    if regions:
        db.session.execute(material_region.insert(), [{"material_id": m.id, "region_code": r} for r in regions])
    db.session.commit()
    return m


def figures(period) -> tuple:
    report = service.status_report(*period)
    return tuple(report.value("materials", c) for c in COLUMNS)


@pytest.fixture
def data(app):
    # A material published in H1 with the activity that announced it linked: counts once (1084).
    guide = material("Vejledning om samarbejdsplaner", date(2025, 2, 10), regions=[1084])
    factories.ActivityFactory(type="material", region_code=1084, start_date=date(2025, 2, 12),
                              title="Vejledningen sendt ud", material_id=guide.id)
    # Two versions, published twice (first in H1, again in H2): counts once, in H1.
    material("Skabelon til handleplan", date(2025, 3, 1), regions=[1085], versions=2)
    # Published in H1, retired in H2: still counts in H1.
    material("Pjece om IPS", date(2025, 6, 30), regions=[1083], retired=True)
    # Serves two regions: once in each, once in the nation.
    material("Kursusmateriale for jobkonsulenter", date(2025, 5, 5), regions=[1081, 1082])
    # National (no region): only in the total.
    material("Video: Hvad er IPS?", date(2025, 1, 1), kind="video")
    # Never published (in review, draft): never counted, even with a linked activity.
    draft = material("Udkast til tjekliste", None, regions=[1084], state="in_review")
    factories.ActivityFactory(type="material", region_code=1084, start_date=date(2025, 4, 4), material_id=draft.id)
    # Published in H2.
    material("Slides fra ledelsesnetværket", date(2025, 12, 31), regions=[1084])
    # Unlinked material activities count as before: one in 1085 (H1), one national (H2).
    factories.ActivityFactory(type="material", region_code=1085, start_date=date(2025, 6, 1), title="Artikel")
    factories.ActivityFactory(type="material", region_code=None, start_date=date(2025, 8, 8), title="Nyhedsbrev")
    # Another type linked to nothing is no material.
    factories.ActivityFactory(type="webinar", region_code=1084, start_date=date(2025, 2, 2))


def test_each_material_counts_once_in_the_period_of_its_first_publication(data):
    #           1081 1082 1083 1084 1085 total
    assert figures(H1) == (1, 1, 1, 1, 2, 6)  # guide, template, leaflet, course (2 regions), video, article
    assert figures(H2) == (0, 0, 0, 1, 0, 2)  # slides, newsletter
    whole_year = (date(2025, 1, 1), date(2025, 12, 31))
    assert figures(whole_year) == (1, 1, 1, 2, 2, 8)


def test_a_linked_activity_counts_through_its_material_only(app):
    guide = material("Vejledning", date(2025, 2, 10), regions=[1084])
    activity = factories.ActivityFactory(type="material", region_code=1084, start_date=date(2025, 9, 1))
    assert figures(H1)[-1] == 1 and figures(H2)[-1] == 1  # not linked yet: both count
    activity.material_id = guide.id
    db.session.commit()
    assert figures(H1)[-1] == 1 and figures(H2)[-1] == 0


def test_the_drilldown_lists_exactly_the_records_counted(data, users, login_as):
    for period in (H1, H2):
        report = service.status_report(*period)
        for column in COLUMNS:
            detail = service.drilldown("materials", column, *period)
            assert detail.kind == "materials"
            assert detail.total_records == report.value("materials", column), (period, column)
    page = login_as(users["working_group"]).get(
        "/rapporter/detaljer?metric=materials&region=total&start=2025-01-01&end=2025-06-30").text
    assert page.count('class="drilldown-record"') == 6
    assert "Vejledning om samarbejdsplaner" in page and "Vejledningen sendt ud" not in page
    assert "Artikel" in page and "Udkast til tjekliste" not in page


def test_the_xlsx_lists_each_material_on_its_regions_sheets(data):
    workbook = load_workbook(io.BytesIO(service.report_to_xlsx(service.status_report(*H1))))
    rows = {name: [row for row in workbook[name].iter_rows(min_row=2, values_only=True) if row[0] == "materials"]
            for name in ("Nordjylland", "Midtjylland", "Syddanmark", "Hovedstaden", "Sjælland", "Landsdækkende")}
    titles = {name: sorted(row[2] for row in found) for name, found in rows.items()}
    assert titles == {
        "Nordjylland": ["Kursusmateriale for jobkonsulenter"], "Midtjylland": ["Kursusmateriale for jobkonsulenter"],
        "Syddanmark": ["Pjece om IPS"], "Hovedstaden": ["Vejledning om samarbejdsplaner"],
        "Sjælland": ["Artikel", "Skabelon til handleplan"], "Landsdækkende": ["Video: Hvad er IPS?"],
    }
    video = rows["Landsdækkende"][0]
    assert video[4] == "Materiale: Video"
    article = next(row for row in rows["Sjælland"] if row[2] == "Artikel")
    assert article[4] == "Materiale/vejledning"  # an activity, by its type


def test_the_metric_keeps_its_key_and_place_and_says_how_it_counts():
    keys = service.METRIC_KEYS
    assert keys.index("materials") == keys.index("event_participants") + 1
    assert keys.index("fidelity_reviews") == keys.index("materials") + 1
    explanation = str(service.METRICS_BY_KEY["materials"].explanation)
    assert "udgivet første gang i perioden" in explanation and "ikke er knyttet til et materiale" in explanation


def test_the_report_counts_in_a_constant_number_of_queries(data, count_queries):
    with count_queries() as q:
        service.status_report(*H1)
    assert q.count == 6  # one per family: stages, plans, activities, materials, fidelity, annual quality
    for i in range(10):
        material(f"Ekstra {i}", date(2025, 3, 3), regions=[1081 + i % 5])
    with count_queries() as more:
        service.status_report(*H1)
    assert more.count == q.count
