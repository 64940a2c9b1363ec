"""The database handle and the sync sequence that orders every change."""
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, event, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


@event.listens_for(Engine, "savepoint")
def _sqlite_transaction_before_savepoint(conn, name) -> None:
    """Open SQLite's real transaction before the first SAVEPOINT (each sync mutation runs in one).

    pysqlite begins a transaction only at the first write, so a SAVEPOINT issued before it starts a
    transaction of its own that RELEASE commits: a batch would be committed mutation by mutation and
    the sync counter released early, letting a phone pull past changes not yet committed. BEGIN
    IMMEDIATE takes the write lock up front, so two writers wait for each other instead of deadlocking.
    """
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if not raw.in_transaction:
            raw.execute("BEGIN IMMEDIATE")


class Synced:
    """Mixin for rows that phones pull: `seq` is the sync sequence value of their last change."""


def upsert(session: Session, model):
    """INSERT for `model` with the database's ON CONFLICT clause (PostgreSQL and SQLite both have it)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def next_seq(session: Session) -> int:
    """Take the next sync sequence value, once per transaction.

    The counter row stays locked until commit, so sequence values become visible in the order
    they were taken: a phone that pulled up to cursor N can never miss a change numbered below N.
    """
    if "seq" not in session.info:
        from .models import Counter

        value = session.execute(
            update(Counter).where(Counter.name == "sync").values(value=Counter.value + 1)
            .returning(Counter.value)
        ).scalar_one_or_none()
        if value is None:
            raise RuntimeError("The sync counter is missing: run `flask --app app init-db`.")
        session.info["seq"] = value
        # Taken inside a savepoint, the value is undone with it; taken outside, it lasts until commit.
        real = session() if isinstance(session, scoped_session) else session
        session.info["seq_in_savepoint"] = real.in_nested_transaction()
    return session.info["seq"]


@event.listens_for(Session, "before_flush")
def _stamp_changed_rows(session: Session, flush_context, instances) -> None:
    # session.new builds a fresh set on every access: read it once (a 2,000-item site flushes 2,000 new rows).
    changed = [obj for obj in session.new if isinstance(obj, Synced)]
    changed += [obj for obj in session.dirty if isinstance(obj, Synced) and session.is_modified(obj)]
    if changed:
        seq = next_seq(session)
        for obj in changed:
            obj.seq = seq


@event.listens_for(Session, "after_transaction_end")
def _forget_seq(session: Session, transaction) -> None:
    # after_commit also fires when a savepoint is released: a sync batch applies each mutation in its own
    # savepoint, and must keep the one value it took for the whole transaction.
    if transaction.parent is None or session.info.get("seq_in_savepoint"):
        session.info.pop("seq", None)
        session.info.pop("seq_in_savepoint", None)
