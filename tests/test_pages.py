"""The PM's and client's pages, through real HTTP and the real forms."""
import re
from datetime import date, timedelta

from tests.conftest import login, update


def csrf(page: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_pm_board_shows_each_site_with_verdict_score_and_move_in(client, site):
    login(client, "pm@example.com")
    page = client.get("/board").get_data(as_text=True)
    assert "Acme Dental – new clinic" in page and "Acme Dental" in page
    assert "in 20 days" in page
    assert re.search(r"(At risk|No go)", page)
    assert "No technician has synced yet." in page


def test_pm_creates_a_site_with_the_form(client, people):
    login(client, "pm@example.com")
    form = client.get("/sites/new").get_data(as_text=True)
    response = client.post("/sites/new", data={
        "csrf_token": csrf(form), "name": "Harbour Dental", "client": "Harbour Dental Group",
        "address": "3 Pier Rd", "move_in": (date.today() + timedelta(days=30)).isoformat(),
        "template": "office-move", "rooms": "Reception\nSurgery\n\nReception", "technicians": ["tech@example.com"],
    })
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Harbour Dental" in page and "Reception, Surgery" in page and "tech" in page
    assert "Where this project stands" in page


def test_site_form_shows_what_is_wrong_and_keeps_what_was_typed(client, people):
    login(client, "pm@example.com")
    form = client.get("/sites/new").get_data(as_text=True)
    response = client.post("/sites/new", data={"csrf_token": csrf(form), "name": "Kept name", "client": "",
                                               "move_in": "31/12/2026", "template": "office-move"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Kept name" in page and "This field is required." in page and "Not a valid date value." in page


def test_site_page_explains_the_verdict_in_plain_language(client, site):
    login(client, "client@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "Where this project stands" in page
    assert "What stands in the way" in page and "internet" in page
    assert "Move-in is in 20 days" in page
    assert "Wi-Fi" in page and "blocker" in page


def test_site_page_escapes_what_people_typed(client, api, bundle, site):
    api["tech"].sync([update(bundle["items"][0], {"note": "<script>alert(1)</script>"})])
    login(client, "pm@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_pm_resolves_a_dispute_on_the_site_page(client, api, bundle, site):
    item = bundle["items"][0]
    api["tech"].sync([update(item, {"status": "pass"})], device="phone-a")
    ack = api["pm"].sync([update(item, {"status": "fail"})], device="tablet-b").get_json()["acks"][0]
    assert ack["status"] == "conflict"
    login(client, "pm@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "Disputed items" in page and "phone-a" in page and "tablet-b" in page
    response = client.post(f"/sites/{site['id']}/items/{item['id']}/resolve",
                           data={"csrf_token": csrf(page), "status": "fail", "note": "Checked myself"})
    assert response.status_code == 302
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "Disputed items" not in page and "Checked myself" in page


def test_client_cannot_resolve_disputes(client, api, bundle, site):
    item = bundle["items"][0]
    api["tech"].sync([update(item, {"status": "pass"})])
    api["pm"].sync([update(item, {"status": "fail"})])
    login(client, "client@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "Resolve</button>" not in page
    response = client.post(f"/sites/{site['id']}/items/{item['id']}/resolve",
                           data={"csrf_token": csrf(page), "status": "pass"})
    assert response.status_code == 403


def test_client_home_lists_only_their_sites(client, site):
    login(client, "other_client@example.com")
    page = client.get("/sites").get_data(as_text=True)
    assert "Acme Dental – new clinic" not in page and "There are no sites for you yet." in page


def test_pm_moves_a_vendor_date_and_readiness_follows(client, api, site):
    login(client, "pm@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "Open work by date" in page
    bundle = api["pm"].get(f"/api/sites/{site['id']}/bundle").get_json()
    circuit = next(i for i in bundle["items"] if i["key"] == "isp-circuit-live")
    late = (date.today() + timedelta(days=25)).isoformat()  # after move-in: the install slipped
    response = client.post(f"/sites/{site['id']}/items/{circuit['id']}/due",
                           data={"csrf_token": csrf(page), "due": late, "rev": circuit["rev"]})
    assert response.status_code == 302
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "after move-in" in page
    readiness = api["pm"].get(f"/api/sites/{site['id']}/readiness").get_json()
    assert readiness["status"] == "NO_GO"
    tech = client.application.test_client()
    login(tech, "tech@example.com")
    tech_page = tech.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "Move</button>" not in tech_page
    assert tech.post(f"/sites/{site['id']}/items/{circuit['id']}/due",
                     data={"csrf_token": csrf(tech_page), "due": late, "rev": 1}).status_code == 403


def test_a_move_in_date_out_of_range_is_explained_beside_the_field(client, people):
    login(client, "pm@example.com")
    form = client.get("/sites/new").get_data(as_text=True)
    assert 'max="2099-12-31"' in form and 'min="2000-01-01"' in form
    response = client.post("/sites/new", data={"csrf_token": csrf(form), "name": "Far office", "client": "Far Co",
                                               "move_in": "9999-12-31", "template": "office-move", "rooms": "A"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose a date between 2000 and 2099." in page and 'value="Far office"' in page
