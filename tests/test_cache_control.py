"""``Cache-Control: no-store`` on every signed-in page and every export (issue 13, item 8).

A shared PC's back button, a browser's disk cache or a proxy must not keep a copy of what a
signed-in user saw or downloaded. One ``after_request`` rule in crm/security.py sets it; these tests
walk every GET route in ``app.url_map`` as a signed-in user, and every export and download.
"""
from datetime import date

from crm.extensions import db
from crm.models import FidelityReview
from tests import factories
from tests.test_security_access import _html_pages


def _no_store(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


def test_every_signed_in_page_is_never_stored(app, users, login_as):
    seen, stored = 0, []
    for url, response in _html_pages(app, users, login_as):
        seen += 1
        if not _no_store(response):
            stored.append(f"{url} → {response.status_code} Cache-Control: {response.headers.get('Cache-Control')}")
    assert seen > 40
    assert stored == []


def test_every_export_is_never_stored(app, users, login_as):
    owner = users["ambassador"]
    activity = factories.ActivityFactory(region_code=1084, created_by_id=owner.id)
    factories.PlanFactory(region_code=1084)
    factories.ContactFactory(region_code=1084, municipality_code=101)
    review = FidelityReview(municipality_code=101, review_date=date(2025, 5, 1))
    db.session.add(review)
    db.session.commit()
    client = login_as(owner)
    exports = [f"{path}?format={fmt}" for path in ("/kommuner/", "/aktiviteter/", "/kontakter/", "/planer/",
                                                   "/fidelitet/") for fmt in ("csv", "xlsx")]
    period = "start=2025-01-01&end=2025-06-30"
    exports += [f"/rapporter/eksport.csv?{period}", f"/rapporter/eksport.xlsx?{period}", "/overblik/kort.svg",
                f"/kalender/aktivitet/{activity.id}.ics", f"/fidelitet/{review.id}/eksport.xlsx",
                "/resultater/import/skabelon.csv"]
    stored = []
    for url in exports:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Content-Disposition" in response.headers, url
        if not _no_store(response):
            stored.append(f"{url}: {response.headers.get('Cache-Control')}")
    assert stored == []


def test_the_calendar_feed_is_never_stored(app, users, client):
    token = users["ambassador"].reset_calendar_token()
    db.session.commit()
    response = client.get(f"/kalender/feed/{token}.ics")
    assert response.status_code == 200
    assert _no_store(response)


def test_public_pages_and_static_files_may_be_cached(app, client, login_as, users):
    assert not _no_store(client.get("/login"))
    signed_in = login_as(users["ambassador"])
    assert signed_in.get("/").status_code == 200
    response = signed_in.get("/static/css/app.css")
    assert response.status_code == 200
    assert not _no_store(response)
