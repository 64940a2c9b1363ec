"""A technician's phone stays signed in across browser restarts until they sign out; signing out ends it on
the server too, so a cookie copied before is worth nothing."""
import requests

from tests.browser.conftest import CHROMIUM, PHONE, sign_in

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def launch(chromium, profile):
    """The phone's browser, started again on the same profile (what a phone does after a restart)."""
    context = chromium.browser_type.launch_persistent_context(str(profile), executable_path=CHROMIUM, args=ARGS,
                                                              **PHONE)
    context.set_default_timeout(10_000)
    return context, context.pages[0] if context.pages else context.new_page()


def signed_in_as(base, cookies):
    """Who the server says these cookies belong to, asked from outside the browser (None: nobody)."""
    answer = requests.get(base + "/api/me", cookies={c["name"]: c["value"] for c in cookies}, timeout=10,
                          headers={"Accept": "application/json"})
    return answer.json()["email"] if answer.status_code == 200 else None


def test_the_phone_stays_signed_in_after_a_restart_until_the_technician_signs_out(chromium, server, site, tmp_path):
    profile = tmp_path / "phone-profile"
    context, page = launch(chromium, profile)
    sign_in(page, server.url, "tech@example.com")  # "Keep me signed in on this device" is ticked already
    page.wait_for_url("**/field/")
    page.get_by_text("Acme Dental").first.wait_for()
    session_cookie = [c for c in context.cookies() if c["name"] == "session"]
    assert session_cookie and session_cookie[0]["expires"] == -1  # the browser forgets it when it closes
    context.close()

    context, page = launch(chromium, profile)
    assert not [c for c in context.cookies() if c["name"] == "session"]  # the restart dropped it...
    page.goto(server.url + "/field/")
    page.get_by_text("Acme Dental").first.wait_for()  # ...and the phone is still signed in
    assert page.url.endswith("/field/")
    kept = context.cookies()
    assert signed_in_as(server.url, kept) == "tech@example.com"

    page.goto(server.url + "/field/phone")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    context.close()

    context, page = launch(chromium, profile)
    page.goto(server.url + "/field/")
    page.wait_for_url("**/login**")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    context.close()
    assert signed_in_as(server.url, kept) is None  # cookies copied before the sign-out no longer work
    assert signed_in_as(server.url, [c for c in kept if c["name"] == "remember_token"]) is None
