"""Admins manage people; nobody else may."""
import pytest

from tests.conftest import login
from tests.test_pages import csrf


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("pm", 403), ("tech", 403), ("client", 403)])
def test_only_admins_open_the_admin_page(client, people, role, status):
    login(client, f"{role}@example.com")
    assert client.get("/admin/").status_code == status


def test_admin_adds_a_client_user_who_can_then_sign_in(client, people, site):
    login(client, "admin@example.com")
    page = client.get("/admin/").get_data(as_text=True)
    assert "Office move" in page and "used by 1 site(s)" in page
    response = client.post("/admin/", data={"csrf_token": csrf(page), "email": "Owner@Acme.example",
                                            "name": "Olive Owner", "role": "client", "client": "Acme Dental",
                                            "password": "owner-pass-1"})
    assert response.status_code == 302
    assert "owner@acme.example can now sign in as client" in client.get("/admin/").get_data(as_text=True)
    other = client.application.test_client()
    login(other, "owner@acme.example", "owner-pass-1")
    assert "Acme Dental – new clinic" in other.get("/sites").get_data(as_text=True)


def test_client_user_without_a_client_is_refused_with_a_message(client, people):
    login(client, "admin@example.com")
    page = client.get("/admin/").get_data(as_text=True)
    response = client.post("/admin/", data={"csrf_token": csrf(page), "email": "x@example.com", "role": "client",
                                            "password": "long-enough"})
    assert response.status_code == 400
    assert "A client user must belong to a client" in response.get_data(as_text=True)


def test_disabled_user_is_signed_out_and_their_token_stops_working(client, api, people):
    tech = client.application.test_client()
    login(tech, "tech@example.com")
    login(client, "admin@example.com")
    page = client.get("/admin/").get_data(as_text=True)
    user_id = page.split('tech@example.com')[1].split('/admin/users/')[1].split('/')[0]
    client.post(f"/admin/users/{user_id}/active", data={"csrf_token": csrf(page)})
    assert tech.get("/sites").status_code == 302
    assert api["tech"].get("/api/sites").status_code == 401


@pytest.mark.parametrize(("agent", "shown"), [
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
     "Chrome on Android"),
    (("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
     "Mobile/15E148 Safari/604.1"), "Safari on iPhone"),
    (("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 "
     "Mobile/15E148 Safari/604.1"), "Chrome on iPhone"),
    (("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 "
     "Edg/131.0"), "Edge on Windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Mac"),
    ("curl/8.5.0", "curl/8.5.0"),
])
def test_signed_in_browsers_are_named_as_a_person_knows_them(app, people, agent, shown):
    other = app.test_client()
    other.environ_base["HTTP_USER_AGENT"] = agent
    login(other, "tech@example.com")
    admin = app.test_client()
    login(admin, "admin@example.com")
    page = admin.get("/admin/").get_data(as_text=True)
    assert f"<td>{shown}</td>" in page
