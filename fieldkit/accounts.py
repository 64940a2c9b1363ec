"""Users, roles, clients and API tokens."""
import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .errors import NotFound, ValidationError
from .models import ROLES, ApiToken, Client, User, utcnow

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# werkzeug's default (scrypt); tests swap in a cheap method so hundreds of logins stay fast.
PASSWORD_METHOD = "scrypt"


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


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with that email and password, or None."""
    user = find_user(session, email)
    if user is None or not user.active or not user.password_hash:
        # Same work either way, so response times do not tell which emails have accounts.
        check_password_hash(generate_password_hash("x", method=PASSWORD_METHOD), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


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
