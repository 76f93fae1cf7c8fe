"""Fidelity reviews: totals and bands at every published band edge, drafts, due dates, pages
(constant queries), record/edit/delete with the region rule, export and print."""
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.clock import local_today
from crm.extensions import db
from crm.formatting import add_months
from crm.models import FidelityRating, FidelityReview, InstrumentVersion
from crm.services import fidelity, report
from tests import factories

TODAY = date(2026, 6, 15)
REGION_A_MUNICIPALITY = 101  # København, Region Hovedstaden (1084)
REGION_A_OTHER = 147  # Frederiksberg (1084)
REGION_B_MUNICIPALITY = 253  # Greve, Region Sjælland (1085)

# The published bands (fidelity_bands.csv / the IPS fidelity manual), written out independently.
PUBLISHED = [
    (25, "not_ips", "Ikke IPS"),
    (73, "not_ips", "Ikke IPS"),
    (74, "fair", "Rimelig fidelitet"),
    (99, "fair", "Rimelig fidelitet"),
    (100, "good", "God fidelitet"),
    (114, "good", "God fidelitet"),
    (115, "exemplary", "Fremragende fidelitet"),
    (125, "exemplary", "Fremragende fidelitet"),
]

KEYS = ([f"Staffing-{n}" for n in range(1, 4)] + [f"Organization-{n}" for n in range(1, 9)]
        + [f"Services-{n}" for n in range(1, 15)])


def scores_for_total(total: int) -> dict[str, int]:
    """25 scores 1–5 summing to ``total``: start from all 1s and raise items one by one."""
    assert 25 <= total <= 125
    scores = {key: 1 for key in KEYS}
    extra = total - 25
    for key in KEYS:
        step = min(4, extra)
        scores[key] += step
        extra -= step
    return scores


def make_review(code, when, scores=None, comments=None, team=None):
    """A review saved through the service (which computes the total); ``scores`` may miss items."""
    ratings = {key: (score, (comments or {}).get(key)) for key, score in (scores or {}).items()}
    review = fidelity.write_review(None, code, {"review_date": when, "team": team}, ratings)
    db.session.commit()
    return review


def sign(code, when, stage="plan_signed"):
    factories.StageChangeFactory(municipality_code=code, stage=stage, effective_date=when)


def test_scale_has_25_items_in_three_sections():
    items = fidelity.scale_items()
    assert [i.key for i in items] == KEYS
    assert [s for s, _label, _items in fidelity.items_by_section()] == ["Staffing", "Organization", "Services"]


@pytest.mark.parametrize("total, code, label", PUBLISHED)
def test_band_for_every_edge(app, total, code, label):
    band = fidelity.band_for(total)
    assert (band.code, band.label) == (code, label)


@pytest.mark.parametrize("total", [0, 24, 126])
def test_band_for_outside_scale_is_refused(app, total):
    with pytest.raises(ValueError):
        fidelity.band_for(total)


@pytest.mark.parametrize("total, code, label", PUBLISHED)
def test_saved_review_total_and_band_at_every_edge(app, total, code, label):
    scores = scores_for_total(total)
    review = make_review(REGION_A_MUNICIPALITY, date(2025, 5, 1), scores)
    assert review.total == sum(scores.values()) == total
    stored = db.session.scalar(select(FidelityReview.total).where(FidelityReview.id == review.id))
    assert stored == total
    assert fidelity.band_or_none(stored).code == code


def test_draft_has_no_total_and_does_not_count(app):
    complete = scores_for_total(100)
    draft_scores = dict(complete)
    del draft_scores["Services-14"]
    make_review(REGION_A_MUNICIPALITY, date(2025, 1, 10), complete)
    draft = make_review(REGION_A_MUNICIPALITY, date(2025, 9, 1), {k: 5 for k in draft_scores})
    assert draft.total is None  # a draft: not every item scored
    assert [i.key for i in fidelity.missing_items(draft)] == ["Services-14"]
    # The latest *complete* review counts, not the newer draft.
    assert [r.total for r in fidelity.latest_complete_reviews()] == [100]
    assert fidelity.drafts() == fidelity.drafts(1084) == [(draft.id, "København", date(2025, 9, 1), None)]
    assert fidelity.drafts(1085) == []
    counts = {b.band.code: b.count for b in fidelity.band_distribution()}
    assert counts == {"exemplary": 0, "good": 1, "fair": 0, "not_ips": 0}
    # The status report counts the complete review only, in its municipality's region.
    counted = report.status_report(date(2025, 1, 1), date(2025, 12, 31))
    assert counted.value("fidelity_reviews", "total") == counted.value("fidelity_reviews", 1084) == 1


def test_completing_a_draft_computes_its_total_and_clearing_an_item_makes_it_a_draft(app):
    scores = scores_for_total(90)
    review = make_review(REGION_A_MUNICIPALITY, date(2025, 5, 1), {k: v for k, v in scores.items() if k != "Staffing-1"})
    assert review.total is None
    fidelity.write_review(review, review.municipality_code, {"review_date": review.review_date},
                          {k: (v, None) for k, v in scores.items()})
    db.session.commit()
    assert review.total == 90
    cleared = {k: (v, None) for k, v in scores.items()}
    cleared["Services-3"] = (None, "kunne ikke vurderes")
    fidelity.write_review(review, review.municipality_code, {"review_date": review.review_date}, cleared)
    db.session.commit()
    assert review.total is None
    comment_only = db.session.scalar(select(FidelityRating).where(FidelityRating.review_id == review.id,
                                                                  FidelityRating.item_key == "Services-3"))
    assert comment_only.score is None and comment_only.comment == "kunne ikke vurderes"


def test_weakest_items_use_latest_complete_reviews(app):
    low_a = scores_for_total(125)
    low_a["Services-4"] = 1
    low_a["Staffing-2"] = 3
    low_b = scores_for_total(125)
    low_b["Services-4"] = 2
    low_b["Staffing-2"] = 2
    make_review(REGION_A_MUNICIPALITY, date(2024, 1, 1), {k: 1 for k in KEYS})  # older: ignored
    make_review(REGION_A_MUNICIPALITY, date(2025, 1, 1), low_a)
    make_review(REGION_B_MUNICIPALITY, date(2025, 2, 1), low_b)
    averages = fidelity.item_averages()
    assert [(a.item.key, a.average) for a in averages[:2]] == [("Services-4", 1.5), ("Staffing-2", 2.5)]
    assert averages[0].low == 2 and averages[0].reviews == 2
    assert all(a.average == 5 for a in averages[2:])
    # Region B alone: both score 2, ties in the scale's order.
    assert [a.item.key for a in fidelity.item_averages(1085)[:2]] == ["Staffing-2", "Services-4"]

    # The overview's plain rows list the same latest reviews, in the same order, as the ORM objects.
    for region in (None, 1084, 1085):
        assert [(r.id, r.municipality_code, r.municipality_name, r.region_code, r.review_date, r.total)
                for r in fidelity.latest_complete_rows(region)] == [
            (r.id, r.municipality_code, r.municipality.name, r.municipality.region_code, r.review_date, r.total)
            for r in fidelity.latest_complete_reviews(region)]
    assert [(r.municipality_code, r.total) for r in fidelity.latest_complete_rows()] == [(253, 119), (101, 119)]


# --- Due dates ------------------------------------------------------------------------------


def _due_by_code(**kwargs):
    reviews = fidelity.due_reviews(TODAY, **kwargs)
    # The overview's plain rows say the same, in the same order.
    assert fidelity.due_rows(TODAY, **kwargs) == [
        (d.municipality.code, d.municipality.name, d.municipality.region_code, d.due_date, d.overdue,
         d.covered_since, d.last_review_date) for d in reviews]
    return {d.municipality.code: d for d in reviews}


def test_due_twelve_months_after_signing_when_never_reviewed(app):
    sign(101, date(2025, 3, 1))  # due 01-03-2026: overdue
    sign(147, date(2025, 7, 20))  # due 20-07-2026: within 60 days
    sign(151, date(2025, 10, 1))  # due 01-10-2026: later than 60 days
    due = _due_by_code()
    assert set(due) == {101, 147}
    assert (due[101].due_date, due[101].overdue) == (date(2026, 3, 1), True)
    assert (due[147].due_date, due[147].overdue) == (date(2026, 7, 20), False)
    assert set(_due_by_code(within_days=200)) == {101, 147, 151}


def test_due_twelve_months_after_last_complete_review_or_signing_whichever_later(app):
    sign(101, date(2024, 1, 10))
    make_review(101, date(2025, 8, 1), scores_for_total(100))  # → due 01-08-2026 (within 60 days)
    make_review(101, date(2026, 1, 5), {"Staffing-1": 3})  # a draft does not move the due date
    sign(147, date(2025, 2, 1))
    make_review(147, date(2024, 11, 1), scores_for_total(100))  # before signing: signing + 12 is later
    due = _due_by_code()
    assert (due[101].due_date, due[101].overdue, due[101].last_review_date) == (date(2026, 8, 1), False, date(2025, 8, 1))
    assert (due[147].due_date, due[147].overdue) == (date(2026, 2, 1), True)


def test_spell_start_is_when_it_became_covered(app):
    # plan_signed then in_operation: one covered spell starting at the signing.
    sign(101, date(2025, 4, 1))
    sign(101, date(2025, 9, 1), "in_operation")
    # Signed, paused, signed again: the spell starts at the second signing.
    sign(147, date(2023, 1, 1))
    sign(147, date(2023, 6, 1), "paused")
    sign(147, date(2025, 8, 1), "in_operation")
    due = _due_by_code(within_days=365)
    assert due[101].due_date == date(2026, 4, 1) and due[101].overdue
    assert due[101].covered_since == date(2025, 4, 1)
    assert due[147].due_date == date(2026, 8, 1) and not due[147].overdue


def test_non_covered_municipalities_are_never_due(app):
    sign(101, date(2020, 1, 1), "dialogue")
    sign(147, date(2021, 1, 1))
    make_review(147, date(2021, 6, 1), scores_for_total(80))
    sign(147, date(2022, 1, 1), "paused")
    sign(151, date(2027, 1, 1))  # signed only in the future
    assert _due_by_code(within_days=5000) == {}


def test_due_today_is_not_overdue_and_leap_day(app):
    sign(101, TODAY.replace(year=TODAY.year - 1))
    sign(147, date(2024, 2, 29))
    make_review(147, date(2025, 2, 28), scores_for_total(110))
    due = _due_by_code()
    assert (due[101].due_date, due[101].overdue) == (TODAY, False)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert due[147].due_date == date(2026, 2, 28) and due[147].overdue


def test_due_reviews_region_filter(app):
    sign(101, date(2025, 1, 1))
    sign(REGION_B_MUNICIPALITY, date(2025, 1, 1))
    assert set(_due_by_code(region_code=1085)) == {REGION_B_MUNICIPALITY}
    assert set(_due_by_code()) == {101, REGION_B_MUNICIPALITY}


# --- Pages ----------------------------------------------------------------------------------


def _grow(codes, year):
    for index, code in enumerate(codes):
        factories.StageChangeFactory(municipality_code=code, stage="plan_signed", effective_date=date(year, 1, 2 + index))
        make_review(code, date(year + 1, 2, 1 + index), scores_for_total(60 + 5 * index))
        make_review(code, date(year + 1, 3, 1 + index), {"Staffing-1": 2})


def test_overview_constant_queries(app, users, login_as, count_queries):
    client = login_as(users["working_group"])
    _grow([101, 147], 2024)
    client.get("/fidelitet/")
    with count_queries() as small:
        assert client.get("/fidelitet/").status_code == 200
    _grow([151, 153, 155, 157, 159, 161, 163, 165, REGION_B_MUNICIPALITY], 2023)
    client.get("/fidelitet/")  # warm up the same way (the signed-in user is loaded once)
    with count_queries() as large:
        response = client.get("/fidelitet/")
    assert response.status_code == 200
    assert large.count == small.count, large.statements
    with count_queries() as region:
        assert client.get("/fidelitet/?region=1084").status_code == 200
    assert region.count == small.count


def test_overview_shows_bands_weakest_items_and_due_lists(app, users, login_as):
    today = local_today()  # the page works on today's date
    sign(101, today - timedelta(days=900))
    make_review(101, today - timedelta(days=400), scores_for_total(116))  # due 35 days ago
    sign(147, add_months(today, -11))  # due in about a month
    sign(151, today - timedelta(days=30))  # due in 11 months: in neither list
    client = login_as(users["working_group"])
    html = client.get("/fidelitet/").text
    assert 'data-count="exemplary">1<' in html and 'data-count="good">0<' in html
    assert "Fremragende fidelitet" in html
    overdue = html.split('id="overdue-list"')[1].split("</table>")[0]
    due_soon = html.split('id="due-list"')[1].split("</table>")[0]
    assert "København" in overdue and "Frederiksberg" in due_soon
    assert "Ballerup" not in html.split('id="latest-heading"')[0]
    assert "Registrér måling" not in html  # the working group reads only
    # An ambassador (Region Hovedstaden) gets the button in her region's rows only.
    sign(REGION_B_MUNICIPALITY, today - timedelta(days=900))
    html = login_as(users["ambassador"]).get("/fidelitet/").text
    overdue = html.split('id="overdue-list"')[1].split("</table>")[0]
    rows = {row.split('"')[0]: row for row in overdue.split('data-code="')[1:]}
    assert set(rows) == {"101", str(REGION_B_MUNICIPALITY)}
    assert "/fidelitet/kommune/101/ny" in rows["101"] and "Registrér måling" not in rows[str(REGION_B_MUNICIPALITY)]
    assert client.get("/fidelitet/?region=nonsense").status_code == 200
    export = client.get("/fidelitet/?format=xlsx")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.data)).active
    assert sheet["E2"].value == 116


def test_overview_rows_written_by_the_view_escape_values_and_follow_the_language(app, users, login_as):
    """The long lists are written by the view, not the template: values escaped, texts translated."""
    today = local_today()
    sign(101, today - timedelta(days=900))
    make_review(101, today - timedelta(days=400), scores_for_total(116))  # overdue
    sign(147, add_months(today, -11))  # due soon, never reviewed
    make_review(147, today - timedelta(days=3), {"Staffing-1": 2}, team="Team <Nord> & Co")  # a draft
    ambassador = users["ambassador"]
    html = login_as(ambassador).get("/fidelitet/").text
    assert "Team &lt;Nord&gt; &amp; Co" in html and "<Nord>" not in html
    due_soon = html.split('id="due-list"')[1].split("</table>")[0]
    assert f"Ingen (plan underskrevet {add_months(today, -11):%d-%m-%Y})" in due_soon
    assert '<span class="badge text-bg-warning">blandt de 5 svageste</span>' in html
    ambassador.locale = "en"
    db.session.commit()
    html = login_as(ambassador).get("/fidelitet/").text
    overdue = html.split('id="overdue-list"')[1].split("</table>")[0]
    assert '<span class="badge text-bg-danger">Overdue</span>' in overdue and ">Record review<span" in overdue
    assert "None (plan signed " in html.split('id="due-list"')[1] and "among the 5 weakest" in html


def test_history_marks_improved_and_fallen_items(app, users, login_as, count_queries):
    first = scores_for_total(75)
    second = dict(first)
    second["Services-13"] += 1  # improved (1 → 2)
    second["Staffing-1"] -= 1  # fell (5 → 4)
    make_review(101, date(2024, 5, 1), first)
    make_review(101, date(2025, 5, 1), second)
    make_review(101, date(2025, 9, 1), {"Staffing-1": 1})  # a draft
    history = fidelity.history(101)
    latest = history.complete[-1]
    assert history.changes[latest.id] == {**{k: 0 for k in KEYS}, "Services-13": 1, "Staffing-1": -1}
    client = login_as(users["working_group"])
    client.get("/fidelitet/kommune/101")
    with count_queries() as q:
        html = client.get("/fidelitet/kommune/101").text
    matrix = html.split('id="item-matrix"')[1].split("</table>")[0]
    assert matrix.count('data-change="up"') == 1 and matrix.count('data-change="down"') == 1
    assert "Kladder" in html
    make_review(101, date(2026, 1, 1), first)
    client.get("/fidelitet/kommune/101")
    with count_queries() as more:
        client.get("/fidelitet/kommune/101")
    assert more.count == q.count
    detail = client.get(f"/fidelitet/{latest.id}").text
    assert detail.count('data-change="up"') == 1 and detail.count('data-change="down"') == 1


def test_english_locale_shows_english_item_names(app, users, login_as):
    users["working_group"].locale = "en"
    db.session.commit()
    review = make_review(101, date(2025, 5, 1), scores_for_total(100))
    html = login_as(users["working_group"]).get(f"/fidelitet/{review.id}").text
    assert "Rapid search for competitive job" in html and "Hurtig jobsøgning" not in html
    # flask-babel 4 caches the locale in g._flask_babel (the shared test app context keeps it).
    from flask import g

    g.pop("_flask_babel", None)
    html = login_as(users["admin"]).get(f"/fidelitet/{review.id}").text  # Danish (the default)
    assert "Hurtig jobsøgning" in html and "Bemanding" in html


def _form_data(scores, **extra):
    data = {"review_date": "01-05-2025", "team": "IPS-team Nord", "reviewers": "A. Jensen, B. Hansen",
            "action_plan": "Flere arbejdsgiverkontakter", "centre": ""}
    for key, score in scores.items():
        data["score_" + key.lower().replace("-", "_")] = str(score)
    data.update(extra)
    return data


def test_record_complete_review_computes_total(app, users, login_as):
    client = login_as(users["ambassador"])
    assert "Bemanding" in client.get(f"/fidelitet/kommune/{REGION_A_MUNICIPALITY}/ny").text
    scores = scores_for_total(101)
    data = _form_data(scores, comment_services_4="Hurtig kontakt", total="125")  # a typed total is ignored
    response = client.post(f"/fidelitet/kommune/{REGION_A_MUNICIPALITY}/ny", data=data)
    assert response.status_code == 302
    review = db.session.scalar(select(FidelityReview))
    assert review.total == 101 and review.team == "IPS-team Nord"
    assert review.review_date == date(2025, 5, 1)
    assert db.session.scalar(select(func.count(FidelityRating.id))) == 25
    page = client.get(response.location).text
    assert "God fidelitet" in page and "Hurtig kontakt" in page


def test_record_draft_with_missing_items(app, users, login_as):
    client = login_as(users["admin"])
    scores = {k: 4 for k in KEYS[:20]}
    response = client.post(f"/fidelitet/kommune/{REGION_B_MUNICIPALITY}/ny", data=_form_data(scores), follow_redirects=True)
    assert response.status_code == 200
    assert "kladde" in response.text
    review = db.session.scalar(select(FidelityReview))
    assert review.total is None and len(review.ratings) == 20


@pytest.mark.parametrize("bad", [{"score_staffing_1": "7"}, {"review_date": "31-02-2025"}, {"review_date": ""},
                                 {"review_date": (local_today() + timedelta(days=3)).strftime("%d-%m-%Y")},
                                 {"centre": "99999"}])
def test_bad_input_is_shown_and_nothing_saved(app, users, login_as, bad):
    client = login_as(users["ambassador"])
    response = client.post(f"/fidelitet/kommune/{REGION_A_MUNICIPALITY}/ny", data=_form_data(scores_for_total(90), **bad))
    assert response.status_code == 400
    assert "IPS-team Nord" in response.text  # input kept
    assert db.session.scalar(select(func.count(FidelityReview.id))) == 0


def test_edit_recomputes_total_and_detects_a_concurrent_change(app, users, login_as):
    review = make_review(REGION_A_MUNICIPALITY, date(2025, 5, 1), scores_for_total(80))
    client = login_as(users["ambassador"])
    form = client.get(f"/fidelitet/{review.id}/ret").text
    assert 'value="IPS' not in form and "Gem måling" in form
    version = review.version
    response = client.post(f"/fidelitet/{review.id}/ret", data=_form_data(scores_for_total(110), version=str(version)))
    assert response.status_code == 302
    db.session.refresh(review)
    assert review.total == 110
    stale = client.post(f"/fidelitet/{review.id}/ret", data=_form_data(scores_for_total(60), version=str(version)))
    assert stale.status_code == 409 and "i mellemtiden" in stale.text
    db.session.refresh(review)
    assert review.total == 110


def test_delete_is_post_only_and_removes_ratings(app, users, login_as):
    review = make_review(REGION_A_MUNICIPALITY, date(2025, 5, 1), scores_for_total(80))
    client = login_as(users["ambassador"])
    assert client.get(f"/fidelitet/{review.id}/slet").status_code == 405
    assert client.post(f"/fidelitet/{review.id}/slet").status_code == 302
    assert db.session.scalar(select(func.count(FidelityReview.id))) == 0
    assert db.session.scalar(select(func.count(FidelityRating.id))) == 0


def test_region_rule_on_every_write_route(app, users, login_as):
    review = make_review(REGION_B_MUNICIPALITY, date(2025, 5, 1), scores_for_total(80))
    routes = [("get", f"/fidelitet/kommune/{REGION_B_MUNICIPALITY}/ny"),
              ("post", f"/fidelitet/kommune/{REGION_B_MUNICIPALITY}/ny"),
              ("get", f"/fidelitet/{review.id}/ret"),
              ("post", f"/fidelitet/{review.id}/ret"),
              ("post", f"/fidelitet/{review.id}/slet")]
    for user in (users["ambassador"], users["working_group"]):
        client = login_as(user)
        for method, url in routes:
            response = getattr(client, method)(url, data=_form_data(scores_for_total(100)) if method == "post" else None)
            assert response.status_code == 403, (user.role, method, url)
    assert db.session.scalar(select(FidelityReview.total)) == 80
    # The same ambassador may write in their own region; region B's ambassador in region B.
    assert login_as(users["ambassador_b"]).get(f"/fidelitet/{review.id}/ret").status_code == 200


def test_working_group_reads_everything_but_sees_no_write_buttons(app, users, login_as):
    review = make_review(REGION_B_MUNICIPALITY, date(2025, 5, 1), scores_for_total(80))
    client = login_as(users["working_group"])
    for url in ("/fidelitet/", f"/fidelitet/kommune/{REGION_B_MUNICIPALITY}", f"/fidelitet/{review.id}",
                f"/fidelitet/{review.id}/udskriv", "/fidelitet/skema", f"/fidelitet/{review.id}/eksport.xlsx"):
        response = client.get(url)
        assert response.status_code == 200, url
    detail = client.get(f"/fidelitet/{review.id}").text
    assert f"/fidelitet/{review.id}/ret" not in detail and f"/fidelitet/{review.id}/slet" not in detail


def test_export_review_as_xlsx(app, users, login_as):
    scores = scores_for_total(99)
    review = make_review(REGION_A_MUNICIPALITY, date(2025, 5, 1), scores, comments={"Services-2": "Åbenhed drøftes"})
    response = login_as(users["working_group"]).get(f"/fidelitet/{review.id}/eksport.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.data))
    facts = {row[0]: row[1] for row in workbook.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert facts["Samlet score"] == 99 and facts["Niveau"] == "Rimelig fidelitet"
    items = list(workbook.worksheets[1].iter_rows(min_row=2, values_only=True))
    assert len(items) == 25
    assert sum(row[3] for row in items) == sum(scores.values())
    assert ("Ydelser", 2) == items[12][:2] and items[12][4] == "Åbenhed drøftes"


def test_print_view_marks_the_scores(app, users, login_as):
    review = make_review(REGION_A_MUNICIPALITY, date(2025, 5, 1), scores_for_total(100))
    html = login_as(users["working_group"]).get(f"/fidelitet/{review.id}/udskriv").text
    assert html.count("print-box checked") == 25
    assert "<script>" not in html and "onclick" not in html
    blank = login_as(users["working_group"]).get("/fidelitet/skema").text
    assert blank.count("print-box checked") == 0 and blank.count('class="print-box"') == 125


def test_unknown_review_and_municipality_are_404(app, users, login_as):
    client = login_as(users["admin"])
    assert client.get("/fidelitet/999999").status_code == 404
    assert client.get("/fidelitet/kommune/9999").status_code == 404
    assert client.post("/fidelitet/kommune/9999/ny").status_code == 404


def test_municipality_page_panel(app, users, login_as):
    sign(101, date(2024, 1, 1))
    make_review(101, date(2025, 1, 1), scores_for_total(116))
    html = login_as(users["working_group"]).get("/kommuner/101").text
    assert 'id="fidelitet"' in html and "Fremragende fidelitet" in html


def test_forms_carry_csrf_tokens(app, users, login_as):
    app.config["WTF_CSRF_ENABLED"] = True
    client = login_as(users["ambassador"])
    page = client.get(f"/fidelitet/kommune/{REGION_A_MUNICIPALITY}/ny").text
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post(f"/fidelitet/kommune/{REGION_A_MUNICIPALITY}/ny", data=_form_data(scores_for_total(90))).status_code == 400
    response = client.post(f"/fidelitet/kommune/{REGION_A_MUNICIPALITY}/ny",
                           data=_form_data(scores_for_total(90), csrf_token=token))
    assert response.status_code == 302
    review = db.session.scalar(select(FidelityReview))
    detail = client.get(response.location).text
    delete_token = detail.split(f'action="/fidelitet/{review.id}/slet"')[1].split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post(f"/fidelitet/{review.id}/slet", data={"csrf_token": delete_token}).status_code == 302
    assert db.session.scalar(select(func.count(FidelityReview.id))) == 0


def test_chosen_version_defaults_to_ips25_v1_then_the_first(app):
    from crm.models import IPS25_CODE, Instrument, InstrumentVersion

    ips, other = Instrument(code=IPS25_CODE), Instrument(code="AAA")
    first = InstrumentVersion(id=7, number=1, instrument=other)
    v1, v2 = InstrumentVersion(id=1, number=1, instrument=ips), InstrumentVersion(id=2, number=2, instrument=ips)
    versions = [first, v1, v2]
    assert fidelity.chosen_version(versions, None) is v1
    assert fidelity.chosen_version(versions, 2) is v2
    assert fidelity.chosen_version(versions, 99) is v1
    assert fidelity.chosen_version([first, v2], None) is first
    assert fidelity.chosen_version([], 2) is None


def test_scale_labels_are_the_items_sections_and_bands_own(app):
    for scale in (fidelity.scale_of(fidelity.ips25_version_id()), None):
        labels = fidelity.scale_labels(scale)
        items = scale.items if scale else fidelity.scale_items()
        assert labels.items == {item.key: item.name for item in items}
        assert labels.sections == {item.section: item.section_label for item in items}
        assert labels.bands == {band.code: band.label for band in (scale.bands if scale else fidelity.bands())}
    assert fidelity.scale_labels(None).sections["Staffing"] == "Bemanding"


def test_overview_in_english(app, users, login_as):
    make_review(101, date(2025, 3, 1), scores_for_total(116))
    reader = users["working_group"]
    reader.locale = "en"
    db.session.commit()
    html = login_as(reader).get("/fidelitet/").text
    bands_table = html.split('id="band-distribution"')[1].split("</table>")[0]
    latest = html.split('id="latest-reviews"')[1].split("</table>")[0]
    averages = html.split('id="item-averages"')[1].split("</table>")[0]
    assert "Exemplary fidelity" in bands_table and "Exemplary fidelity" in latest
    item = fidelity.scale_items()[0]
    assert f"<td>Staffing {item.number}</td>" in averages and item.name_en in averages


def test_scale_of_a_loaded_version_is_its_scale(app):
    for version in fidelity.versions_in_use():
        assert fidelity.scale_of_version(version) == fidelity.scale_of(version.id)
        assert fidelity.scale_of_version(version).label == fidelity.version_title(version)
    assert fidelity.scale_of(fidelity.ips25_version_id()).items == fidelity.scale_of_version(
        db.session.get(InstrumentVersion, fidelity.ips25_version_id())).items
