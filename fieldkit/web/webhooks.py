"""Webhook sending wired to the app: each round in an app context and session of its own (see notify.py).

Deliveries go out from `flask --app app worker` when FIELDKIT_WEBHOOK_WORKER=external, or else from a thread
in each app process. That thread is started by the first request rather than at start-up: under
`gunicorn --preload` start-up runs in the master, whose threads do not survive the fork into the workers, and
every CLI command would start one too.
"""
import threading

from flask import Flask, current_app

from .. import notify
from ..db import db
from ..models import utcnow


def init_app(app: Flask) -> None:
    """Make the app's thread (`app.extensions["webhook_worker"]`) and start it on the first request, unless a
    worker process sends (WEBHOOK_WORKER "external") or this is a test app (tests send when they choose)."""
    app.config.setdefault("WEBHOOK_POLL", 5.0)
    app.config.setdefault("WEBHOOK_THREAD", app.config["WEBHOOK_WORKER"] == "thread" and not app.testing)
    app.extensions["webhook_worker"] = notify.Worker(lambda stop: deliver_round(app, stop),
                                                     app.config["WEBHOOK_POLL"])
    app.before_request(_start_thread)


def deliver_round(app: Flask, stop: threading.Event | None = None) -> int:
    """One round of sending (up to notify.BATCH deliveries); returns how many were attempted."""
    with app.app_context():
        try:
            secret = notify.signing_secret(app.config["WEBHOOK_SECRET"], app.config["SECRET_KEY"])
            attempted = notify.deliver_due(db.session, utcnow(), secret=secret, base_url=app.config["BASE_URL"],
                                           timeout=app.config["WEBHOOK_TIMEOUT"],
                                           allow_internal=app.config["WEBHOOK_ALLOW_INTERNAL"], stop=stop)
            db.session.commit()
            return attempted
        finally:
            db.session.remove()


def _start_thread() -> None:
    if current_app.config["WEBHOOK_THREAD"]:
        current_app.extensions["webhook_worker"].start()
