"""`flask --app app worker`: webhook delivery in a process of its own, beside the app or instead of its thread."""
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from fieldkit import config, create_app, notify
from fieldkit.db import db
from fieldkit.errors import ConfigError
from fieldkit.models import WebhookDelivery, utcnow
from tests.conftest import login
from tests.test_notify import SECRET, deliver, deliveries, fail_a_blocker, queue, serving, set_webhooks

ROOT = Path(__file__).resolve().parent.parent
on_postgresql = pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                                   reason="SQLite has one writer at a time, so claims there never overlap")


@pytest.fixture(autouse=True)
def signed(app):
    app.config.update(WEBHOOK_SECRET=SECRET, WEBHOOK_ALLOW_INTERNAL=True)  # the receivers listen on 127.0.0.1
    return app


@pytest.fixture
def receiver():
    with serving() as made:
        yield made


def worker_process(database_url: str, *args: str) -> subprocess.Popen:
    """`flask --app app worker ARGS` as production runs it, on the tests' database."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "worker-test", "FIELDKIT_WEBHOOK_SECRET": SECRET,
           "FIELDKIT_WEBHOOK_ALLOW_INTERNAL": "1", "FIELDKIT_BASE_URL": "http://fieldkit.test",
           "FIELDKIT_WEBHOOK_WORKER": "external"}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)
    return condition()


def test_worker_once_sends_the_due_webhook_and_leaves_a_retry_for_later(app, api, site, bundle, receiver):
    pm = app.test_client()
    login(pm, "pm@example.com")
    set_webhooks(pm, site["id"], site_url=receiver.url, client_url=receiver.url + "?all=1")
    receiver.plan[:] = [500]
    fail_a_blocker(api, bundle)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "2 webhook attempts made." in result.output
    assert len(receiver.received) == 2
    for headers, body in receiver.received:
        assert headers["x-fieldkit-signature"] == notify.signature(SECRET.encode(), headers["x-fieldkit-timestamp"],
                                                                   body)
    failed, sent = sorted(deliveries(app), key=lambda row: row.status)
    assert sent.status == "sent" and failed.status == "pending"
    assert [a["status_code"] for a in failed.attempts] == [500]
    assert failed.next_attempt_at > utcnow() + timedelta(seconds=20)  # the back-off, not at once again
    again = runner.invoke(args=["worker", "--once"])
    assert again.exit_code == 0 and "0 webhook attempts made." in again.output
    assert len(receiver.received) == 2


def test_a_dead_workers_claim_is_sent_by_another_once_its_lease_runs_out(app, site, receiver):
    queue(app, site["id"], receiver.url)
    now = utcnow()
    with app.app_context():
        assert notify.claim(db.session, now) is not None  # ... and the worker dies before sending
        db.session.remove()

    assert deliver(app, now + timedelta(seconds=60)) == 0
    assert receiver.received == []
    assert deliver(app, now + notify.LEASE + timedelta(seconds=1)) == 1
    assert len(receiver.received) == 1 and deliveries(app)[0].status == "sent"


def test_sigterm_lets_the_worker_finish_the_attempt_in_flight_then_exit(app, site, receiver):
    first = queue(app, site["id"], receiver.url)
    second = queue(app, site["id"], receiver.url + "?next=1")
    receiver.delay = 1.5  # long enough to be stopped in the middle of it
    worker = worker_process(app.config["SQLALCHEMY_DATABASE_URI"], "--poll", "0.2")
    try:
        if not wait_for(lambda: receiver.received):
            worker.kill()
            pytest.fail(f"the worker sent nothing: {worker.communicate()[1]}")
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=20)
    finally:
        worker.kill()
    assert worker.returncode == 0, errors
    assert "Stopping after the attempt in flight." in errors
    assert len(receiver.received) == 1
    rows = {row.id: row for row in deliveries(app)}
    assert rows[first].status == "sent" and [a["status_code"] for a in rows[first].attempts] == [200]
    assert rows[second].status == "pending" and rows[second].attempts == []


@on_postgresql
def test_two_workers_at_once_send_each_attempt_exactly_once(app, site, receiver):
    queued = [queue(app, site["id"], f"{receiver.url}?n={n}") for n in range(30)]
    receiver.delay = 0.1  # 3 s of sending: both workers are at it together
    workers = [worker_process(app.config["SQLALCHEMY_DATABASE_URI"], "--once") for _ in range(2)]
    outputs = [worker.communicate(timeout=60)[1] for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], outputs
    counts = [int(output.split(" webhook attempts made.")[0].split()[-1]) for output in outputs]
    assert sum(counts) == 30 and min(counts) > 0, counts  # each took a share, none twice
    assert sorted(m["delivery_id"] for m in receiver.bodies()) == queued
    assert all(row.status == "sent" and len(row.attempts) == 1 for row in deliveries(app))


@on_postgresql
def test_a_row_another_worker_is_claiming_is_skipped_not_waited_for(app, site, receiver):
    held, free = queue(app, site["id"], receiver.url), queue(app, site["id"], receiver.url + "?free=1")
    with app.app_context():
        with db.engine.connect() as other:  # another worker, between its claim and its commit
            other.execute(select(WebhookDelivery.id).where(WebhookDelivery.id == held).with_for_update())
            db.session.execute(text("SET LOCAL lock_timeout = '1s'"))  # waiting would fail instead of hang
            claimed = notify.claim(db.session, utcnow())
            other.rollback()
        db.session.remove()
    assert claimed.id == free


def test_the_worker_setting_is_thread_or_external(tmp_path):
    assert config.load(str(tmp_path), {"SECRET_KEY": "s"})["WEBHOOK_WORKER"] == "thread"
    chosen = config.load(str(tmp_path), {"SECRET_KEY": "s", "FIELDKIT_WEBHOOK_WORKER": "external"})
    assert chosen["WEBHOOK_WORKER"] == "external"
    with pytest.raises(ConfigError, match="FIELDKIT_WEBHOOK_WORKER must be one of: thread, external"):
        config.load(str(tmp_path), {"SECRET_KEY": "s", "FIELDKIT_WEBHOOK_WORKER": "yes"})


def sending_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fieldkit-webhooks" and t.is_alive()]


@pytest.mark.parametrize("setting, threads", [(None, 1), ("external", 0)])
def test_an_external_worker_leaves_no_sending_thread_in_the_app(schema, tmp_path, monkeypatch, setting, threads):
    if setting:
        monkeypatch.setenv("FIELDKIT_WEBHOOK_WORKER", setting)
    else:
        monkeypatch.delenv("FIELDKIT_WEBHOOK_WORKER", raising=False)
    assert sending_threads() == []
    served = create_app({"SQLALCHEMY_DATABASE_URI": schema, "PHOTO_DIR": str(tmp_path / "photos")})  # not a test app
    try:
        for _ in range(3):
            assert served.test_client().get("/login").status_code == 200
        assert len(sending_threads()) == threads
    finally:
        served.extensions["webhook_worker"].stop()
        with served.app_context():
            db.engine.dispose()
    assert sending_threads() == []
