"""The calendar page: the personal feed URL (https and webcal), creating and resetting it, the
filter options, and the user's own digest switch."""
import pytest

from crm.extensions import db


def test_page_offers_to_create_a_link_then_shows_it(app, users, login_as):
    user = users["ambassador"]
    client = login_as(user)
    page = client.get("/kalender/").get_data(as_text=True)
    assert "Opret mit kalenderlink" in page
    assert client.post("/kalender/link").status_code == 302
    db.session.refresh(user)
    assert user.calendar_token and len(user.calendar_token) >= 40
    page = client.get("/kalender/").get_data(as_text=True)
    assert f"http://localhost/kalender/feed/{user.calendar_token}.ics" in page
    assert f"webcal://localhost/kalender/feed/{user.calendar_token}.ics" in page
    assert client.get(f"/kalender/feed/{user.calendar_token}.ics").status_code == 200


@pytest.mark.parametrize("role", ["ambassador", "working_group", "admin"])
def test_reset_makes_the_old_link_404(app, users, login_as, role):
    user = users[role]
    client = login_as(user)
    client.post("/kalender/link")
    db.session.refresh(user)
    old = user.calendar_token
    response = client.post("/kalender/link", follow_redirects=True)
    assert "Det gamle virker ikke længere" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.calendar_token != old
    anonymous = app.test_client()
    assert anonymous.get(f"/kalender/feed/{old}.ics").status_code == 404
    assert anonymous.get(f"/kalender/feed/{user.calendar_token}.ics").status_code == 200


def test_reset_needs_login_and_csrf(app, users, login_as):
    assert app.test_client().post("/kalender/link").status_code == 302  # to the sign-in page
    app.config["WTF_CSRF_ENABLED"] = True
    client = login_as(users["ambassador"])
    assert client.post("/kalender/link").status_code == 400
    db.session.refresh(users["ambassador"])
    assert users["ambassador"].calendar_token is None


def test_filter_options_build_the_feed_url(app, users, login_as):
    user = users["working_group"]
    user.reset_calendar_token()
    db.session.commit()
    page = login_as(user).get("/kalender/?region=1085&type=course&type=next_step").get_data(as_text=True)
    assert f"/kalender/feed/{user.calendar_token}.ics?region=1085&amp;type=course&amp;type=next_step" in page
    # An ambassador cannot ask for another region: the option is dropped from the link.
    ambassador = users["ambassador"]
    ambassador.reset_calendar_token()
    db.session.commit()
    page = login_as(ambassador).get("/kalender/?region=1085&type=bogus").get_data(as_text=True)
    assert f"/kalender/feed/{ambassador.calendar_token}.ics\"" in page
    assert 'id="filter-region"' not in page


def test_public_base_url_in_the_shown_link(app, users, login_as):
    app.config["PUBLIC_BASE_URL"] = "https://crm.example.dk"
    user = users["ambassador"]
    user.reset_calendar_token()
    db.session.commit()
    page = login_as(user).get("/kalender/").get_data(as_text=True)
    assert f"https://crm.example.dk/kalender/feed/{user.calendar_token}.ics" in page
    assert f"webcal://crm.example.dk/kalender/feed/{user.calendar_token}.ics" in page


def test_digest_switch_is_the_users_own(app, users, login_as):
    user = users["ambassador"]
    client = login_as(user)
    assert "Dagligt overblik på e-mail" in client.get("/kalender/").get_data(as_text=True)
    response = client.post("/kalender/overblik", data={}, follow_redirects=True)
    assert "slået fra" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.digest_enabled is False
    client.post("/kalender/overblik", data={"enabled": "y"})
    db.session.refresh(user)
    assert user.digest_enabled is True
    # Nobody else's switch is touched.
    db.session.refresh(users["ambassador_b"])
    assert users["ambassador_b"].digest_enabled is True


def test_calendar_page_needs_login(client):
    response = client.get("/kalender/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
