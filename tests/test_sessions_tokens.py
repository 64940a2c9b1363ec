"""Browser sessions end on the server (sign-out, new password, an admin's revoke); API tokens have labels,
expiry and revocation (command line, API, admin page); reading with a token is not a write per request."""
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from fieldkit import accounts
from fieldkit.db import db
from fieldkit.models import ApiToken, utcnow
from tests.conftest import PASSWORD, login
from tests.test_pages import csrf


def sign_in(app, email, password=PASSWORD, remember=False):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    data = {"email": email, "password": password, "csrf_token": token, **({"remember": "y"} if remember else {})}
    assert client.post("/login", data=data).status_code == 302
    return client


def copy_of(app, client, *names):
    """Another browser holding copies of the named cookies (what someone who captured them would send)."""
    other = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        other.set_cookie(cookie.key, cookie.value)
    return other


def sign_out(client, page="/sites"):
    client.post("/logout", data={"csrf_token": csrf(client.get(page).get_data(as_text=True))})


def test_a_session_cookie_copied_before_sign_out_no_longer_works(app, people):
    pm = sign_in(app, "pm@example.com")
    captured = copy_of(app, pm, "session")
    assert captured.get("/board").status_code == 200
    sign_out(pm, "/board")
    assert pm.get("/board").status_code == 302
    assert captured.get("/board").status_code == 302 and captured.get("/api/me").status_code == 401


def test_a_kept_signed_in_browser_comes_back_after_a_restart_until_it_signs_out(app, people):
    tech = sign_in(app, "tech@example.com", remember=True)
    restarted = copy_of(app, tech, "remember_token")  # a browser restart keeps only the lasting cookie
    assert restarted.get("/api/me").get_json()["email"] == "tech@example.com"
    sign_out(tech)
    assert tech.get_cookie("remember_token") is None  # the browser was told to delete it
    assert restarted.get("/api/me").status_code == 401  # and a copy taken before is dead on the server


def test_a_browser_not_kept_signed_in_gets_no_lasting_cookie(app, people):
    client = sign_in(app, "pm@example.com")
    assert client.get_cookie("remember_token") is None


def test_a_new_password_signs_the_person_out_of_every_browser(app, people):
    phone, laptop = sign_in(app, "tech@example.com", remember=True), sign_in(app, "tech@example.com")
    restarted = copy_of(app, phone, "remember_token")
    admin = sign_in(app, "admin@example.com")
    page = admin.get("/admin/").get_data(as_text=True)
    assert admin.post("/admin/", data={"csrf_token": csrf(page), "email": "tech@example.com", "role": "tech",
                                       "password": "a-new-password"}).status_code == 302
    for browser in (phone, laptop, restarted):
        assert browser.get("/api/me").status_code == 401
    assert admin.get("/api/me").status_code == 200  # others stay signed in
    sign_in(app, "tech@example.com", "a-new-password")
    runner = app.test_cli_runner()  # the command line's new password does the same
    again = sign_in(app, "tech@example.com", "a-new-password")
    assert runner.invoke(args=["create-user", "tech@example.com", "--role", "tech", "--password",
                               "third-password"]).exit_code == 0
    assert again.get("/api/me").status_code == 401


def test_an_admin_signs_a_lost_phone_out(app, people):
    phone = sign_in(app, "tech@example.com", remember=True)
    restarted = copy_of(app, phone, "remember_token")
    admin = sign_in(app, "admin@example.com")
    page = admin.get("/admin/").get_data(as_text=True)
    assert "Signed-in browsers" in page
    row = page.split('id="browsers-h"')[1].split("<td>tech@example.com</td>")[1]
    action = row.split('action="')[1].split('"')[0]
    assert action.startswith("/admin/sessions/")
    assert admin.post(action, data={"csrf_token": csrf(page)}).status_code == 302
    assert "tech@example.com is signed out of that browser" in admin.get("/admin/").get_data(as_text=True)
    assert phone.get("/api/me").status_code == 401 and restarted.get("/api/me").status_code == 401
    assert admin.post(action).status_code == 400  # without the CSRF token nothing happens


def test_re_enabling_a_person_brings_back_none_of_their_old_devices(app, api, people):
    tech = sign_in(app, "tech@example.com", remember=True)
    admin = sign_in(app, "admin@example.com")
    page = admin.get("/admin/").get_data(as_text=True)
    toggle = "/admin/users/" + page.split("tech@example.com")[1].split("/admin/users/")[1].split("/")[0] + "/active"
    admin.post(toggle, data={"csrf_token": csrf(page)})  # disabled
    admin.post(toggle, data={"csrf_token": csrf(admin.get("/admin/").get_data(as_text=True))})  # enabled again
    assert tech.get("/api/me").status_code == 401 and api["tech"].get("/api/me").status_code == 401
    assert sign_in(app, "tech@example.com").get("/api/me").status_code == 200


def test_tokens_from_the_command_line_have_a_label_an_expiry_and_can_be_revoked(app, client, people):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["create-token", "tech@example.com", "--label", "van tablet", "--days", "30"])
    token = made.stdout.strip()
    assert made.exit_code == 0 and token.startswith("fk_") and "\n" not in token
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listed = runner.invoke(args=["list-tokens", "tech@example.com"])
    line = next(line for line in listed.stdout.splitlines() if "van tablet" in line)
    expires = utcnow() + timedelta(days=30)
    assert "active" in line and f"{expires.day} {expires:%b}" in line
    token_id = line.split()[0]
    revoked = runner.invoke(args=["revoke-token", token_id])
    assert revoked.exit_code == 0 and "van tablet" in revoked.output and revoked.stdout == ""
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "revoked" in runner.invoke(args=["list-tokens", "tech@example.com"]).stdout
    assert runner.invoke(args=["revoke-token", "99999"]).exit_code != 0
    assert runner.invoke(args=["create-token", "tech@example.com", "--days", "0"]).exit_code != 0


def test_an_expired_token_stops_working(app, client, people):
    with app.app_context():
        user = accounts.find_user(db.session, "tech@example.com")
        _, token = accounts.issue_token(db.session, user, "old", days=1, now=utcnow() - timedelta(days=2))
        db.session.commit()
    answer = client.get("/api/sites", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "login_required"


def test_people_list_make_and_revoke_their_own_tokens_over_the_api(app, api, people):
    tech = sign_in(app, "tech@example.com")
    headers = {"X-CSRFToken": csrf(tech.get("/sites").get_data(as_text=True))}
    made = tech.post("/api/tokens", json={"label": "my phone", "days": 7}, headers=headers)
    assert made.status_code == 201
    body = made.get_json()
    assert body["label"] == "my phone" and body["state"] == "active" and body["token"].startswith("fk_")
    assert body["user"] == "tech@example.com" and body["expires_at"] > body["created_at"]
    mine = tech.get("/api/tokens").get_json()
    assert {t["label"] for t in mine} == {"my phone", ""} and all("token" not in t for t in mine)
    assert api["tech"].get("/api/tokens").status_code == 200
    pm_token = api["pm"].get("/api/tokens").get_json()[0]["id"]
    assert tech.delete(f"/api/tokens/{pm_token}", headers=headers).status_code == 404  # not theirs: not there
    assert tech.delete(f"/api/tokens/{body['id']}", headers=headers).get_json()["state"] == "revoked"
    new = api["tech"].post("/api/tokens", {"label": "from a token"})
    assert new.status_code == 403 and "not with a token" in new.get_json()["error"]["message"]
    assert tech.post("/api/tokens", json={"days": 0}, headers=headers).status_code == 400
    assert tech.post("/api/tokens", json={"email": "pm@example.com"}, headers=headers).status_code == 403
    # A device revokes its own token, and that is the last thing it does with it.
    own = api["tech"].get("/api/tokens").get_json()[-1]["id"]
    assert api["tech"].post(f"/api/tokens/{own}/revoke").get_json()["state"] == "revoked"
    assert api["tech"].get("/api/tokens").status_code == 401


def test_an_admin_sees_every_token_and_revokes_anyones(app, api, people):
    admin = sign_in(app, "admin@example.com")
    headers = {"X-CSRFToken": csrf(admin.get("/admin/").get_data(as_text=True))}
    everyone = admin.get("/api/tokens").get_json()
    assert {t["user"] for t in everyone} == {f"{n}@example.com" for n in people}
    assert [t["user"] for t in admin.get("/api/tokens?email=pm@example.com").get_json()] == ["pm@example.com"]
    made = admin.post("/api/tokens", json={"email": "tech2@example.com", "label": "spare"}, headers=headers)
    assert made.status_code == 201 and made.get_json()["user"] == "tech2@example.com"
    pm_token = next(t["id"] for t in everyone if t["user"] == "pm@example.com")
    assert admin.post(f"/api/tokens/{pm_token}/revoke", headers=headers).status_code == 200
    assert api["pm"].get("/api/sites").status_code == 401


def test_the_admin_page_lists_tokens_and_revokes_one_with_its_button(app, api, people):
    admin = sign_in(app, "admin@example.com")
    runner = app.test_cli_runner()
    runner.invoke(args=["create-token", "pm@example.com", "--label", "board screen"])
    api["pm"].get("/api/sites")
    page = admin.get("/admin/").get_data(as_text=True)
    section = page.split('id="tokens-h"')[1]
    row = section.split("board screen")[1].split("</tr>")[0]
    assert "never" in row and "active" in row  # last used: never, for the new one
    used = section.split("<td>pm@example.com</td><td>(no label)</td>")[1].split("</tr>")[0]
    assert "never" not in used  # the fixture's token was just used
    action = row.split('action="')[1].split('"')[0]
    assert admin.post(action, data={"csrf_token": csrf(page)}).status_code == 302
    assert "board screen" in admin.get("/admin/").get_data(as_text=True).split("no longer works")[0]


def test_reading_with_a_token_records_its_use_once_an_hour_outside_the_request(app, api, site):
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE") and "api_token" in statement:
            statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", seen)
    try:
        for _ in range(3):
            assert api["tech"].get(f"/api/sites/{site['id']}/bundle").status_code == 200
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", seen)
    assert len(statements) <= 1  # the fixture's first request already stamped it; within the hour: never
    with app.app_context():
        stamped = db.session.execute(select(ApiToken.last_used_at).join(ApiToken.user).where(
            ApiToken.user.has(email="tech@example.com"))).scalar_one()
    assert stamped is not None and utcnow() - stamped < timedelta(minutes=5)


@pytest.mark.parametrize("hours", [0.5, 2])
def test_a_session_used_again_is_recorded_only_after_an_hour(ctx, people, hours):
    user = accounts.find_user(db.session, "pm@example.com")
    start = utcnow() - timedelta(hours=hours)
    session_id = accounts.start_session(db.session, user, remember=True, now=start)
    db.session.commit()
    found = accounts.use_session(db.session, session_id)
    assert found.user_id == user.id and found.remember and found.recorded == (hours > 1)


def test_a_kept_signed_in_session_lasts_90_days_from_its_last_use_and_a_closed_one_12_hours(ctx, people):
    user = accounts.find_user(db.session, "pm@example.com")
    phone = accounts.start_session(db.session, user, remember=True, now=utcnow() - timedelta(days=89))
    laptop = accounts.start_session(db.session, user, remember=False, now=utcnow() - timedelta(hours=13))
    old_phone = accounts.start_session(db.session, user, remember=True, now=utcnow() - timedelta(days=91))
    db.session.commit()
    assert accounts.use_session(db.session, phone) is not None
    assert accounts.use_session(db.session, laptop) is None and accounts.use_session(db.session, old_phone) is None


def test_old_cookies_that_name_a_user_id_sign_nobody_in(app, people):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1"  # a cookie from before sessions were kept on the server
    assert client.get("/api/me").status_code == 401
    assert login(client, "pm@example.com").status_code == 302
