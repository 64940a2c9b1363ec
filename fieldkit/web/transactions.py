"""Each request's database work: a read begins as a read, a write as a writer, and work the database aborted
to break a deadlock or a serialization conflict runs again, a few times, so views stay thin.

A view is run again only when it committed no change yet (nothing is applied twice): its JSON and form fields
stay parsed by werkzeug, and its uploaded files are read again from the start.
"""
import functools
import random
import time
from contextvars import ContextVar

from flask import Flask, current_app, g, request
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .. import verdicts
from ..db import READ_ONLY, db, write_transaction
from ..models import Site

RETRIES = 3
ABORTED = {"40P01", "40001"}  # PostgreSQL's deadlock_detected and serialization_failure
READS = ("GET", "HEAD", "OPTIONS")
# Changes committed in this request (a transaction that took a sync sequence value); see retried().
_changes_committed: ContextVar[int] = ContextVar("fieldkit_changes_committed", default=0)


def init_app(app: Flask) -> None:
    """Call after every blueprint is registered: every view is wrapped."""
    # Before every other before-request function: those load the signed-in user, the request's first query.
    app.before_request_funcs.setdefault(None, []).insert(0, _declare_intent)
    app.teardown_request(_forget_intent)
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = retried(view)


def _declare_intent() -> None:
    # A read's own writes (a token's hourly use record, a stale verdict) run in short write transactions.
    g.read_only_token = READ_ONLY.set(request.method in READS)


def _forget_intent(exc: BaseException | None) -> None:
    token = g.pop("read_only_token", None)
    if token is not None:
        READ_ONLY.reset(token)


@event.listens_for(Session, "after_commit")
def _count_changes(session: Session) -> None:
    # A transaction's own commit (not a savepoint's release) that took a sync sequence value changed data.
    if "seq" in session.info and not session.in_nested_transaction():
        _changes_committed.set(_changes_committed.get() + 1)


def aborted_by_database(exc: DBAPIError) -> bool:
    """True when the database rolled the transaction back to break a deadlock or a serialization conflict."""
    return getattr(exc.orig, "sqlstate", None) in ABORTED


def retried(view):
    """The view, run again (up to RETRIES times, after a short random pause) when the database aborted it."""
    @functools.wraps(view)
    def run(**kwargs):
        for attempt in range(RETRIES + 1):
            committed = _changes_committed.get()
            try:
                return view(**kwargs)
            except DBAPIError as exc:
                if attempt == RETRIES or not aborted_by_database(exc) or _changes_committed.get() != committed:
                    raise
                current_app.logger.warning("%s %s was aborted by the database (%s); trying again", request.method,
                                           request.path, exc.orig.sqlstate)
            db.session.rollback()
            for uploads in request.files.listvalues():
                for upload in uploads:
                    upload.stream.seek(0)
            time.sleep(random.uniform(0.01, 0.05) * 2**attempt)  # jittered, so the two do not collide again
    return run


def fresh(sites: list[Site]) -> list[Site]:
    """The sites, with today's verdict stored on those assessed on an earlier day (an item becomes overdue
    overnight, and its webhook must go out): the one write a read makes, in a short transaction of its own."""
    if verdicts.stale(sites):
        with write_transaction(db.session):
            verdicts.refresh_stale(db.session, sites)
    return sites
