"""The field app's shell, service worker, manifest and icons, and what a QR label opens."""
import io
import json
import re

import pytest
from PIL import Image

from fieldkit import create_app
from fieldkit.web import field
from tests.conftest import login


@pytest.mark.parametrize(("email", "path", "status"), [
    ("tech@example.com", "/field/", 200),
    ("tech@example.com", "/field/sites/1/items/7", 200),
    ("tech@example.com", "/t/K7M-4QX", 200),
    ("pm@example.com", "/field/", 200),
    ("admin@example.com", "/field/scan", 200),
    ("client@example.com", "/field/", 403),
    ("client@example.com", "/t/K7M-4QX", 403),
])
def test_the_field_app_opens_for_field_roles_only(client, people, email, path, status):
    login(client, email)
    response = client.get(path)
    assert response.status_code == status
    if status == 200:
        assert re.search(r'<script type="module" src="/static/field/app\.js\?v=[0-9a-f]{16}">',
                         response.get_data(as_text=True))
    else:
        assert "field app is for technicians" in response.get_data(as_text=True)


@pytest.mark.parametrize(("path", "login_next"), [
    ("/field/", "/field/"), ("/field/sites/3", "/field/sites/3"), ("/t/K7M-4QX", "/t/K7M-4QX"),
])
def test_someone_not_signed_in_is_sent_to_sign_in_and_back(client, path, login_next):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/login?next={login_next.replace('/', '%2F')}") or \
        response.headers["Location"].endswith(f"/login?next={login_next}")


def test_after_signing_in_from_a_qr_label_the_tech_lands_on_the_asset(client, people):
    target = client.get("/t/K7M-4QX").headers["Location"]
    page = client.get(target).get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    answer = client.post(target, data={"email": "tech@example.com", "password": "correct-horse-1",
                                       "csrf_token": token})
    assert answer.headers["Location"] == "/t/K7M-4QX"


def test_the_service_worker_is_versioned_by_what_it_caches(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "no-cache" in response.headers["Cache-Control"]
    assert response.headers["Service-Worker-Allowed"] == "/"
    text = response.get_data(as_text=True)
    version = re.search(r'const VERSION = "([0-9a-f]{16})"', text).group(1)
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", text).group(1))
    assert {"/static/field/index.html", "/static/field/app.js", "/static/app.css", "/manifest.webmanifest",
            "/field/icons/192.png"} <= {url.split("?v=")[0] for url in precache}
    for url in precache:
        with client.get(url) as cached:  # static files are streamed: close them
            assert cached.status_code == 200, url
    assert "indexedDB" not in text.split("\n", 2)[2], "the worker must never touch the data on the phone"
    assert create_app({"TESTING": True}).extensions["field"].version == version  # same files, same version


def test_a_changed_shell_file_makes_a_new_version(monkeypatch, tmp_path):
    before = field.build_assets().version
    original = field.STATIC
    copy = tmp_path / "static"
    (copy / "field").mkdir(parents=True)
    for path in (original / "field").iterdir():
        (copy / "field" / path.name).write_bytes(path.read_bytes())
    (copy / "app.css").write_bytes((original / "app.css").read_bytes() + b"\n/* changed */\n")
    monkeypatch.setattr(field, "STATIC", copy)
    assert field.build_assets().version != before


def test_the_app_can_be_installed(client):
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = manifest.get_json(force=True)
    assert (data["start_url"], data["scope"], data["display"]) == ("/field/", "/", "standalone")
    sizes = {icon["sizes"] for icon in data["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(icon.get("purpose") == "maskable" for icon in data["icons"])
    for icon in data["icons"]:
        response = client.get(icon["src"])
        image = Image.open(io.BytesIO(response.get_data()))
        assert (response.mimetype, image.format, f"{image.width}x{image.height}") == ("image/png", "PNG", icon["sizes"])
    assert client.get("/field/icons/nope.png").status_code == 404


def test_the_first_load_stays_under_100_kb():
    sizes = field.first_load_bytes()
    assert {"/static/field/index.html", "/static/field/app.js", "/static/field/sync.js", "/static/field/store.js",
            "/static/app.css", "/static/field/field.css"} <= set(sizes)
    assert sum(sizes.values()) < 100 * 1024, sizes
