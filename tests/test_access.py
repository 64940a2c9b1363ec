"""Every role boundary: who may see and do what (API.md "Authentication and roles")."""
import pytest

from tests.conftest import login, update

# (role, method, url, expected status); {site} is a site of Acme Dental with `tech` assigned.
API_CASES = [
    *[(role, "GET", "/api/templates", 200) for role in ("admin", "pm", "tech", "client")],
    *[(role, "GET", "/api/sites", 200) for role in ("admin", "pm", "tech", "client")],
    ("admin", "GET", "/api/board", 200), ("pm", "GET", "/api/board", 200),
    ("tech", "GET", "/api/board", 403), ("client", "GET", "/api/board", 403),
    ("admin", "GET", "/api/sites/{site}/bundle", 200), ("pm", "GET", "/api/sites/{site}/bundle", 200),
    ("tech", "GET", "/api/sites/{site}/bundle", 200), ("tech2", "GET", "/api/sites/{site}/bundle", 404),
    ("client", "GET", "/api/sites/{site}/bundle", 403), ("other_client", "GET", "/api/sites/{site}/bundle", 404),
    *[(role, "GET", "/api/sites/{site}/readiness", 200) for role in ("admin", "pm", "tech", "client")],
    ("tech2", "GET", "/api/sites/{site}/readiness", 404), ("other_client", "GET", "/api/sites/{site}/readiness", 404),
    ("client", "GET", "/api/sites/{site}", 200), ("other_client", "GET", "/api/sites/{site}", 404),
    ("tech", "POST", "/api/sites", 403), ("client", "POST", "/api/sites", 403),
    ("client", "POST", "/api/sync", 403), ("other_client", "POST", "/api/sync", 403),
]


@pytest.mark.parametrize(("role", "method", "url", "status"), API_CASES)
def test_api_role_boundaries(api, site, role, method, url, status):
    url = url.format(site=site["id"])
    if method == "GET":
        response = api[role].get(url)
    else:
        response = api[role].post(url, {"device_id": "x", "mutations": []} if "sync" in url else {"name": "x"})
    assert response.status_code == status, response.get_json()
    if status >= 400:
        assert response.get_json()["error"]["code"] in ("forbidden", "not_found")


def test_sites_list_shows_each_caller_only_their_sites(api, site):
    names = {role: [s["name"] for s in api[role].get("/api/sites").get_json()] for role in api}
    assert names["pm"] == names["admin"] == names["tech"] == names["client"] == ["Acme Dental – new clinic"]
    assert names["tech2"] == [] and names["other_client"] == []


def test_unassigned_tech_cannot_change_an_item(api, bundle):
    ack = api["tech2"].sync([update(bundle["items"][0], {"status": "pass"})]).get_json()["acks"][0]
    assert ack["status"] == "rejected" and ack["error"]["code"] == "not_found"


@pytest.mark.parametrize("url", ["/api/sites", "/api/board", "/api/templates", "/api/sites/1/readiness"])
def test_api_without_login_answers_401_json(client, url):
    response = client.get(url)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "login_required"


def test_bad_bearer_token_is_401(client, people):
    response = client.get("/api/sites", headers={"Authorization": "Bearer fk_not-a-token"})
    assert response.status_code == 401


def test_bearer_requests_set_no_session_cookie(api, site):
    response = api["pm"].get("/api/sites")
    assert "Set-Cookie" not in response.headers


def test_a_bearer_token_wins_over_a_session_cookie_sent_with_it(client, people, site, bundle):
    login(client, "pm@example.com")
    as_tech = {"Authorization": f"Bearer {people['tech']}"}
    assert client.get("/api/board", headers=as_tech).status_code == 403  # the technician's rights, not the PM's
    item = bundle["items"][0]
    response = client.post("/api/sync", headers=as_tech, json={  # and no CSRF header needed for a token
        "device_id": "script", "cursor": 0, "mutations": [update(item, {"status": "pass"})]})
    assert response.status_code == 200 and response.get_json()["acks"][0]["status"] == "applied"
    assert client.get("/api/sites/{}/bundle".format(site["id"]), headers={
        "Authorization": "Bearer fk_not-a-token"}).status_code == 401
    assert client.get("/api/board").status_code == 200  # the PM's session is untouched


@pytest.mark.parametrize("url", ["/board", "/sites/1", "/sites/new", "/"])
def test_pages_without_login_redirect_to_the_login_form(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


PAGE_CASES = [
    ("pm", "/board", 200), ("admin", "/board", 200), ("tech", "/board", 403), ("client", "/board", 403),
    ("pm", "/sites/new", 200), ("tech", "/sites/new", 403), ("client", "/sites/new", 403),
    ("pm", "/sites/{site}", 200), ("client", "/sites/{site}", 200), ("tech", "/sites/{site}", 200),
    ("other_client", "/sites/{site}", 404), ("tech2", "/sites/{site}", 404),
    ("client", "/sites", 200),
]


@pytest.mark.parametrize(("role", "url", "status"), PAGE_CASES)
def test_page_role_boundaries(client, site, role, url, status):
    login(client, f"{role}@example.com")
    assert client.get(url.format(site=site["id"])).status_code == status


def test_browser_json_write_needs_the_csrf_token(client, site, bundle):
    login(client, "tech@example.com")
    body = {"device_id": "browser", "mutations": [update(bundle["items"][0], {"note": "x"})]}
    refused = client.post("/api/sync", json=body)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf"
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    accepted = client.post("/api/sync", json=body, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200 and accepted.get_json()["acks"][0]["status"] == "applied"


def test_field_app_header_is_accepted_only_from_the_same_origin(client, site, bundle):
    login(client, "tech@example.com")

    def send(headers):
        body = {"device_id": "browser", "mutations": [update(bundle["items"][0], {"note": "late"})]}
        return client.post("/api/sync", json=body, headers={"X-FieldKit-Client": "1", **headers})

    assert send({"Sec-Fetch-Site": "cross-site"}).status_code == 400
    assert send({"Origin": "https://evil.example"}).status_code == 400
    assert send({"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert send({"Origin": "http://localhost"}).status_code == 200


def test_login_with_a_wrong_password_says_so_and_does_not_sign_in(client, people):
    response = login(client, "pm@example.com", "wrong-password")
    assert response.status_code == 400
    assert "do not match" in response.get_data(as_text=True)
    assert client.get("/board").status_code == 302


def test_login_form_without_csrf_token_is_refused(client, people):
    response = client.post("/login", data={"email": "pm@example.com", "password": "correct-horse-1"})
    assert response.status_code == 400


def test_login_then_logout(client, people):
    assert login(client, "pm@example.com").headers["Location"] == "/board"
    assert client.get("/board").status_code == 200
    page = client.get("/board").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/board").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example/x", "/%5Cevil.example", "/\t/evil.example",
                                    "https://evil.example/", "evil.example"])
def test_login_redirect_never_leaves_the_site(app, people, target):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/login", query_string={"next": target.replace("%5C", "\\")}, data={
        "email": "pm@example.com", "password": "correct-horse-1", "csrf_token": token})
    assert response.headers["Location"] == "/board"


def test_login_goes_back_to_the_page_that_asked(client, people):
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/login", query_string={"next": "/field/sites/3?tab=rooms"}, data={
        "email": "tech@example.com", "password": "correct-horse-1", "csrf_token": token})
    assert response.headers["Location"] == "/field/sites/3?tab=rooms"


def test_session_cookie_is_http_only_and_same_site(client, people):
    response = login(client, "pm@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_cannot_be_framed_by_another_site_and_load_only_their_own_code(client, people):
    page = client.get("/login")
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy and "script-src" not in policy
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    answer = client.get("/api/templates")
    assert answer.status_code == 401 and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in answer.headers  # JSON, PDFs and images are not pages
