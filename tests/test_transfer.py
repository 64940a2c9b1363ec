"""What crosses the network: text compressed as the phone asks, static files cached for good under their hash."""
import gzip
import hashlib
import http.client
import re
import shutil

import brotli
import pytest

from fieldkit.web import field
from tests.browser.conftest import Server
from tests.conftest import login
from tests.evidence import encoded, photo_like, upload

IMMUTABLE = "public, max-age=31536000, immutable"
DECODE = {"br": brotli.decompress, "gzip": gzip.decompress}


def versioned_urls(text: str) -> list[str]:
    """Every hashed URL a page, the shell (its links and its import map) or the worker names."""
    return re.findall(r'"(/[^"]+\?v=[0-9a-f]{16})"', text)


def fetched(client, url, encoding=None, **headers):
    """The answer and its body as bytes on the wire, asked with `Accept-Encoding: encoding` (none: not asked)."""
    if encoding:
        headers["Accept-Encoding"] = encoding
    with client.get(url, headers=headers) as response:
        return response, response.get_data()


@pytest.fixture
def tech(client, people, site):
    """The technician's phone, signed in, with its site: the shell, one of its modules and the bundle."""
    login(client, "tech@example.com")
    shell = client.get("/field/").get_data(as_text=True)
    sync_js = re.search(r'"/static/field/sync\.js": "([^"]+)"', shell).group(1)
    return client, ["/field/", sync_js, f"/api/sites/{site['id']}/bundle"]


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_the_shell_a_module_and_a_bundle_arrive_compressed_as_the_phone_asks(tech, encoding):
    client, urls = tech
    for url in urls:
        plain, body = fetched(client, url)
        assert plain.status_code == 200, url
        assert "Content-Encoding" not in plain.headers, url
        packed, wire = fetched(client, url, encoding)
        assert packed.headers["Content-Encoding"] == encoding, url
        assert "Accept-Encoding" in packed.headers["Vary"], url
        assert len(wire) < len(body) / 2, url
        assert DECODE[encoding](wire) == body, url


def test_a_phone_that_asks_for_no_compression_gets_the_plain_bytes(tech):
    client, urls = tech
    module = urls[1]
    for asked in (None, "identity"):
        response, body = fetched(client, module, asked)
        assert "Content-Encoding" not in response.headers
        assert "Accept-Encoding" in response.headers["Vary"]
        assert body == (field.STATIC / "field" / "sync.js").read_bytes()


def test_a_short_answer_is_not_compressed(api):
    response, body = fetched(api["tech"].client, "/api/sites/999999", "br", **api["tech"].headers)
    assert response.status_code == 404 and len(body) < 500
    assert "Content-Encoding" not in response.headers
    assert response.get_json()["error"]["code"] == "not_found"


def test_photos_icons_and_the_handover_pack_are_sent_as_they_are(api, client, people, site):
    photo = upload(api, "tech", site["id"], encoded(photo_like(800, 600))).get_json()
    response, data = fetched(api["pm"].client, f"/api/photos/{photo['id']}", "br, gzip", **api["pm"].headers)
    assert (response.mimetype, "Content-Encoding" in response.headers) == ("image/jpeg", False)
    assert hashlib.sha256(data).hexdigest() == photo["sha256"]
    again, _ = fetched(api["pm"].client, f"/api/photos/{photo['id']}", "br, gzip",
                       **api["pm"].headers, **{"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304

    icon, data = fetched(client, "/field/icons/512.png", "br, gzip")
    assert (icon.mimetype, "Content-Encoding" in icon.headers) == ("image/png", False)
    assert data == field.draw_icon(512)

    login(client, "pm@example.com")
    pack, data = fetched(client, f"/sites/{site['id']}/handover.pdf", "br, gzip")
    assert (pack.status_code, pack.mimetype, "Content-Encoding" in pack.headers) == (200, "application/pdf", False)
    assert data.startswith(b"%PDF-") and int(pack.headers["Content-Length"]) == len(data)


def test_every_file_the_shell_and_the_pages_name_is_hashed_and_kept_for_a_year(tech):
    client, _ = tech
    shell = client.get("/field/").get_data(as_text=True)
    worker = client.get("/sw.js").get_data(as_text=True)
    page = client.get("/sites").get_data(as_text=True)
    urls = versioned_urls(shell) + versioned_urls(page) + versioned_urls(worker)
    named = {url.split("?")[0] for url in urls}
    assert {"/static/app.css", "/static/field/field.css", "/static/field/app.js", "/static/field/ui.js",
            "/field/icons/192.png"} <= named
    assert not re.search(r'(?:href|src)="/static/[^"?]+"', shell + page), "a static URL without its hash"
    for url in urls:
        response, _ = fetched(client, url, "br")
        assert (response.status_code, response.headers["Cache-Control"]) == (200, IMMUTABLE), url
    for url in ("/static/app.css", "/static/app.css?v=0123456789abcdef"):  # no hash, or an old one: ask again
        response, _ = fetched(client, url, "br")
        assert response.headers["Cache-Control"] == "no-cache", url
        assert fetched(client, url, "br", **{"If-None-Match": response.headers["ETag"]})[0].status_code == 304
    for url in ("/field/", "/sw.js", "/manifest.webmanifest"):  # what names the hashes is always asked again
        assert "no-cache" in client.get(url).headers["Cache-Control"]


def test_a_changed_file_gets_a_new_url_and_no_other_file_does(app, client, tech, monkeypatch, tmp_path):
    copy = tmp_path / "static"
    shutil.copytree(field.STATIC, copy)
    monkeypatch.setattr(field, "STATIC", copy)
    app.static_folder = str(copy)
    before = set(versioned_urls(field.build_assets().shell.decode()) + versioned_urls(client.get("/sites").get_data(as_text=True)))
    for name in ("app.css", "field/ui.js"):
        (copy / name).write_bytes((copy / name).read_bytes() + b"\n/* changed */\n")
    after = set(versioned_urls(field.build_assets().shell.decode()) + versioned_urls(client.get("/sites").get_data(as_text=True)))
    assert {url.split("?")[0] for url in after - before} == {"/static/app.css", "/static/field/ui.js"}
    assert {url.split("?")[0] for url in before - after} == {"/static/app.css", "/static/field/ui.js"}
    old_css = next(url for url in before - after if url.startswith("/static/app.css"))
    new_css = next(url for url in after - before if url.startswith("/static/app.css"))
    response, body = fetched(client, old_css)
    assert response.headers["Cache-Control"] == "no-cache" and body.endswith(b"/* changed */\n")
    assert fetched(client, new_css)[0].headers["Cache-Control"] == IMMUTABLE


def raw_get(port: int, url: str, encoding: str) -> tuple[http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", url, headers={"Accept-Encoding": encoding})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_over_real_http_the_streamed_files_arrive_whole(app, tech):
    """A static file is streamed from disk and compressed on the way, and arrives whole."""
    _, urls = tech
    server = Server(app)
    try:
        for encoding in ("br", "gzip"):
            response, wire = raw_get(server.port, urls[1], encoding)
            assert (response.status, response.getheader("Content-Encoding")) == (200, encoding)
            assert DECODE[encoding](wire) == (field.STATIC / "field" / "sync.js").read_bytes()
        response, wire = raw_get(server.port, "/static/field/index.html", "gzip")
        assert gzip.decompress(wire) == app.extensions["field"].shell
    finally:
        server.stop()
