"""Notifications: signed webhooks on verdict changes and failed blockers, retried, never in a sync's way."""
import hashlib
import hmac
import json
import re
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme
from sqlalchemy import select

from fieldkit import notify
from fieldkit.db import db
from fieldkit.models import Site, WebhookDelivery, utcnow
from fieldkit.web.webhooks import deliver_round
from tests.conftest import login, update

SECRET = "shared-with-the-receiver"


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1: records each request and answers with the planned statuses (then 200)."""

    url: str
    received: list = field(default_factory=list)
    plan: list = field(default_factory=list)
    delay: float = 0.0
    location: str = ""

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]


@contextmanager
def serving(host="127.0.0.1", name=None, tls=None):
    """A Receiver listening on `host` (named `name` in its URL), over TLS when `tls` is an ssl context."""
    made = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            made.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            time.sleep(made.delay)
            status = made.plan.pop(0) if made.plan else 200
            self.send_response(status)
            if made.location:
                self.send_header("Location", made.location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = Server((host, 0), Handler)
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    shown = name or (f"[{host}]" if ":" in host else host)
    made.url = f"{'https' if tls else 'http'}://{shown}:{server.server_port}/hooks/fieldkit"
    yield made
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver():
    with serving() as made:
        yield made


@pytest.fixture
def hanging_url():
    """A server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    sock.close()


@pytest.fixture
def refused_url():
    """A port nothing listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hook"


@pytest.fixture(autouse=True)
def local_receivers(app):
    """The receivers in these tests listen on 127.0.0.1, an internal address refused by default."""
    app.config["WEBHOOK_ALLOW_INTERNAL"] = True


@pytest.fixture
def signed(app):
    app.config["WEBHOOK_SECRET"] = SECRET
    return app


@pytest.fixture
def worker(app):
    """The real background thread, polling fast; stopped after the test."""
    app.config["WEBHOOK_THREAD"] = True
    thread = app.extensions["webhook_worker"]
    thread.poll = 0.05
    yield thread
    thread.stop()


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def set_webhooks(client, site_id, site_url="", client_url=""):
    """The PM fills in the notification form on the site page."""
    token = csrf_from(client.get(f"/sites/{site_id}").get_data(as_text=True))
    return client.post(f"/sites/{site_id}/webhooks", data={"site_url": site_url, "client_url": client_url,
                                                           "csrf_token": token}, follow_redirects=True)


@pytest.fixture
def pm_browser(app, people):
    """The PM in a browser of their own (the `api` fixture's client talks with bearer tokens)."""
    browser = app.test_client()
    login(browser, "pm@example.com")
    return browser


def fail_a_blocker(api, bundle, index=0):
    blocker = [i for i in bundle["items"] if i["severity"] == "blocker"][index]
    started = time.monotonic()
    response = api["tech"].sync([update(blocker, {"status": "fail", "note": "ISP engineer did not turn up"})])
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.get_json()["acks"][0]["status"] == "applied"
    return blocker, elapsed


def deliveries(app) -> list[WebhookDelivery]:
    with app.app_context():
        rows = db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()
        db.session.expunge_all()
        return rows


def deliver(app, at):
    with app.app_context():
        attempted = notify.deliver_due(db.session, at, secret=SECRET.encode(), base_url=app.config["BASE_URL"],
                                       timeout=2, allow_internal=True)
        db.session.commit()
        return attempted


def test_pm_saves_webhook_urls_and_odd_ones_are_refused(pm_browser, site):
    for bad in ("ftp://files.example.com/x", "javascript:alert(1)", "hooks.slack.com/services/x",
                "https://", "https://exa mple.com/x", "https://example.com:99999/x"):
        page = set_webhooks(pm_browser, site["id"], site_url=bad).get_data(as_text=True)
        assert "flash-error" in page, bad
    page = set_webhooks(pm_browser, site["id"], site_url="https://hooks.slack.com/services/T0/B0/secret",
                        client_url="https://acme.webhook.office.com/webhookb2/x").get_data(as_text=True)
    assert "Notification settings saved." in page
    assert 'value="https://hooks.slack.com/services/T0/B0/secret"' in page
    assert 'value="https://acme.webhook.office.com/webhookb2/x"' in page


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/x", "http://localhost/x", "https://10.1.2.3/x",
                                 "http://169.254.169.254/latest/meta-data", "http://[::1]/x",
                                 "http://[::ffff:192.168.1.1]/x", "http://app.localhost/x"])
def test_webhooks_to_internal_addresses_are_refused_when_saved(app, pm_browser, site, url):
    app.config["WEBHOOK_ALLOW_INTERNAL"] = False
    page = set_webhooks(pm_browser, site["id"], site_url=url).get_data(as_text=True)
    assert "points inside this network" in page and "Notification settings saved." not in page
    with app.app_context():
        assert db.session.get(Site, site["id"]).webhook_url is None


@pytest.mark.parametrize("address, internal", [
    ("8.8.8.8", False), ("2606:4700:4700::1111", False), ("hooks.slack.com", False),
    ("10.0.0.1", True), ("172.16.5.4", True), ("192.168.1.1", True), ("127.0.0.1", True), ("0.0.0.0", True),
    ("169.254.169.254", True), ("100.64.0.1", True), ("224.0.0.1", True), ("::1", True), ("fd00::1", True),
    ("fe80::1%eth0", True), ("::ffff:10.0.0.1", True)])
def test_what_counts_as_an_internal_address(address, internal):
    assert notify._internal(address) is internal


def test_a_host_that_resolves_inside_the_network_is_not_sent_to(app, api, pm_browser, site, bundle, receiver):
    set_webhooks(pm_browser, site["id"], site_url=receiver.url)  # saved while internal hosts were allowed
    app.config["WEBHOOK_ALLOW_INTERNAL"] = False
    fail_a_blocker(api, bundle)
    assert deliver_round(app) == 1
    assert receiver.received == []
    [delivery] = deliveries(app)
    assert delivery.status == "pending"
    assert delivery.attempts[0]["error"] == "not sent: the host resolves to an internal address (127.0.0.1)"
    page = pm_browser.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "resolves to an internal address" in page


def test_only_pms_change_webhooks_and_without_the_form_token_nothing_is_saved(client, pm_browser, site):
    login(client, "client@example.com")
    token = csrf_from(client.get(f"/sites/{site['id']}").get_data(as_text=True))
    assert "Notifications" not in client.get(f"/sites/{site['id']}").get_data(as_text=True)
    response = client.post(f"/sites/{site['id']}/webhooks", data={"site_url": "https://evil.example/x",
                                                                   "csrf_token": token})
    assert response.status_code == 403
    response = pm_browser.post(f"/sites/{site['id']}/webhooks", data={"site_url": "https://x.example/h"})
    assert response.status_code == 400 and "security token" in response.get_data(as_text=True)
    assert 'value="https://x.example/h"' not in pm_browser.get(f"/sites/{site['id']}").get_data(as_text=True)


def test_a_failed_blocker_posts_a_signed_slack_style_message(signed, api, pm_browser, site, bundle, receiver):
    set_webhooks(pm_browser, site["id"], site_url=receiver.url)
    blocker, _ = fail_a_blocker(api, bundle)
    [queued] = deliveries(signed)
    assert queued.status == "pending" and queued.url == receiver.url and receiver.received == []

    assert deliver(signed, utcnow()) == 1

    [(headers, body)] = receiver.received
    timestamp = headers["x-fieldkit-timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["x-fieldkit-signature"] == f"sha256={expected}"
    assert abs(int(timestamp) - time.time()) < 60 and headers["content-type"] == "application/json"
    message = json.loads(body)
    assert message["event"] in ("verdict_changed", "blocker_failed") and message["status"] == "NO_GO"
    assert message["text"].startswith("Acme Dental – new clinic (Acme Dental)")
    assert blocker["title"] in message["text"] and message["url"] == f"http://fieldkit.test/sites/{site['id']}"
    assert message["failed_blockers"][0]["item_id"] == blocker["id"]
    assert deliveries(signed)[0].status == "sent"
    listed = pm_browser.get(f"/sites/{site['id']}").get_data(as_text=True).split("<h3>Deliveries</h3>")[1]
    assert "sent" in listed and "HTTP 200" in listed
    assert "http://127.0.0.1" in listed and "/hooks/fieldkit" not in listed  # the path may be the secret


def test_verdict_changes_both_ways_are_announced_and_unchanged_verdicts_are_not(
        signed, api, pm_browser, site, bundle, receiver):
    set_webhooks(pm_browser, site["id"], site_url=receiver.url)
    before = api["pm"].get(f"/api/sites/{site['id']}/readiness").get_json()["status"]
    blocker, _ = fail_a_blocker(api, bundle)
    fixed = api["tech"].sync([update(blocker | {"rev": blocker["rev"] + 1}, {"status": "todo"})]).get_json()
    assert fixed["acks"][0]["status"] == "applied"
    note_only = api["tech"].sync([update(blocker | {"rev": blocker["rev"] + 2}, {"note": "Rebooked"})]).get_json()
    assert note_only["acks"][0]["status"] == "applied"
    deliver(signed, utcnow())
    events = [(m["event"], m["previous_status"], m["status"]) for m in receiver.bodies()]
    if before == "NO_GO":
        assert events == [("blocker_failed", "NO_GO", "NO_GO")]
    else:
        assert events == [("verdict_changed", before, "NO_GO"), ("verdict_changed", "NO_GO", before)]


def test_a_500_is_retried_with_back_off_and_every_attempt_is_visible(signed, api, pm_browser, site, bundle,
                                                                      receiver):
    set_webhooks(pm_browser, site["id"], site_url=receiver.url)
    receiver.plan[:] = [500]
    fail_a_blocker(api, bundle)
    now = utcnow()

    assert deliver(signed, now) == 1
    [row] = deliveries(signed)
    assert row.status == "pending" and row.attempts[0]["status_code"] == 500
    assert "HTTP 500" in pm_browser.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert deliver(signed, now + timedelta(seconds=20)) == 0  # not due before 30 s
    assert deliver(signed, now + timedelta(seconds=31)) == 1

    [row] = deliveries(signed)
    assert row.status == "sent" and [a["status_code"] for a in row.attempts] == [500, 200]
    assert len(receiver.received) == 2
    first, second = (json.loads(body) for _, body in receiver.received)
    assert first == second  # the same message, signed afresh
    page = pm_browser.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "HTTP 500" in page and "HTTP 200" in page


def test_a_webhook_that_keeps_failing_is_given_up_after_the_last_attempt(signed, api, pm_browser, site, bundle,
                                                                           receiver):
    set_webhooks(pm_browser, site["id"], site_url=receiver.url)
    receiver.plan[:] = [503] * 10
    fail_a_blocker(api, bundle)
    at = utcnow()
    for wait in (timedelta(0), *notify.BACKOFF):
        at += wait + timedelta(seconds=1)
        assert deliver(signed, at) == 1
    assert deliver(signed, at + timedelta(days=2)) == 0
    [row] = deliveries(signed)
    assert row.status == "failed" and len(row.attempts) == notify.MAX_ATTEMPTS == len(receiver.received)


def test_site_and_client_webhooks_each_get_the_message_once(signed, api, pm_browser, site, bundle, receiver):
    set_webhooks(pm_browser, site["id"], site_url=receiver.url, client_url=receiver.url + "?all=1")
    fail_a_blocker(api, bundle)
    assert sorted(d.url for d in deliveries(signed)) == [receiver.url, receiver.url + "?all=1"]
    set_webhooks(pm_browser, site["id"], site_url=receiver.url, client_url=receiver.url)
    fail_a_blocker(api, api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json(), index=1)
    assert len(deliveries(signed)) == 3


def test_no_webhook_no_delivery_and_a_new_site_announces_nothing(signed, api, pm_browser, site, bundle, receiver):
    fail_a_blocker(api, bundle)
    assert deliveries(signed) == []
    set_webhooks(pm_browser, site["id"], client_url=receiver.url)
    response = api["pm"].post("/api/sites", {"name": "Acme Dental – second clinic", "client": "Acme Dental",
                                             "template": "office-move", "rooms": ["Reception"],
                                             "move_in": (date.today() + timedelta(days=2)).isoformat()})
    assert response.status_code == 201 and response.get_json()["status"] == "NO_GO"
    assert deliveries(signed) == []


@pytest.mark.parametrize("dead", ["hanging_url", "refused_url"])
def test_a_dead_webhook_never_slows_or_breaks_a_sync(request, signed, api, pm_browser, site, bundle, worker, dead):
    url = request.getfixturevalue(dead)
    signed.config["WEBHOOK_TIMEOUT"] = 1.5
    set_webhooks(pm_browser, site["id"], site_url=url)  # this request also starts the worker thread

    _, elapsed = fail_a_blocker(api, bundle)
    later = api["tech"].sync([], cursor=0)

    assert elapsed < 1.0, f"the sync took {elapsed:.2f} s with a dead webhook"
    assert later.status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not deliveries(signed)[0].attempts:
        time.sleep(0.1)
    [row] = deliveries(signed)
    assert row.status == "pending" and row.attempts[0]["error"] in ("no answer within 1.5 s", "could not connect")
    started = time.monotonic()
    assert api["tech"].sync([], cursor=0).status_code == 200
    assert time.monotonic() - started < 1.0


def test_the_background_worker_sends_soon_after_the_sync(signed, api, pm_browser, site, bundle, receiver, worker):
    worker.poll = 30  # only the wake-up after the commit can make it send within the deadline below
    set_webhooks(pm_browser, site["id"], site_url=receiver.url)
    time.sleep(0.2)
    fail_a_blocker(api, bundle)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not receiver.received:
        time.sleep(0.05)
    assert len(receiver.received) == 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and deliveries(signed)[0].status != "sent":
        time.sleep(0.05)
    assert deliveries(signed)[0].status == "sent"


def test_two_workers_never_send_the_same_delivery(signed, api, pm_browser, site, bundle, receiver):
    set_webhooks(pm_browser, site["id"], site_url=receiver.url, client_url=receiver.url + "?all=1")
    fail_a_blocker(api, bundle)
    receiver.delay = 0.2
    now = utcnow()
    counts = []
    threads = [threading.Thread(target=lambda: counts.append(deliver(signed, now))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sum(counts) == 2 and len(receiver.received) == 2
    assert sorted(m["delivery_id"] for m in receiver.bodies()) == sorted(d.id for d in deliveries(signed))


def test_the_round_the_thread_runs_signs_with_a_key_derived_from_the_secret_key(app, api, pm_browser, site,
                                                                                 bundle, receiver):
    assert app.config["WEBHOOK_SECRET"] == ""
    set_webhooks(pm_browser, site["id"], site_url=receiver.url)
    fail_a_blocker(api, bundle)
    assert deliver_round(app) == 1
    [(headers, body)] = receiver.received
    key = notify.signing_secret("", app.config["SECRET_KEY"])
    assert key != app.config["SECRET_KEY"].encode()
    assert headers["x-fieldkit-signature"] == notify.signature(key, headers["x-fieldkit-timestamp"], body)


# --------------------------------------------------------------------------- the status update


READINESS = {"status": "NO_GO", "score": 42,
             "reasons": ["The internet connection at the new office is not live yet: it is due 3 Dec.",
                         "2 less critical items are overdue: Printers and Badges."],
             "blockers": [{"item_id": 1, "title": "Internet circuit live", "reason": "Not ready."}]}


def update_text(**overrides):
    facts = {"name": "12 Quay Street", "client": "Harbour & Finch", "move_in": date(2025, 12, 4),
             "today": date(2025, 11, 22), "readiness": READINESS, "signoff_url": "https://fk.example/s/1/signoff",
             "handover_url": "https://fk.example/s/1/handover.pdf"} | overrides
    return notify.status_update(**facts)


def test_status_update_says_where_it_stands_what_is_at_risk_and_what_is_needed():
    text = update_text()
    assert text.startswith("Status update: 12 Quay Street (Harbour & Finch), Sat 22 Nov 2025")
    assert "Not ready to go live" in text and "Move-in is in 12 days (Thu 4 Dec 2025)" in text
    assert "Readiness score: 42 out of 100." in text
    assert "- The internet connection at the new office is not live yet" in text
    assert "A decision: keep the move-in date of Thu 4 Dec 2025 and accept that 1 critical item may not be ready" in text
    assert [line for line in text.splitlines() if not line][:3] == ["", "", ""]


@pytest.mark.parametrize(("overrides", "needed"), [
    ({"readiness": {"status": "GO", "score": 96, "reasons": ["Every critical item is done and 96% ..."]}},
     "sign off the handover on a phone or tablet: https://fk.example/s/1/signoff"),
    ({"readiness": {"status": "AT_RISK", "score": 70, "reasons": []}}, "done by Mon 1 Dec 2025"),
    ({"signed_off_at": date(2025, 12, 4)}, "Nothing: the project is signed off. The handover pack is here"),
    ({"signed_off_at": date(2025, 12, 4), "changed_after_signoff": True},
     "review the changes made since your sign-off and sign again: https://fk.example/s/1/signoff"),
])
def test_status_update_asks_the_client_for_what_fits_the_stage(overrides, needed):
    text = update_text(**overrides)
    assert needed in text.split("What we need from you")[1]


def test_status_update_with_nothing_at_risk_says_so():
    text = update_text(readiness={"status": "GO", "score": 100, "reasons": ["Every critical item is done."]})
    assert "- Nothing critical: every blocker is done." in text


def test_the_site_page_offers_the_status_update_to_copy(pm_browser, site):
    page = pm_browser.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert 'id="status-update-text"' in page and 'data-copy="status-update-text"' in page
    assert "Status update: Acme Dental – new clinic (Acme Dental)" in page


# --------------------------------------------------------------------------- webhook URLs that are not what they seem


def queue(app, site_id: int, url: str) -> int:
    """A delivery to `url` as one saved before the stricter checks would sit in the queue."""
    with app.app_context():
        row = WebhookDelivery(site_id=site_id, url=url, event="blocker_failed", payload={"text": "x", "path": "/"})
        db.session.add(row)
        db.session.commit()
        return row.id


def send_queued(app, *, allow_internal=False):
    with app.app_context():
        attempted = notify.deliver_due(db.session, utcnow(), secret=SECRET.encode(),
                                       base_url=app.config["BASE_URL"], timeout=2, allow_internal=allow_internal)
        db.session.commit()
        return attempted


def test_a_backslash_url_aimed_at_a_local_port_is_refused_and_nothing_reaches_that_port(app, pm_browser, site,
                                                                                        receiver):
    app.config["WEBHOOK_ALLOW_INTERNAL"] = False
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://127.0.0.1:{port}\\@a..b/x"
    page = set_webhooks(pm_browser, site["id"], site_url=url).get_data(as_text=True)
    assert "flash-error" in page and "Notification settings saved." not in page
    with app.app_context():
        assert db.session.get(Site, site["id"]).webhook_url is None

    queue(app, site["id"], url)  # saved before this check existed
    assert send_queued(app) == 1
    assert receiver.received == []
    [row] = deliveries(app)
    assert "status_code" not in row.attempts[0] and row.attempts[0]["error"].startswith("not sent:")
    listed = pm_browser.get(f"/sites/{site['id']}").get_data(as_text=True).split("<h3>Deliveries</h3>")[1]
    assert "HTTP " not in listed


AMBIGUOUS = [
    "http://127.0.0.1:8080\\@a..b/x", "http://hooks.example.com\\@evil.example/x", "http://a..b/x",
    "http://user@hooks.example.com/x", "http://user:pw@hooks.example.com/x", "http://hooks.example.com@evil.example/",
    "http://hooks.example.com./x", "http://.hooks.example.com/x", "http://hooks.exa\x00mple.com/x",
    "http://hooks.example.com/x\r\nX-Injected: 1", "http://hooks.example.com\t/x", "http://hooks.example.com/\x7f",
    "http://hooks.example.com\u200b/x", "http://hooks.exa%6dple.com/x", "http://hooks_example.com:/x",
    "http://hooks.example.com:0/x", "http://hooks.example.com:+80/x", "http://hooks.example.com:65536/x",
    "http://hooks.example.com:8o/x", "gopher://hooks.example.com/x", "file:///etc/passwd", "http:hooks.example.com",
    "http:///hooks.example.com/x", "https://bücher.example/x", "http://[fe80::1%25eth0]/x",
    "http://2130706433/", "http://0x7f.1/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/",
    "http://127.000.000.001/", "http://1.2.3.04/", "http://example.123/",
]


@pytest.mark.parametrize("url", AMBIGUOUS)
def test_urls_a_parser_could_read_two_ways_are_refused_even_for_internal_relays(url):
    with pytest.raises(notify.ValidationError) as refused:
        notify.clean_url(url, allow_internal=True)
    assert refused.value.code == "bad_url"


@pytest.mark.parametrize("url", [
    "http://[::1]:8080/x", "http://[::ffff:127.0.0.1]/x", "http://[::ffff:7f00:1]/x", "http://[0:0:0:0:0:0:0:1]/",
    "http://[::]/", "http://0.0.0.0/", "http://[64:ff9b::7f00:1]/x", "http://[2002:7f00:1::1]/x",
    "http://[fd12:3456::1]/x", "http://100.100.100.200/latest", "http://LOCALHOST./x", "http://Api.LocalHost/x"])
def test_internal_addresses_written_in_other_notations_are_refused(url):
    with pytest.raises(notify.ValidationError):
        notify.clean_url(url)


@pytest.mark.parametrize("url", ["https://hooks.slack.com/services/T0/B0/x?a=1&b=@c#frag",
                                 "https://acme.webhook.office.com:8443/webhookb2/x", "http://8.8.8.8/h",
                                 "https://[2606:4700:4700::1111]/h", "HTTPS://Hooks.Example.com/Path",
                                 "https://xn--bcher-kva.example/x", "https://my_host.example/x"])
def test_plain_public_urls_are_accepted(url):
    assert notify.clean_url(url) == url


class FakeDns:
    """socket.getaddrinfo for `name`: the first answer is `first`, every later one `then`; IP literals as usual."""

    def __init__(self, monkeypatch, name, first, then):
        self.name, self.answers, self.asked, self.real = name, [first], [], socket.getaddrinfo
        self.then = then
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host, port, *args, **kwargs):
        self.asked.append(host)
        if host == self.name:
            address = self.answers.pop(0) if self.answers else self.then
            return self.real(address, port, *args, **kwargs)
        if host == "8.8.8.8":  # the "public" address: no real network in tests
            raise socket.gaierror(socket.EAI_NONAME, "not in this test")
        return self.real(host, port, *args, **kwargs)


def test_a_name_that_rebinds_to_loopback_after_the_check_is_never_sent_to_loopback(app, site, receiver,
                                                                                   monkeypatch):
    port = receiver.url.split(":")[2].split("/")[0]
    dns = FakeDns(monkeypatch, "rebind.example", "8.8.8.8", "127.0.0.1")
    queue(app, site["id"], f"http://rebind.example:{port}/hook")
    assert send_queued(app) == 1
    assert receiver.received == []
    assert dns.asked.count("rebind.example") == 1  # resolved once, checked, and that answer is what is used
    [row] = deliveries(app)
    assert row.attempts[0]["error"] == "could not connect"


def test_a_name_with_any_internal_address_is_not_sent_to_at_all(app, site, receiver, monkeypatch):
    port = receiver.url.split(":")[2].split("/")[0]
    real = socket.getaddrinfo

    def both(host, *args, **kwargs):  # one public and one loopback answer
        if host == "split.example":
            return real("8.8.8.8", *args, **kwargs) + real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", both)
    queue(app, site["id"], f"http://split.example:{port}/hook")
    send_queued(app)
    assert receiver.received == []
    [row] = deliveries(app)
    assert row.attempts[0]["error"] == "not sent: the host resolves to an internal address (127.0.0.1)"


@pytest.mark.parametrize("url", ["http://2130706433:{port}/x", "http://0x7f.1:{port}/x", "http://127.1:{port}/x",
                                 "http://[::ffff:127.0.0.1]:{port}/x", "http://0177.0.0.1:{port}/x"])
def test_a_queued_url_in_an_odd_notation_is_not_sent(app, site, receiver, url):
    port = receiver.url.split(":")[2].split("/")[0]
    queue(app, site["id"], url.format(port=port))
    send_queued(app)
    assert receiver.received == []
    [row] = deliveries(app)
    assert row.attempts[0]["error"].startswith("not sent:")


def test_the_request_names_the_real_host_while_connecting_to_the_checked_address(app, site, receiver,
                                                                               monkeypatch):
    port = receiver.url.split(":")[2].split("/")[0]
    dns = FakeDns(monkeypatch, "relay.internal.example", "127.0.0.1", "127.0.0.1")
    queue(app, site["id"], f"http://relay.internal.example:{port}/hook?x=1")
    send_queued(app, allow_internal=True)  # a relay on the provider's own network
    [(headers, _)] = receiver.received
    assert headers["host"] == f"relay.internal.example:{port}"
    assert dns.asked.count("relay.internal.example") == 1
    assert deliveries(app)[0].status == "sent"


def test_a_redirect_is_not_followed(app, site, receiver):
    with serving() as elsewhere:
        receiver.plan[:], receiver.location = [302], elsewhere.url
        queue(app, site["id"], receiver.url)
        send_queued(app, allow_internal=True)
    [row] = deliveries(app)
    assert row.status == "pending" and row.attempts[0]["status_code"] == 302
    assert len(receiver.received) == 1 and elsewhere.received == []


def test_an_ipv6_receiver_is_reached_at_its_address(app, site):
    with serving("::1") as v6:
        queue(app, site["id"], v6.url)
        send_queued(app, allow_internal=True)
    [(headers, _)] = v6.received
    assert headers["host"] == v6.url.split("/")[2]
    assert deliveries(app)[0].status == "sent"


@pytest.fixture
def tls_for_name(monkeypatch):
    """A certificate for hooks.example.test from a throwaway CA that this process trusts."""
    authority = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("hooks.example.test").configure_cert(server)
    with authority.cert_pem.tempfile() as ca_file:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
        yield server


def test_https_to_the_checked_address_still_checks_the_certificate_for_the_name(app, site, monkeypatch,
                                                                               tls_for_name):
    seen = []
    monkeypatch.setattr(tls_for_name, "sni_callback", lambda sock, name, ctx: seen.append(name))
    with serving(name="hooks.example.test", tls=tls_for_name) as secure:
        dns = FakeDns(monkeypatch, "hooks.example.test", "127.0.0.1", "127.0.0.1")
        queue(app, site["id"], secure.url)
        send_queued(app, allow_internal=True)
        [(headers, _)] = secure.received
        assert headers["host"] == secure.url.split("/")[2] and seen == ["hooks.example.test"]
        assert dns.asked.count("hooks.example.test") == 1 and deliveries(app)[0].status == "sent"

        other = secure.url.replace("hooks.example.test", "other.example.test")  # same address, wrong name
        FakeDns(monkeypatch, "other.example.test", "127.0.0.1", "127.0.0.1")
        queue(app, site["id"], other)
        send_queued(app, allow_internal=True)
    assert len(secure.received) == 1
    assert deliveries(app)[1].attempts[0]["error"] == "the TLS certificate was not accepted"


def test_when_the_first_checked_address_cannot_be_reached_the_other_family_is_tried(app, site, receiver,
                                                                                   monkeypatch):
    port = receiver.url.split(":")[2].split("/")[0]  # the receiver listens on IPv4 only
    real = socket.getaddrinfo

    def v6_first(host, *args, **kwargs):
        if host == "dual.example":
            return real("::1", *args, **kwargs) + real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", v6_first)
    queue(app, site["id"], f"http://dual.example:{port}/hook")
    send_queued(app, allow_internal=True)
    assert len(receiver.received) == 1 and deliveries(app)[0].status == "sent"
