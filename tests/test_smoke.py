def test_start_page_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.location


def test_start_page_after_login(auth, client, users):
    assert auth.login(users["ambassador"]).status_code == 302
    response = client.get("/")
    assert response.status_code == 200
    assert "Region Hovedstaden" in response.text
