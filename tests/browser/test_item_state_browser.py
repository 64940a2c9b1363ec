"""The field app's item screen says whether an item is ready and why not: the server's words while the phone
agrees with the server, the phone's own (the same rules, static/field/rules.js) after changes made offline."""
from tests.browser.test_field_offline import LIVE, ORDERED, go_offline, tech_on_item

SERVER = "As the server worked it out at the last sync."
PHONE = "As this phone works it out, changes not synced included."


def test_the_item_screen_says_why_not_ready_in_the_servers_words_then_the_phones_offline(server, phone, site):
    context, page = tech_on_item(phone, server, LIVE)
    why = page.locator(".readiness-now")
    why.filter(has_text=SERVER).wait_for()
    text = why.inner_text()
    assert "not checked yet" in text and "Download speed has not been measured yet" in text
    assert "needs 1 photo, has 0" in text and "waiting for: " in text

    go_offline(context, server)
    download = page.get_by_label("Download speed")
    download.fill("120")
    download.blur()  # leaving the field records the reading; the screen redraws once nothing is being typed
    why.filter(has_text=PHONE).wait_for()
    text = why.inner_text()
    assert "Download speed is out of threshold" in text and "Upload speed is not measured yet" in text
    assert "1 more photo needed" in text

    page.get_by_role("link", name="← Acme Dental – new clinic").click()
    group = page.locator("details.group", has=page.locator("summary", has_text="ISP circuits"))
    assert "out of threshold" in group.locator(".row", has_text=LIVE).inner_text()
    group.get_by_role("link", name=ORDERED).click()
    page.get_by_role("button", name="Pass").click()
    page.locator(".readiness-now", has_text="Ready: it counts towards go-live.").wait_for()
