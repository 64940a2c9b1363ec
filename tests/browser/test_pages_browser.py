"""The PM's pages in real Chromium at phone size."""
from tests.browser.conftest import sign_in


def test_pm_sees_the_board_and_opens_a_site_on_a_phone(live_server, phone, site):
    page = phone().new_page()
    sign_in(page, live_server, "pm@example.com")
    assert page.url.endswith("/board")
    page.get_by_role("link", name="Acme Dental – new clinic").first.click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="Where this project stands").is_visible()
    assert page.locator(".summary").inner_text().startswith(("At risk", "Not ready"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
