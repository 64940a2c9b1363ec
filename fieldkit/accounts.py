"""Users, roles, clients and API tokens."""
import hashlib
import math
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .db import upsert
from .errors import FieldKitError, NotFound, ValidationError
from .models import ROLES, ApiToken, Client, LoginThrottle, User, utcnow

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# werkzeug's default (scrypt); tests swap in a cheap method so hundreds of logins stay fast.
PASSWORD_METHOD = "scrypt"
FREE_TRIES = 5  # wrong passwords in a row before the email must wait; the wait doubles up to 16 minutes
FIRST_WAIT = timedelta(minutes=1)


class TooManyTries(FieldKitError):
    code = "too_many_tries"
    status = 429


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
    """Create a user (or update role/password/client of an existing one with that email)."""
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
        user.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def authenticate(session: Session, email: str, password: str, now: datetime | None = None) -> User | None:
    """The active user with that email and password, or None; the caller commits either way.

    After FREE_TRIES wrong passwords in a row an email waits before the next try, so a password cannot
    be guessed by brute force; the right password during the wait is refused too.
    """
    now = now or utcnow()
    key = email.strip().lower()[:320]
    this_email = LoginThrottle.email == key
    locked_until = session.execute(select(LoginThrottle.locked_until).where(this_email)).scalar_one_or_none()
    if locked_until is not None and locked_until > now:
        minutes = math.ceil((locked_until - now).total_seconds() / 60)
        raise TooManyTries(f"Too many wrong passwords for {key}. Wait {minutes} minute{'s' * (minutes > 1)} "
                           "and try again.")
    user = find_user(session, key)
    if user is None or not user.active or not user.password_hash:
        # Same work either way, so response times do not tell which emails have accounts.
        check_password_hash(generate_password_hash("x", method=PASSWORD_METHOD), password)
    elif check_password_hash(user.password_hash, password):
        session.execute(delete(LoginThrottle).where(this_email))
        return user
    # Counted in the database in one statement, so guesses sent in parallel are all counted.
    counted = upsert(session, LoginThrottle).values(email=key, failures=1)
    failures = session.execute(counted.on_conflict_do_update(
        index_elements=["email"], set_={"failures": LoginThrottle.failures + 1}).returning(LoginThrottle.failures)
    ).scalar_one()
    if failures >= FREE_TRIES:
        wait = FIRST_WAIT * 2 ** min(failures - FREE_TRIES, 4)
        session.execute(update(LoginThrottle).where(this_email).values(locked_until=now + wait))
    return None


def create_token(session: Session, email: str, label: str = "") -> str:
    """Make an API token for the user; only its hash is stored, so the token is shown once."""
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"No user with email {email}.")
    token = "fk_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_hash(token), label=label))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a bearer token belongs to, or None."""
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == _hash(token))).scalar_one_or_none()
    if row is None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    return row.user


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
