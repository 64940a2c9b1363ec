"""The database handle, how transactions begin and lock, and the sync sequence that orders every change.

Transactions, on both databases:
- One lock order for every writer: the sync counter row first (db.next_seq), then any other row. A flush of
  changed rows takes the counter before writing them, and any SELECT ... FOR UPDATE takes it before locking,
  so two transactions never wait for each other in a circle (PostgreSQL would abort one as a deadlock).
- On SQLite (one writer at a time): WAL, so readers never wait for a writer and a writer never waits for
  readers; a busy timeout, so a writer waits for another's commit instead of failing; and a transaction
  begins as a writer (BEGIN IMMEDIATE, the write lock taken up front) unless it was declared a read
  (`READ_ONLY`, set by the web layer for GET requests), which begins with a plain BEGIN. A read must not turn
  into a write: SQLite refuses that at once, without waiting, when another writer got there first; a read
  that must store something does it in `write_transaction`.
"""
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, column, event, table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, scoped_session

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


BUSY_TIMEOUT_MS = 30_000  # how long a SQLite writer waits for another's commit before "database is locked"
# True while the current request only reads; everything else (CLI, workers, tests) begins as a writer.
READ_ONLY: ContextVar[bool] = ContextVar("fieldkit_read_only", default=False)


@event.listens_for(Engine, "connect")
def _sqlite_connection(dbapi_connection, connection_record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        # pysqlite begins transactions only before a write, so reads ran outside any transaction and a
        # SAVEPOINT outside one was committed by its RELEASE: SQLAlchemy emits BEGIN itself instead (below).
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dbapi_connection.execute("PRAGMA journal_mode = WAL")  # a memory database stays "memory"


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN" if READ_ONLY.get() else "BEGIN IMMEDIATE")


@contextmanager
def writing() -> Iterator[None]:
    """Transactions begun in the block write, even during a read (a GET): e.g. a short Session of their own."""
    token = READ_ONLY.set(False)
    try:
        yield
    finally:
        READ_ONLY.reset(token)


@contextmanager
def write_transaction(session: Session) -> Iterator[None]:
    """Run the block as a short write transaction of its own, for a read (a GET) that must store something.

    The read's transaction ends first and the block's begins as a writer; it is committed at the end of the
    block and rolled back on an error. What the read loaded stays loaded (not expired by the commits).
    """
    real = session() if isinstance(session, scoped_session) else session
    keep, real.expire_on_commit = real.expire_on_commit, False
    try:
        real.commit()
        with writing():
            yield
            real.commit()
    except BaseException:
        real.rollback()
        raise
    finally:
        real.expire_on_commit = keep


class Synced:
    """Mixin for rows that phones pull: `seq` is the sync sequence value of their last change."""


def upsert(session: Session, model):
    """INSERT for `model` with the database's ON CONFLICT clause (PostgreSQL and SQLite both have it)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


# models.Counter's table, named here so this module needs nothing from models (which builds on it).
_COUNTER = table("counter", column("name"), column("value"))


def next_seq(session: Session) -> int:
    """Take the next sync sequence value, once per transaction.

    The counter row stays locked until commit, so sequence values become visible in the order
    they were taken: a phone that pulled up to cursor N can never miss a change numbered below N.
    """
    if "seq" not in session.info:
        value = session.execute(
            update(_COUNTER).where(_COUNTER.c.name == "sync").values(value=_COUNTER.c.value + 1)
            .returning(_COUNTER.c.value)
        ).scalar_one_or_none()
        if value is None:
            raise RuntimeError("The sync counter is missing: run `flask --app app init-db`.")
        session.info["seq"] = value
        # Taken inside a savepoint, the value is undone with it; taken outside, it lasts until commit.
        real = session() if isinstance(session, scoped_session) else session
        session.info["seq_in_savepoint"] = real.in_nested_transaction()
    return session.info["seq"]


@event.listens_for(Session, "do_orm_execute")
def _counter_before_row_locks(state: ORMExecuteState) -> None:
    # The one lock order (see the module's docstring): a SELECT ... FOR UPDATE waits until the counter is ours.
    if state.is_select and getattr(state.statement, "_for_update_arg", None) is not None:
        next_seq(state.session)


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
