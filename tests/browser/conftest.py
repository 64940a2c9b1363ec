"""A live FieldKit server in a thread and real Chromium driven by Playwright."""
import os
import threading

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.browser)
        if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
            item.add_marker(pytest.mark.skip(reason=f"needs Debian's chromium at {CHROMIUM}"))


class OneRequestPerConnection(WSGIRequestHandler):
    # No keep-alive: once the server is stopped, nothing (not even the service worker) reaches it.
    protocol_version = "HTTP/1.0"


class Server:
    """The app over real HTTP, which a test can unplug and plug back in on the same address."""

    def __init__(self, app):
        self.app, self.port = app, 0
        self.start()
        self.url = f"http://127.0.0.1:{self.port}"
        app.config["BASE_URL"] = self.url

    def start(self):
        self.http = make_server("127.0.0.1", self.port, self.app, threaded=True,
                                request_handler=OneRequestPerConnection)
        # Request threads are joined on stop: one still running when the app fixture disposes the engine
        # would leave its database connection to the garbage collector.
        self.http.daemon_threads = False
        self.port = self.http.server_port
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.http.shutdown()
        self.http.server_close()  # waits for the requests in flight
        self.thread.join(timeout=5)


@pytest.fixture
def server(app):
    """The running server, for tests that unplug it."""
    running = Server(app)
    yield running
    running.stop()


@pytest.fixture
def live_server(server):
    """The app served over real HTTP on a free local port; yields its base URL."""
    return server.url


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def phone(chromium, server):
    """A new phone-sized browser context (its own cookies, service workers and IndexedDB).

    It asks for `server` so that its contexts close, and their connections with them, before the
    server stops."""
    contexts, refused = [], []

    def make():
        context = chromium.new_context(**PHONE)
        context.set_default_timeout(10_000)
        # Anything the page's security policy blocks is a bug: the page relies on something it may not load.
        context.on("console", lambda message: "Content Security Policy" in message.text
                   and refused.append(message.text))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not refused, refused


def sign_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
