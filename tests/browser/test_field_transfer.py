"""What a phone's Chromium downloads: each field module once, under its content hash, compressed; and a
stylesheet it has is not asked for again."""
from collections import Counter

from tests.browser.conftest import sign_in
from tests.browser.test_field_offline import open_app


def recording(app):
    """Every request the server answers, as (path, query string), in order."""
    seen, inner = [], app.wsgi_app

    def record(environ, start_response):
        seen.append((environ["PATH_INFO"], environ.get("QUERY_STRING", "")))
        return inner(environ, start_response)

    app.wsgi_app = record
    return seen


def test_the_field_app_loads_each_module_once_under_its_hash_and_compressed(app, server, phone, site):
    seen = recording(app)
    page = phone().new_page()
    open_app(page, server, "tech@example.com")
    modules = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(e => new URL(e.name).pathname.startsWith('/static/field/'))
        .map(e => ({url: new URL(e.name).pathname + new URL(e.name).search, sent: e.encodedBodySize,
                    size: e.decodedBodySize}))""")
    urls = [m["url"] for m in modules]
    assert "/static/field/sync.js" in {url.split("?")[0] for url in urls}
    assert all("?v=" in url for url in urls), urls
    assert len(urls) == len({url.split("?")[0] for url in urls}), "a module was loaded under two URLs"
    assert all(m["sent"] < m["size"] / 2 for m in modules), modules  # compressed on the wire
    static = Counter(f"{path}?{query}" for path, query in seen if path.startswith("/static/"))
    assert not [url for url in static if "?v=" not in url and url != "/static/field/index.html?"], static
    # The service worker's install takes what the page downloaded from the HTTP cache instead of again.
    assert static and max(static.values()) == 1, static

    # Whatever names a module, a relative import, the plain path or the hashed URL, it is the same module.
    assert page.evaluate("""async () => {
        const hashed = JSON.parse(document.querySelector('script[type=importmap]').textContent)
            .imports['/static/field/sync.js'];
        const [a, b] = await Promise.all([import('/static/field/sync.js'), import(hashed)]);
        return hashed.includes('?v=') && a === b && typeof a.settings === 'object';
    }""")


def test_a_page_stylesheet_is_downloaded_once_and_then_kept(app, server, phone, site):
    seen = recording(app)
    page = phone().new_page()
    sign_in(page, server.url, "pm@example.com")
    page.goto(server.url + "/board")
    page.goto(server.url + f"/sites/{site['id']}")
    page.goto(server.url + "/board")
    stylesheets = [(path, query) for path, query in seen if path == "/static/app.css"]
    assert len(stylesheets) == 1 and stylesheets[0][1].startswith("v="), stylesheets
