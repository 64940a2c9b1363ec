"""The PM's inventory on the site page, in real Chromium at phone size."""
from tests.browser.conftest import sign_in
from tests.evidence import add_asset


def test_pm_adds_an_asset_and_previews_its_label_on_a_phone(live_server, phone, api, site):
    add_asset(api, site, kind="switch", room="Comms room", make="Cisco", model="CBS350-24FP")
    page = phone().new_page()
    sign_in(page, live_server, "pm@example.com")
    page.goto(f"{live_server}/sites/{site['id']}#inventory")
    assert page.get_by_role("heading", name="Hardware inventory").is_visible()
    page.get_by_text("Add an asset").click()
    page.select_option("#add-asset select[name=kind]", "ap")
    page.select_option("#add-asset select[name=status]", "installed")
    page.select_option("#add-asset select[name=room]", "Surgery 1")
    page.fill("#add-asset input[name=mac]", "f492.bf0a.1b2c")
    page.get_by_role("button", name="Add asset").click()
    page.wait_for_load_state("networkidle")
    assert "Added access point" in page.locator(".flash-ok").inner_text()
    row = page.locator(".asset", has_text="F4:92:BF:0A:1B:2C")
    assert row.locator(".asset-status").inner_text().lower() == "installed"

    page.get_by_text("Print QR labels").click()
    page.get_by_text("Evidence still missing").scroll_into_view_if_needed()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the inventory scrolls sideways at phone width ({width}px)"
    with page.context.expect_page() as preview:
        page.get_by_role("button", name="Preview first sheet").click()
    sheet = preview.value
    sheet.wait_for_load_state()
    assert "/labels.png" in sheet.url
    assert sheet.evaluate("document.images[0].naturalWidth") > 1000
