"""Users, roles, clients, browser sessions and API tokens."""
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .errors import NotFound, ValidationError
from .models import ROLES, ApiToken, Client, LoginSession, User, utcnow

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# werkzeug's default (scrypt); tests swap in a cheap method so hundreds of logins stay fast.
PASSWORD_METHOD = "scrypt"
# A browser kept signed in (a technician's phone) lasts this long after its last use; one that is not
# lasts until the browser closes, and the server forgets it after a working day without use.
REMEMBERED_FOR = timedelta(days=90)
NOT_REMEMBERED_FOR = timedelta(hours=12)
TOKEN_DAYS = 365  # a new API token's lifetime unless told otherwise
MAX_TOKEN_DAYS = 3650
USE_RECORDED_EVERY = timedelta(hours=1)  # last_used_at is written at most this often, so reads stay reads


def get_or_create_client(session: Session, name: str) -> Client:
    """The client of that name, created when not seen before."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError("A client name is required.", "missing_client")
    client = session.execute(select(Client).where(Client.name == name)).scalar_one_or_none()
    if client is None:
        client = Client(name=name)
        session.add(client)
        session.flush()
    return client


def create_user(session: Session, email: str, role: str, password: str | None = None,
                client: str | None = None, name: str = "") -> User:
    """Create a user (or update role/password/client of an existing one with that email).

    A new password signs the person out of every browser: a cookie taken with the old one stops working.
    """
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise ValidationError(f"'{email}' is not an email address.", "bad_email")
    if role not in ROLES:
        raise ValidationError(f"Role must be one of {', '.join(ROLES)}.", "bad_role")
    if role == "client" and not client:
        raise ValidationError("A client user must belong to a client: name the client.", "missing_client")
    if password is not None and len(password) < 8:
        raise ValidationError("A password needs at least 8 characters.", "weak_password")
    user = find_user(session, email) or User(email=email, role=role)
    user.role = role
    user.name = name or user.name or ""
    user.client_id = get_or_create_client(session, client).id if role == "client" else None
    if password is not None:
        if user.id is not None:
            end_sessions(session, user)
        user.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)
    session.add(user)
    session.flush()
    return user


def set_active(session: Session, user: User, active: bool, now: datetime | None = None) -> None:
    """Let a person sign in again, or stop them: stopping ends their browsers and revokes their tokens, so
    enabling them later brings back none of the devices they had (a lost phone stays signed out)."""
    user.active = active
    if not active:
        end_sessions(session, user)
        session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                        .values(revoked_at=now or utcnow()))


def find_user(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with that email and password, or None. The web layer limits how often it is asked."""
    user = find_user(session, email[:320])
    if user is None or not user.active or not user.password_hash:
        # Same work either way, so response times do not tell which emails have accounts.
        check_password_hash(generate_password_hash("x", method=PASSWORD_METHOD), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


# Browser sessions ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Use:
    """A live browser session or token found for a cookie or a header: whose, whether remembered (tokens are
    not), whether its use is due to be recorded, and whether it just was (then a remembered browser's
    cookie is renewed, so a phone in use stays signed in)."""

    user_id: int
    remember: bool
    due: bool
    recorded: bool


def start_session(session: Session, user: User, remember: bool, user_agent: str = "",
                  now: datetime | None = None) -> str:
    """Open a browser session for a user who just proved who they are; returns the id for the cookie
    (only its hash is stored). The user's long-unused sessions are cleared away at the same time."""
    now = now or utcnow()
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id, _expired(now)))
    session_id = "s_" + secrets.token_urlsafe(32)
    session.add(LoginSession(user_id=user.id, token_hash=_hash(session_id), remember=remember,
                             user_agent=user_agent[:300], created_at=now, last_used_at=now))
    session.flush()
    user.login_session_id = session_id
    return session_id


def use_session(session: Session, session_id: str, now: datetime | None = None, record: bool = True) -> Use | None:
    """The live session a cookie names, for an active user, or None; records its use at most once an hour
    (unless `record` is false: then `due` says whether to call again, in a write transaction, to record it).

    Run it in a short transaction of its own: the record is its only write, and must not ride on a GET.
    """
    now = now or utcnow()
    row = session.execute(select(LoginSession).join(User).where(
        LoginSession.token_hash == _hash(session_id), User.active, ~_expired(now))).scalar_one_or_none()
    return None if row is None else _use(session, row, row.remember, now, record)


def end_session(session: Session, session_id: str | None) -> None:
    """Sign one browser out: its cookie, and any remember-me cookie made from it, stop working."""
    if session_id:
        session.execute(delete(LoginSession).where(LoginSession.token_hash == _hash(session_id)))


def end_sessions(session: Session, user: User) -> None:
    """Sign a person out of every browser."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def list_sessions(session: Session, now: datetime | None = None) -> list[LoginSession]:
    """Every live browser session, the most recently used first (for the admin page)."""
    query = select(LoginSession).join(User).where(~_expired(now or utcnow()))
    return list(session.execute(query.order_by(LoginSession.last_used_at.desc(), LoginSession.id.desc())).scalars())


def revoke_session(session: Session, login_session_id: int) -> User:
    """An admin signs one browser out; returns whose it was. NotFound when it has already ended."""
    row = session.get(LoginSession, login_session_id)
    if row is None:
        raise NotFound("That browser is already signed out.")
    user = row.user
    session.delete(row)
    session.flush()
    return user


def _expired(now: datetime):
    return or_(
        (LoginSession.remember.is_(True)) & (LoginSession.last_used_at <= now - REMEMBERED_FOR),
        (LoginSession.remember.is_(False)) & (LoginSession.last_used_at <= now - NOT_REMEMBERED_FOR),
    )


# API tokens -------------------------------------------------------------------------------------------

def issue_token(session: Session, user: User, label: str = "", days: int | None = TOKEN_DAYS,
                now: datetime | None = None) -> tuple[ApiToken, str]:
    """Make an API token for the user, ending after `days`; returns the row and the token, which is shown
    once (only its hash is stored)."""
    days = TOKEN_DAYS if days is None else days
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError(f"A token lasts from 1 to {MAX_TOKEN_DAYS} days.", "bad_days")
    if not isinstance(label, str) or len(label) > 200:
        raise ValidationError("A token's label is text of at most 200 characters.", "bad_label")
    now = now or utcnow()
    token = "fk_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_hash(token), label=label.strip(), created_at=now,
                   expires_at=now + timedelta(days=days))
    session.add(row)
    session.flush()
    return row, token


def create_token(session: Session, email: str, label: str = "", days: int | None = TOKEN_DAYS) -> str:
    """Make an API token for the user with that email (the command line); returns only the token."""
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"No user with email {email}.")
    return issue_token(session, user, label, days)[1]


def use_token(session: Session, token: str, now: datetime | None = None, record: bool = True) -> Use | None:
    """The use of a live bearer token of an active user, or None; records it at most once an hour, as
    use_session does (and in a short transaction of its own, likewise)."""
    now = now or utcnow()
    row = session.execute(select(ApiToken).join(User).where(
        ApiToken.token_hash == _hash(token), User.active, ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > now)).scalar_one_or_none()
    return None if row is None else _use(session, row, False, now, record)


def tokens_of(session: Session, actor: User, email: str | None = None) -> list[ApiToken]:
    """The tokens a person may see: their own; an admin every token, or one person's when `email` is given."""
    query = select(ApiToken).join(User)
    if actor.role != "admin":
        query = query.where(ApiToken.user_id == actor.id)
    elif email:
        query = query.where(User.email == email.strip().lower())
    return list(session.execute(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).scalars())


def revoke_token(session: Session, actor: User | None, token_id: int, now: datetime | None = None) -> ApiToken:
    """End a token at once: a person their own, an admin (or the command line, `actor` None) anyone's.
    Another person's token is NotFound, so nobody learns which ids exist; revoking twice changes nothing."""
    row = session.get(ApiToken, token_id)
    if row is None or (actor is not None and actor.role != "admin" and row.user_id != actor.id):
        raise NotFound(f"There is no token {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.flush()
    return row


def token_state(row: ApiToken, now: datetime | None = None) -> str:
    """`active`, `expired` or `revoked`, in words a list can show."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def token_json(row: ApiToken, now: datetime | None = None) -> dict:
    def stamp(value):
        return value.isoformat() if value else None

    return {"id": row.id, "label": row.label, "user": row.user.email, "created_at": stamp(row.created_at),
            "last_used_at": stamp(row.last_used_at), "expires_at": stamp(row.expires_at),
            "revoked_at": stamp(row.revoked_at), "state": token_state(row, now)}


def _use(session: Session, row: ApiToken | LoginSession, remember: bool, now: datetime, record: bool) -> Use:
    due = row.last_used_at is None or now - row.last_used_at >= USE_RECORDED_EVERY
    return Use(row.user_id, remember, due, due and record and _record_use(session, row, now))


def _record_use(session: Session, row: ApiToken | LoginSession, now: datetime) -> bool:
    model = type(row)
    # The condition makes the many requests of one busy hour, in every process, write it once.
    done = session.execute(update(model).where(model.id == row.id, or_(
        model.last_used_at.is_(None), model.last_used_at < now - USE_RECORDED_EVERY)).values(last_used_at=now))
    return bool(done.rowcount)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
