"""The client signs off on a phone in real Chromium: accepts each open item, types a name, draws a signature."""
from tests.browser.conftest import sign_in
from tests.conftest import update


def draw_with_mouse(page, box, points):
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
    page.mouse.up()


def draw_with_finger(page, box, points):
    """Real touch events through the DevTools protocol, as a finger on a phone screen makes them."""
    cdp = page.context.new_cdp_session(page)
    at = [{"x": box["x"] + x, "y": box["y"] + y} for x, y in points]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [at[0]]})
    for point in at[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


SCRIBBLE = [(30, 150), (60, 60), (90, 140), (120, 70), (150, 150), (190, 90), (230, 130), (300, 110)]
LOOP = [(40, 170), (110, 120), (180, 165), (250, 120), (320, 160)]


def test_client_signs_off_on_a_phone_with_finger_and_sees_the_fingerprint(live_server, phone, api, site):
    page = phone().new_page()
    sign_in(page, live_server, "client@example.com")
    page.goto(f"{live_server}/sites/{site['id']}/signoff")
    assert page.get_by_role("heading", name="Where the project stands").is_visible()
    boxes = page.locator("input[name=accept]")
    assert boxes.count() == len(api["client"].get(f"/api/sites/{site['id']}/signoff").get_json()["exceptions"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"

    canvas = page.locator("#signature")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box["width"] > 300 and box["height"] >= 180
    draw_with_mouse(page, box, SCRIBBLE)
    page.get_by_role("button", name="Clear signature").click()
    page.fill("#signer-name", "Helen Finch")
    page.get_by_role("button", name="Sign off", exact=True).click()
    assert "still to tick" in page.locator("#signoff-error").inner_text()

    for index in range(boxes.count()):
        boxes.nth(index).check()
    assert page.locator("#accept-count").inner_text() == f"{boxes.count()} of {boxes.count()} accepted"
    page.get_by_role("button", name="Sign off", exact=True).click()
    assert "Sign in the box" in page.locator("#signoff-error").inner_text()  # the cleared scribble is gone

    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    draw_with_finger(page, box, LOOP)
    draw_with_mouse(page, box, SCRIBBLE[:4])
    page.get_by_role("button", name="Sign off", exact=True).click()

    done = page.locator("#signoff-done")
    done.wait_for(state="visible")
    shown = page.locator("#signoff-hash").inner_text()
    stored = api["client"].get(f"/api/sites/{site['id']}/signoff").get_json()["signoffs"][0]
    assert shown == stored["sha256"] and len(shown) == 64
    assert stored["name"] == "Helen Finch"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.get_by_role("link", name="Check this sign-off").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#verify-result").inner_text().startswith("Verified")
    assert shown in page.content()
    signature = page.locator(".signature-image img")
    assert signature.evaluate("img => img.complete && img.naturalWidth") >= 300


def test_a_refused_sign_off_keeps_the_drawing_and_says_why(live_server, phone, api, site):
    page = phone().new_page()
    sign_in(page, live_server, "client@example.com")
    page.goto(f"{live_server}/sites/{site['id']}/signoff")
    boxes = page.locator("input[name=accept]")
    for index in range(boxes.count()):
        boxes.nth(index).check()
    page.locator("#signature").scroll_into_view_if_needed()
    draw_with_finger(page, page.locator("#signature").bounding_box(), LOOP)
    page.fill("#signer-name", "Helen Finch")
    # The site moved on while the client was reading: a technician finished one of the open items.
    bundle = api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()
    done = next(i for i in bundle["items"] if not i["depends_on"] and not i["photos_required"]
                and not i["thresholds"] and not i["asset_kind"])
    api["tech"].sync([update(done, {"status": "pass"})])
    page.get_by_role("button", name="Sign off", exact=True).click()
    error = page.locator("#signoff-error")
    error.wait_for(state="visible")
    assert "not open items of this site" in error.inner_text()
    assert page.locator("#signoff-done").is_hidden()
    assert api["client"].get(f"/api/sites/{site['id']}/signoff").get_json()["signoffs"] == []
