"""The field app in real Chromium when the network lies, drops, stalls or fails, and what the phone then says.

Captive portals, proxies, flaky links and hung requests are played through Playwright's request routing."""
import io
import json

import pytest
from PIL import Image
from sqlalchemy import func, select

from fieldkit import accounts
from fieldkit.db import db
from fieldkit.models import Item, Mutation, Photo
from tests.browser.test_field_offline import (
    LIVE,
    ORDERED,
    SURVEY,
    bar,
    come_back,
    go_offline,
    in_db,
    open_item,
    sign_in,
    status_in_db,
    tech_on_item,
)

PORTAL = "<!doctype html><html><body><h1>Welcome to Harbour Hotel Wi-Fi</h1><a href=/accept>Accept</a></body></html>"
WEB_PAGE = "the network answered with a web page instead of FieldKit (a Wi-Fi sign-in page?): everything stays on this phone"
NOT_FIELDKIT = "the answer did not come from FieldKit (a proxy or a Wi-Fi sign-in page?): everything stays on this phone"


def portal(route):
    route.fulfill(status=200, content_type="text/html; charset=utf-8", body=PORTAL)


def portal_redirect(route):
    route.fulfill(status=302, headers={"Location": "/hotel-wifi/login?from=fieldkit"}, body="")


def tune(page, **settings):
    """Shorter timeouts and retries for this page's sync, so a test waits seconds, not minutes."""
    page.evaluate("""async (settings) => {
        const sync = await import('/static/field/sync.js');
        if (sync.settings) Object.assign(sync.settings, settings);
    }""", settings)


def picture(tmp_path, name="rack.jpg", colour="#3a7"):
    data = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(data, format="JPEG")
    path = tmp_path / name
    path.write_bytes(data.getvalue())
    return str(path)


def on_phone(page, what):
    """Rows of this person's IndexedDB: the outbox, the photos (with whether the blob is still there) and the cursor."""
    return page.evaluate("""async (what) => {
        const db = await new Promise(r => { const q = indexedDB.open('fieldkit-user-' + JSON.parse(
            localStorage.getItem('fieldkit-user')).id); q.onsuccess = () => r(q.result); });
        const rows = await new Promise(r => { const q = db.transaction(what).objectStore(what).getAll();
            q.onsuccess = () => r(q.result); });
        db.close();
        return rows.map(row => what === 'photos' ? {id: row.id, blob: Boolean(row.blob), state: row.state,
            error: row.error && row.error.message} : what === 'meta' ? [row.key, row.value] : row);
    }""", what)


def count(app, model):
    return in_db(app, lambda s: s.execute(select(func.count()).select_from(model)).scalar_one())


def item_id(app, site, title):
    return in_db(app, lambda s: s.execute(select(Item.id).where(Item.site_id == site["id"], Item.title == title))
                 .scalar_one())


@pytest.mark.parametrize("answer", [portal, portal_redirect], ids=["sign-in page", "redirect to a sign-in page"])
def test_a_wifi_sign_in_page_answering_a_photo_upload_keeps_the_photo_on_the_phone(
        app, server, phone, site, tmp_path, answer):
    context, page = tech_on_item(phone, server, LIVE)
    context.route("**/hotel-wifi/**", portal)
    context.route("**/api/photos", answer)
    page.locator("input[type=file]").set_input_files(picture(tmp_path))

    bar(page).filter(has_text=f"needs attention: photo not uploaded: {WEB_PAGE}").wait_for(timeout=20_000)
    page.locator(".thumb", has_text="waiting to upload").wait_for()
    assert "safe to close" not in bar(page).inner_text()
    [photo] = on_phone(page, "photos")
    assert (photo["blob"], photo["state"]) == (True, "waiting")
    assert count(app, Photo) == 0

    context.unroute("**/api/photos")  # signed in to the Wi-Fi: FieldKit answers again
    page.get_by_role("button", name="Sync now").click()
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    page.locator(".thumb", has_text="uploaded").wait_for()
    assert count(app, Photo) == 1
    assert on_phone(page, "photos")[0]["blob"] is False


SYNC_ANSWERS = {
    "sign-in page": (portal, WEB_PAGE),
    "redirect to a sign-in page": (portal_redirect, WEB_PAGE),
    "JSON of someone else": (lambda route: route.fulfill(status=200, json={"status": "ok", "cursor": 99}), NOT_FIELDKIT),
    "acks that name other changes": (lambda route: route.fulfill(status=200, json={
        "acks": [{"id": "00000000-0000-4000-8000-000000000000", "status": "applied"}], "changes": [], "cursor": 99}),
        NOT_FIELDKIT),
}


@pytest.mark.parametrize("name", SYNC_ANSWERS)
def test_a_sync_answered_by_something_other_than_fieldkit_keeps_every_change_and_says_so_in_words(
        app, server, phone, site, name):
    answer, words = SYNC_ANSWERS[name]
    context, page = tech_on_item(phone, server, ORDERED)
    cursor = dict(on_phone(page, "meta"))["cursor"]
    context.route("**/hotel-wifi/**", portal)
    context.route("**/api/sync", answer)
    page.get_by_role("button", name="Pass").click()

    bar(page).filter(has_text=f"needs attention: {words}").wait_for(timeout=20_000)
    assert "Cannot read" not in bar(page).inner_text()
    assert "1 change waiting" in bar(page).inner_text()
    assert len(on_phone(page, "outbox")) == 1
    assert dict(on_phone(page, "meta"))["cursor"] == cursor  # nothing pulled from a page that is not FieldKit
    assert count(app, Mutation) == 0

    context.unroute("**/api/sync")
    page.get_by_role("button", name="Sync now").click()
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    assert status_in_db(app, site, ORDERED) == "pass"
    assert count(app, Mutation) == 1


def test_a_sign_in_page_answering_the_site_list_and_a_bundle_stores_nothing_and_says_why(app, server, phone, site):
    """A PM's phone lists the sites, then downloads a site when it is opened: neither takes a web page for data."""
    context = phone()
    page = context.new_page()
    context.route("**/api/sites", portal)
    sign_in(page, server.url, "pm@example.com")
    page.goto(server.url + "/field/")
    bar(page).filter(has_text=f"needs attention: {WEB_PAGE}").wait_for(timeout=20_000)
    assert "Cannot read" not in bar(page).inner_text()
    assert on_phone(page, "sites") == []

    context.unroute("**/api/sites")
    context.route("**/api/sites/*/bundle", portal)
    page.get_by_role("button", name="Sync now").click()
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    page.get_by_role("link", name="Acme Dental – new clinic").click()
    page.get_by_text(f"This site could not be downloaded: {WEB_PAGE}").wait_for()
    assert on_phone(page, "items") == []
    assert not any(s["bundled"] for s in on_phone(page, "sites") if "bundled" in s)

    context.unroute("**/api/sites/*/bundle")
    page.reload()
    page.get_by_role("heading", name="Acme Dental – new clinic").wait_for()
    assert on_phone(page, "items")


def test_a_hung_sync_ends_with_a_clear_message_and_sync_now_works_again(app, server, phone, site):
    context, page = tech_on_item(phone, server, ORDERED)
    tune(page, timeout=1500)
    context.route("**/api/sync", lambda route: None)  # the request is never answered
    page.get_by_role("button", name="Pass").click()
    bar(page).filter(has_text="syncing…").wait_for()

    bar(page).filter(has_text="needs attention: the server did not answer within 2 s").wait_for()
    assert "syncing" not in bar(page).inner_text()
    assert bar(page).get_by_role("button", name="Sync now").is_enabled()
    assert "1 change waiting" in bar(page).inner_text()

    context.unroute("**/api/sync")
    page.get_by_role("button", name="Sync now").click()
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    assert status_in_db(app, site, ORDERED) == "pass"


def test_a_flaky_link_recovers_by_itself_soon_after_it_settles(app, server, phone, site, tmp_path):
    """Every other request fails while the link is poor; once it settles everything goes with no tap."""
    context, page = tech_on_item(phone, server, LIVE)
    tune(page, timeout=3000, retry_first=400, retry_most=1500)
    go_offline(context)
    page.get_by_role("button", name="Fail").click()
    page.locator("input[type=file]").set_input_files([picture(tmp_path, "a.jpg"), picture(tmp_path, "b.jpg", "#a37")])
    bar(page).filter(has_text="3 changes waiting").wait_for()

    calls = []

    def every_other(route):
        calls.append(route.request.url)
        route.abort("connectionreset") if len(calls) % 2 else route.continue_()

    context.route("**/api/**", every_other)
    come_back(context)
    bar(page).filter(has_text="needs attention").wait_for(timeout=20_000)
    page.wait_for_timeout(1500)  # a few more poor attempts
    context.unroute("**/api/**")  # the link settles
    bar(page).filter(has_text="safe to close").wait_for(timeout=8_000)  # no one tapped "Sync now"
    assert count(app, Photo) == 2
    assert status_in_db(app, site, LIVE) == "fail"


def test_a_photo_that_cannot_go_does_not_hold_back_the_other_photo_or_the_changes(app, server, phone, site, tmp_path):
    context, page = tech_on_item(phone, server, LIVE)
    go_offline(context)
    page.locator("input[type=file]").set_input_files([picture(tmp_path, "a.jpg"), picture(tmp_path, "b.jpg", "#a37")])
    bar(page).filter(has_text="2 changes waiting").wait_for()
    stuck = []

    def first_photo_fails(route):
        photo_id = route.request.post_data_buffer.split(b'name="id"\r\n\r\n')[1].split(b"\r\n")[0].decode()
        stuck[:] = stuck or [photo_id]
        route.abort("connectionreset") if photo_id == stuck[0] else route.continue_()

    context.route("**/api/photos", first_photo_fails)
    come_back(context)
    bar(page).filter(has_text="1 change waiting").wait_for(timeout=20_000)
    page.get_by_role("button", name="Fail").click()  # a change made now still goes
    bar(page).filter(has_text="2 changes waiting").wait_for()
    bar(page).filter(has_text="1 change waiting").filter(has_not_text="syncing").wait_for(timeout=20_000)
    assert status_in_db(app, site, LIVE) == "fail"
    assert in_db(app, lambda s: s.execute(select(Photo.id)).scalars().all()) != stuck
    assert count(app, Photo) == 1
    waiting = [p for p in on_phone(page, "photos") if p["blob"]]
    assert [(p["id"], p["state"]) for p in waiting] == [(stuck[0], "waiting")]
    assert "no answer from the server" in waiting[0]["error"]
    page.locator(".thumb", has_text="tried, not sent yet").wait_for()
    page.goto(server.url + "/field/changes")
    page.locator(".change", has_text="photo not uploaded: no answer from the server").wait_for()

    context.unroute("**/api/photos")
    page.locator("#app").get_by_role("button", name="Sync now").click()
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    assert count(app, Photo) == 2


def test_a_change_the_server_fails_on_waits_alone_and_the_others_still_go(app, server, phone, site):
    """A batch answered 500 is sent one change at a time: the poisoned change and later ones on its item wait."""
    context, page = tech_on_item(phone, server, ORDERED)
    poisoned = item_id(app, site, ORDERED)
    go_offline(context)
    page.get_by_role("button", name="Pass").click()
    page.get_by_role("link", name="← Acme Dental – new clinic").click()
    open_item(page, SURVEY)
    page.get_by_role("button", name="Fail").click()
    page.get_by_role("link", name="← Acme Dental – new clinic").click()
    open_item(page, ORDERED)
    page.get_by_label("Note").fill("Confirmed by email")
    page.get_by_label("Note").blur()
    bar(page).filter(has_text="3 changes waiting").wait_for()

    def server_fails_on_one_item(route):
        body = json.loads(route.request.post_data)
        if any(m.get("item_id") == poisoned for m in body["mutations"]):
            route.fulfill(status=500, json={"error": {"code": "server_error", "message": "Internal error"}})
        else:
            route.continue_()

    context.route("**/api/sync", server_fails_on_one_item)
    come_back(context)
    bar(page).filter(has_text="needs attention: the server had a problem (500)").wait_for(timeout=20_000)
    assert "2 changes waiting" in bar(page).inner_text()
    assert status_in_db(app, site, SURVEY) == "fail"
    assert status_in_db(app, site, ORDERED) == "todo"
    assert [r["mutation"]["item_id"] for r in on_phone(page, "outbox")] == [poisoned, poisoned]

    context.unroute("**/api/sync")
    page.get_by_role("button", name="Sync now").click()
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    assert in_db(app, lambda s: s.execute(select(Item.status, Item.note).where(Item.id == poisoned)).one()) == (
        "pass", "Confirmed by email")


def test_a_server_failing_on_everything_is_asked_a_few_times_not_once_per_change(app, server, phone, site):
    """An outage answers 500 to each change alone too: after three in a row the attempt stops, keeping all."""
    context, page = tech_on_item(phone, server, ORDERED)
    go_offline(context)
    titles = (ORDERED, SURVEY, "ISP demarc extended from building entry to our comms rack", LIVE,
              "Backup internet (4G/5G or second line) live")
    for title in titles:
        page.get_by_role("link", name="← Acme Dental – new clinic").click()
        open_item(page, title)
        page.get_by_role("button", name="Fail").click()
    bar(page).filter(has_text="5 changes waiting").wait_for()
    asked = []

    def outage(route):
        asked.append(len(json.loads(route.request.post_data)["mutations"]))
        route.fulfill(status=500, json={"error": {"code": "internal", "message": "Something went wrong"}})

    context.route("**/api/sync", outage)
    come_back(context)
    bar(page).filter(has_text="the server had a problem (500)").wait_for(timeout=20_000)
    page.wait_for_timeout(500)
    assert asked == [5, 1, 1, 1]
    assert "5 changes waiting" in bar(page).inner_text()


def test_the_next_person_on_the_phone_is_told_whose_changes_still_wait_here(app, server, phone, site):
    with app.app_context():
        accounts.create_user(db.session, "tech@example.com", "tech", name="Tom Okafor")
        db.session.commit()
    context, page = tech_on_item(phone, server, ORDERED)
    context.route("**/api/sync", lambda route: route.fulfill(status=503, json={}))  # the changes cannot leave yet
    page.get_by_role("button", name="Pass").click()
    page.get_by_role("link", name="← Acme Dental – new clinic").click()
    open_item(page, SURVEY)
    page.get_by_role("button", name="Fail").click()
    bar(page).filter(has_text="2 changes waiting").wait_for()
    page.goto(server.url + "/field/phone")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign out, keep them").click()
    page.wait_for_url("**/login")

    sign_in(page, server.url, "tech2@example.com")
    page.wait_for_url("**/field/")
    bar(page).filter(has_text="2 changes by Tom Okafor wait on this phone until Tom signs in").wait_for()
    assert "safe to close" not in bar(page).inner_text()
    assert "Acme Dental" not in page.content()
    page.goto(server.url + "/field/changes")
    page.get_by_text("Everything made on this phone is on the server, except 2 changes by Tom Okafor:"
                     " they wait on this phone until Tom signs in.").wait_for()
    page.goto(server.url + "/field/phone")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")

    context.unroute("**/api/sync")
    sign_in(page, server.url, "tech@example.com")
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    assert (status_in_db(app, site, ORDERED), status_in_db(app, site, SURVEY)) == ("pass", "fail")
    assert "by Tom" not in bar(page).inner_text()


@pytest.mark.parametrize("failure", [("UnknownError", "Failed to write blobs (IOError)"),
                                     ("QuotaExceededError", "The quota has been exceeded.")])
def test_a_photo_the_phone_cannot_store_is_reported_as_not_kept(app, server, phone, site, tmp_path, failure):
    _, page = tech_on_item(phone, server, LIVE)
    page.evaluate("""([name, message]) => {  // the phone's storage is full
        const put = IDBObjectStore.prototype.put;
        IDBObjectStore.prototype.put = function (value, key) {
            if (this.name === 'photos' && value && value.blob) throw new DOMException(message, name);
            return put.call(this, value, key);
        };
    }""", list(failure))
    page.locator("input[type=file]").set_input_files(picture(tmp_path))

    notice = page.get_by_role("alert").filter(has_text="The photo was NOT kept")
    notice.wait_for()
    assert "Free up space on the phone, then take the photo again" in notice.inner_text()
    assert failure[1] not in page.content()
    page.get_by_text("No photos yet.").wait_for()
    notice.get_by_role("button", name="OK").click()
    notice.wait_for(state="hidden")


def test_my_sites_counts_the_changes_waiting_on_the_phone_as_done(app, server, phone, site):
    context, page = tech_on_item(phone, server, ORDERED)
    go_offline(context, server)
    page.get_by_role("button", name="Pass").click()
    bar(page).filter(has_text="1 change waiting").wait_for()
    page.get_by_role("link", name="← Acme Dental – new clinic").click()
    done = page.locator(".site-progress b").first.inner_text()  # "1 of 40"
    assert done.startswith("1 of ")
    page.get_by_role("link", name="← My sites").click()
    card = page.locator(".site-card", has_text="Acme Dental")
    card.wait_for()
    assert f"{done.replace(' of ', '/')} done" in card.inner_text()


def test_the_app_opens_the_technicians_data_when_the_sign_in_check_is_never_answered(app, server, phone, site):
    context, page = tech_on_item(phone, server, ORDERED)
    context.route("**/api/me", lambda route: None)  # a Wi-Fi that swallows requests
    page.goto(server.url + "/field/")
    page.locator(".site-card", has_text="Acme Dental").wait_for(timeout=15_000)
    assert "Opening FieldKit" not in page.content()
