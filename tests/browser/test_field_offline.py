"""The field app in real Chromium at phone size: work with no signal, and every change reaches the server once."""
import io
from dataclasses import replace

from PIL import Image
from sqlalchemy import func, select

from fieldkit.db import db
from fieldkit.models import Item, ItemEvent, Mutation, Photo
from tests.browser.conftest import PASSWORD, sign_in


def go_offline(context, server=None):
    """No signal: the page's requests fail, and with the server unplugged the service worker's fail too."""
    if server is not None:
        server.stop()
    context.set_offline(True)


def come_back(context, server=None):
    if server is not None:
        server.start()
    context.set_offline(False)


def bar(page):
    return page.locator("#syncbar")


def open_app(page, server, email):
    sign_in(page, server.url, email)
    page.wait_for_url("**/field/")
    page.locator(".site-card", has_text="done").first.wait_for()
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15_000)
    bar(page).filter(has_text="safe to close").wait_for()


def open_item(page, title):
    group = page.locator("details.group", has=page.locator("summary", has_text="ISP circuits"))
    if group.get_attribute("open") is None:
        group.locator("summary").click()
    page.get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).wait_for()


def in_db(app, query):
    with app.app_context():
        return query(db.session)


def status_in_db(app, site, title):
    return in_db(app, lambda s: s.execute(select(Item.status).where(Item.site_id == site["id"], Item.title == title))
                 .scalar_one())


def tech_on_item(phone, server, title):
    """A technician's phone with the field app open on one item of the Acme Dental site."""
    context = phone()
    page = context.new_page()
    open_app(page, server, "tech@example.com")
    page.get_by_role("link", name="Acme Dental – new clinic").click()
    open_item(page, title)
    return context, page


ORDERED = "Internet circuit ordered, install date confirmed in writing"
SURVEY = "ISP site survey done and landlord wayleave signed"
LIVE = "Internet circuit live, handed over and speed tested"


def test_tech_works_offline_reloads_opens_a_new_tab_and_every_change_reaches_the_server_once(
        app, server, phone, site, api):
    context = phone()
    page = context.new_page()
    open_app(page, server, "tech@example.com")

    go_offline(context, server)
    page.get_by_role("link", name="Acme Dental – new clinic").click()
    open_item(page, ORDERED)
    page.get_by_role("button", name="Pass").click()
    page.get_by_text("saved on this phone, not synced yet").wait_for()

    page.get_by_role("link", name="← Acme Dental – new clinic").click()
    open_item(page, SURVEY)
    page.get_by_label("Note").fill("Landlord has not signed the wayleave yet")
    page.get_by_role("button", name="Fail").click()
    page.locator(".status-now .status-fail").wait_for()

    page.get_by_role("link", name="← Acme Dental – new clinic").click()
    open_item(page, LIVE)
    download = page.get_by_label("Download speed")
    download.fill("120")
    assert "invalid" in download.get_attribute("class")
    assert page.get_by_text("Out of threshold: below the 500 Mbps required").is_visible()
    page.get_by_role("button", name="Pass").click()
    page.locator(".status-now .status-pass").wait_for()
    bar(page).filter(has_text="5 changes waiting").wait_for()
    assert "offline" in bar(page).inner_text()
    assert "safe to close" not in bar(page).inner_text()

    page.reload()
    page.get_by_role("heading", name=LIVE).wait_for()
    assert page.get_by_label("Download speed").input_value() == "120"
    assert "invalid" in page.get_by_label("Download speed").get_attribute("class")
    page.locator(".status-now .status-pass").wait_for()
    assert "5 changes waiting" in bar(page).inner_text()

    other = context.new_page()
    other.goto(server.url + "/field/")
    other.locator(".site-card", has_text="5 changes waiting").wait_for()
    other.get_by_role("link", name="Acme Dental – new clinic").click()
    group = other.locator("details.group", has=other.locator("summary", has_text="ISP circuits"))
    if group.get_attribute("open") is None:
        group.locator("summary").click()
    assert other.locator(".row", has_text=SURVEY).locator(".status-fail").is_visible()
    assert in_db(app, lambda s: s.execute(select(func.count()).select_from(Mutation)).scalar_one()) == 0

    come_back(context, server)
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    bar(other).filter(has_text="safe to close").wait_for(timeout=20_000)

    def item(title):
        return in_db(app, lambda s: s.execute(select(Item).where(Item.site_id == site["id"], Item.title == title))
                     .scalar_one())

    assert item(ORDERED).status == "pass"
    assert (item(SURVEY).status, item(SURVEY).note) == ("fail", "Landlord has not signed the wayleave yet")
    assert (item(LIVE).status, item(LIVE).measurements) == ("pass", {"download_mbps": 120})
    assert in_db(app, lambda s: s.execute(select(func.count()).select_from(Mutation)).scalar_one()) == 5
    assert not any(item(t).disputed for t in (ORDERED, SURVEY, LIVE))
    assert in_db(app, lambda s: s.execute(select(func.count()).select_from(ItemEvent)).scalar_one()) == 5
    readiness = api["pm"].get(f"/api/sites/{site['id']}/readiness").get_json()
    reasons = " ".join(b["reason"] for b in readiness["blockers"])
    assert "Download speed 120 Mbps is below the 500 Mbps required" in reasons
    assert readiness["categories"]["ISP circuits"]["failed"] == 2  # the survey, and the slow circuit
    assert readiness["categories"]["ISP circuits"]["ready"] == 1


def test_two_technicians_disagree_offline_and_the_item_is_disputed(app, server, phone, api):
    made = api["pm"].post("/api/sites", {"name": "Harbour office", "client": "Acme Dental",
                                         "template": "office-move", "move_in": "2031-02-03", "rooms": ["Comms room"],
                                         "technicians": ["tech@example.com", "tech2@example.com"]}).get_json()
    first, second = phone(), phone()
    tom, sam = first.new_page(), second.new_page()
    open_app(tom, server, "tech@example.com")
    open_app(sam, server, "tech2@example.com")
    for page in (tom, sam):
        page.get_by_role("link", name="Harbour office").click()
        open_item(page, ORDERED)

    go_offline(first)
    go_offline(second)
    tom.get_by_role("button", name="Pass").click()
    sam.get_by_label("Note").fill("Only a verbal date from the ISP")
    sam.get_by_role("button", name="Fail").click()
    bar(tom).filter(has_text="1 change waiting").wait_for()
    bar(sam).filter(has_text="2 changes waiting").wait_for()

    come_back(first)
    bar(tom).filter(has_text="safe to close").wait_for(timeout=20_000)
    assert not tom.get_by_text("Disputed.").is_visible()
    come_back(second)
    bar(sam).filter(has_text="safe to close").wait_for(timeout=20_000)
    sam.get_by_text("Disputed.").wait_for()
    tom.get_by_role("button", name="Sync now").click()
    tom.get_by_text("Disputed.").wait_for(timeout=20_000)

    readiness = api["pm"].get(f"/api/sites/{made['id']}/readiness").get_json()
    assert readiness["disputed"] == 1
    board = {e["site_id"]: e for e in api["pm"].get("/api/board").get_json()}
    assert board[made["id"]]["disputed"] == 1
    assert set(board[made["id"]]["last_sync"]) == {"tech@example.com", "tech2@example.com"}


def test_a_photo_taken_offline_stays_on_the_phone_until_the_server_takes_it(app, server, phone, site, tmp_path):
    """Shrunk to 2048 px on the phone, kept as a blob while offline, uploaded exactly once when back."""
    picture = io.BytesIO()
    Image.new("RGB", (3000, 2000), "#3a7").save(picture, format="JPEG")
    path = tmp_path / "rack.jpg"
    path.write_bytes(picture.getvalue())
    context = phone()
    page = context.new_page()
    open_app(page, server, "tech@example.com")
    page.get_by_role("link", name="Acme Dental – new clinic").click()
    open_item(page, LIVE)

    go_offline(context, server)
    page.get_by_role("button", name="Fail").click()  # the screen redraws while the camera is open
    page.locator("input[type=file]").set_input_files(str(path))
    page.locator(".thumb", has_text="waiting to upload").wait_for()
    bar(page).filter(has_text="2 changes waiting").wait_for()
    stored = page.evaluate("""async () => {
        const db = await new Promise(r => { const q = indexedDB.open('fieldkit-user-' + JSON.parse(
            localStorage.getItem('fieldkit-user')).id); q.onsuccess = () => r(q.result); });
        const rows = await new Promise(r => { const q = db.transaction('photos').objectStore('photos').getAll();
            q.onsuccess = () => r(q.result); });
        const bitmap = await createImageBitmap(rows[0].blob);
        return {count: rows.length, type: rows[0].blob.type, width: bitmap.width, height: bitmap.height};
    }""")
    assert stored == {"count": 1, "type": "image/jpeg", "width": 2048, "height": 1365}

    come_back(context, server)
    page.get_by_role("button", name="Sync now").click()
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    page.locator(".thumb", has_text="uploaded").wait_for()
    page.get_by_role("button", name="Sync now").click()
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    assert in_db(app, lambda s: s.execute(select(func.count()).select_from(Photo)).scalar_one()) == 1


def test_signing_out_keeps_waiting_changes_and_the_next_person_sees_none_of_them(app, server, phone, site):
    context, page = tech_on_item(phone, server, ORDERED)
    go_offline(context)
    page.get_by_role("button", name="Pass").click()
    bar(page).filter(has_text="1 change waiting").wait_for()
    come_back(context)
    context.route("**/api/sync", lambda route: route.fulfill(status=500, body="{}"))  # the change cannot leave yet
    page.goto(server.url + "/field/phone")
    bar(page).filter(has_text="needs attention").wait_for()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("1 change made on this phone has not reached the server yet").wait_for()
    page.get_by_role("button", name="Stay signed in").click()
    assert page.url.endswith("/field/phone")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign out, keep them").click()
    page.wait_for_url("**/login")

    sign_in(page, server.url, "tech2@example.com")
    page.wait_for_url("**/field/")
    page.get_by_text("No sites are assigned to you yet").wait_for()
    assert "Acme Dental" not in page.content()
    assert "waiting" not in bar(page).inner_text()
    page.goto(server.url + "/field/changes")
    page.get_by_text("Everything made on this phone is on the server").wait_for()
    page.goto(server.url + "/field/phone")
    page.get_by_role("button", name="Sign out").click()  # nothing waiting: no question asked
    page.wait_for_url("**/login")

    context.unroute("**/api/sync")
    sign_in(page, server.url, "tech@example.com")
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    assert status_in_db(app, site, ORDERED) == "pass"


def test_a_change_made_before_the_session_expired_is_sent_after_signing_in_again(app, server, phone, site):
    """A 401 is no reason to drop anything: the change waits, the bar asks for a sign-in, then it goes, once."""
    context, page = tech_on_item(phone, server, ORDERED)
    go_offline(context)
    page.get_by_role("button", name="Pass").click()
    bar(page).filter(has_text="1 change waiting").wait_for()

    context.clear_cookies()  # hours in a basement: the session is gone by the time the signal is back
    come_back(context)  # the app syncs on its own once the signal is back
    bar(page).filter(has_text="you are signed out: sign in again to send your changes").wait_for(timeout=20_000)
    assert "1 change waiting" in bar(page).inner_text() and "safe to close" not in bar(page).inner_text()
    assert status_in_db(app, site, ORDERED) == "todo"

    bar(page).get_by_role("link", name="Sign in").click()
    page.wait_for_url("**/login**")
    page.fill("input[name=email]", "tech@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/field/**")
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    assert status_in_db(app, site, ORDERED) == "pass"
    assert in_db(app, lambda s: s.execute(select(func.count()).select_from(Mutation)).scalar_one()) == 1


def test_a_change_waiting_for_more_than_a_day_is_called_out(app, server, phone, site):
    context, page = tech_on_item(phone, server, ORDERED)
    go_offline(context, server)
    page.get_by_role("button", name="Pass").click()
    bar(page).filter(has_text="1 change waiting").wait_for()
    assert "has waited" not in bar(page).inner_text()

    page.evaluate("""async () => {  // the change was made yesterday morning
        const db = await new Promise(r => { const q = indexedDB.open('fieldkit-user-' + JSON.parse(
            localStorage.getItem('fieldkit-user')).id); q.onsuccess = () => r(q.result); });
        await new Promise(r => { const store = db.transaction('outbox', 'readwrite').objectStore('outbox');
            store.getAll().onsuccess = (e) => { for (const row of e.target.result)
                store.put({...row, at: row.at - 26 * 3600 * 1000}); store.transaction.oncomplete = r; }; });
    }""")
    page.reload()
    bar(page).filter(has_text="the oldest change has waited 1 day: connect to send it").wait_for()

    come_back(context, server)
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    assert "has waited" not in bar(page).inner_text()
    assert status_in_db(app, site, ORDERED) == "pass"


def test_a_new_version_of_the_app_keeps_the_changes_waiting_on_the_phone(app, server, phone, site):
    context, page = tech_on_item(phone, server, ORDERED)
    old = app.extensions["field"]
    assert page.evaluate("caches.keys()") == [f"fieldkit-shell-{old.version}"]
    context.route("**/api/sync", lambda route: route.fulfill(status=503, body="{}"))  # a bad moment for the server
    page.get_by_role("button", name="Pass").click()
    bar(page).filter(has_text="needs attention").wait_for(timeout=20_000)

    # FieldKit is deployed again while the change waits: a new worker version, a new cache.
    app.extensions["field"] = replace(old, version="0123456789abcdef",
                                      worker=old.worker.replace(old.version.encode(), b"0123456789abcdef"))
    page.reload()
    page.wait_for_function("caches.keys().then(k => k.join() === 'fieldkit-shell-0123456789abcdef')",
                           timeout=15_000)  # the old version's cache is gone
    page.get_by_role("button", name="FieldKit was updated: tap to reload").click()
    page.get_by_role("heading", name=ORDERED).wait_for()
    page.get_by_text("saved on this phone, not synced yet").wait_for()
    assert "1 change waiting" in bar(page).inner_text()

    context.unroute("**/api/sync")
    page.get_by_role("button", name="Sync now").click()
    bar(page).filter(has_text="safe to close").wait_for(timeout=20_000)
    assert status_in_db(app, site, ORDERED) == "pass"


def test_a_mistyped_tag_is_caught_offline_and_a_typed_tag_opens_the_asset(api, server, phone, site):
    import uuid

    ack = api["pm"].sync([{"id": str(uuid.uuid4()), "type": "asset.upsert", "asset_id": str(uuid.uuid4()),
                           "site_id": site["id"], "set": {"kind": "switch", "make": "Aruba", "room": "Reception"}}])
    tag = next(c["data"]["tag"] for c in ack.get_json()["changes"] if c["type"] == "asset")
    context = phone()
    page = context.new_page()
    open_app(page, server, "tech@example.com")
    page.get_by_role("link", name="Acme Dental – new clinic").click()
    page.wait_for_load_state("networkidle")
    go_offline(context, server)
    page.goto(server.url + "/field/scan")
    wrong = tag[:-1] + ("2" if tag[-1] != "2" else "3")  # one character off: the check character catches it
    page.fill("#tag", wrong)
    page.get_by_role("button", name="Open").click()
    page.get_by_text("does not match: a character was probably mistyped").wait_for()
    page.fill("#tag", f"{tag[:3].lower()}-{tag[3:].lower()}")  # as people type it from a label
    page.get_by_role("button", name="Open").click()
    page.wait_for_url(f"**/t/{tag}")
    page.get_by_text("Aruba").wait_for()
