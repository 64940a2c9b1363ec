"""Sign-in limits: per client address, per email from one address, per email from anywhere; atomic when
guesses arrive at the same moment, on memory and on Redis. These tests run with the real defaults."""
import random
import threading

import redis

from fieldkit import create_app
from fieldkit.db import db
from fieldkit.web import auth
from tests.conftest import PASSWORD


def browser(app, address):
    """A new browser at a client address (loopback addresses: each a different machine to the app)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/login").get_data(as_text=True)
    return client, page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]


def attempt(app, email, password, address="127.0.0.1", **headers):
    client, token = browser(app, address)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token}, headers=headers)


def burst(app, tries, address):
    """All `tries` ((email, password) pairs) sent at the same moment, each from its own browser."""
    browsers = [browser(app, address) for _ in tries]
    start, answers = threading.Barrier(len(tries)), []

    def send(pair, email_password):
        client, token = pair
        start.wait()
        email, password = email_password
        answers.append(client.post("/login", data={"email": email, "password": password, "csrf_token": token}))

    threads = [threading.Thread(target=send, args=args) for args in zip(browsers, tries, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_the_defaults_are_the_limits_the_readme_states(app):
    assert auth.LOGIN_LIMITS == {"address": "20/minute;200/hour", "email_from_address": "5/minute;30/hour",
                                 "email": "10/minute;100/hour"}
    assert "LOGIN_LIMITS" not in app.config  # the suite runs with them
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_forty_guesses_at_once_for_one_email_get_five_checks_and_the_right_password_waits(app, people):
    answers = burst(app, [("pm@example.com", "wrong-guess")] * 39 + [("pm@example.com", PASSWORD)], "127.0.0.2")
    statuses = sorted(answer.status_code for answer in answers)
    assert 500 not in statuses and len(statuses) == 40
    assert statuses.count(429) == 35  # only five were checked at all; the right password may be one of them
    assert statuses.count(400) + statuses.count(302) == 5
    refused = attempt(app, "pm@example.com", PASSWORD, "127.0.0.2")
    assert refused.status_code == 429
    text = refused.get_data(as_text=True)
    assert "Too many sign-in attempts from your network. Wait 1 minute and try again" in text
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert 'value="pm@example.com"' in text  # the form is still there, filled in
    assert attempt(app, "pm@example.com", PASSWORD, "127.0.0.3").status_code == 302  # from the office: fine


def test_one_guess_on_each_of_forty_emails_from_one_address_is_slowed(app, people):
    answers = burst(app, [(f"person{n}@example.com", "wrong-guess") for n in range(40)], "127.0.0.4")
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(400) == 20 and statuses.count(429) == 20
    refused = attempt(app, "tech@example.com", PASSWORD, "127.0.0.4")
    assert refused.status_code == 429 and "from your network" in refused.get_data(as_text=True)
    assert attempt(app, "tech@example.com", PASSWORD, "127.0.0.5").status_code == 302


def test_a_guesser_at_one_address_cannot_lock_a_person_out(app, people):
    for _ in range(5):
        assert attempt(app, "tech@example.com", "wrong-guess", "127.0.1.1").status_code == 400
    assert attempt(app, "tech@example.com", "wrong-guess", "127.0.1.1").status_code == 429
    assert attempt(app, "tech@example.com", PASSWORD, "127.0.1.2").status_code == 302  # the technician
    # It takes guesses from several addresses at once to hold the email back for everyone, for a minute.
    for _ in range(4):
        attempt(app, "tech@example.com", "wrong-guess", "127.0.1.3")
    refused = attempt(app, "tech@example.com", PASSWORD, "127.0.1.4")
    assert refused.status_code == 429 and "for this email" in refused.get_data(as_text=True)


def test_an_email_with_no_account_is_held_back_the_same_way(app, people):
    statuses = [attempt(app, "nobody@example.com", "wrong-guess", "127.0.2.1").status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]


def test_a_script_asking_for_json_gets_the_json_error_and_retry_after(app, people):
    for _ in range(5):
        attempt(app, "client@example.com", "wrong-guess", "127.0.3.1")
    refused = attempt(app, "client@example.com", "wrong-guess", "127.0.3.1", Accept="application/json")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    error = refused.get_json()["error"]
    assert error["code"] == "too_many_requests" and "Wait 1 minute" in error["message"]


def test_the_page_itself_and_other_pages_are_never_limited(app, people):
    client = app.test_client()
    for _ in range(30):
        assert client.get("/login").status_code == 200


def test_guesses_at_once_are_counted_once_in_redis_when_redis_url_is_set(schema, tmp_path, monkeypatch):
    """With REDIS_URL every app process shares the counts: they live in Redis, and a burst gets five checks."""
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": schema, "PHOTO_DIR": str(tmp_path)})
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    # A fresh email and address for each run, so runs that share the Redis server never share a count.
    email = f"guess-{random.randrange(10**9)}@example.com"
    address = f"127.{random.randrange(1, 255)}.{random.randrange(1, 255)}.{random.randrange(1, 255)}"
    try:
        statuses = [answer.status_code for answer in burst(app, [(email, "wrong-guess")] * 40, address)]
        assert statuses.count(400) == 5 and statuses.count(429) == 35
        assert redis.Redis.from_url("redis://127.0.0.1:6379/0").keys(f"*{email}*")  # counted there, not in memory
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_sign_in_still_works_and_is_still_limited_while_redis_is_unreachable(schema, tmp_path, monkeypatch, caplog):
    """Last in this file: the limiter then remembers that its Redis was down until it sees it again."""
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": schema, "PHOTO_DIR": str(tmp_path)})
    try:
        statuses = [attempt(app, "unreachable@example.com", "wrong-guess", "127.0.4.1").status_code
                    for _ in range(6)]
        assert statuses == [400] * 5 + [429]
        assert "falling back to in-memory storage" in caplog.text
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
