"""Flask extensions, made unbound and bound to the app in create_app."""
from flask import Flask, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect
from werkzeug.routing import IntegerConverter

from ..access import MAX_ID
from ..accounts import user_for_token
from ..db import db
from ..models import User

login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate()
MIGRATIONS = str(__import__("pathlib").Path(__file__).resolve().parent.parent / "migrations")


class SessionInterface(SecureCookieSessionInterface):
    """Bearer-token requests never get a session cookie: a token must not turn into a login."""

    def save_session(self, app, session, response):
        if g.get("bearer"):
            return None
        return super().save_session(app, session, response)


def _numbers_up_to(limit: int) -> str:
    """A regex matching exactly the numbers 1..limit written without leading zeros."""
    digits = str(limit)
    parts = [rf"[1-9]\d{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for n, digit in enumerate(digits):
        lowest = 1 if n == 0 else 0
        if int(digit) > lowest:
            parts.append(f"{digits[:n]}[{lowest}-{int(digit) - 1}]" + r"\d" * (len(digits) - n - 1))
    return "(?:" + "|".join([*parts, digits]) + ")"


class IdConverter(IntegerConverter):
    """<int:...> in every route: a number past the 32-bit ids of PostgreSQL names nothing, so it is a 404.

    The range is in the pattern itself: werkzeug checks a rule's methods before its converter's range, so a
    path with GET and POST rules would answer 405 for an out-of-range id instead of 404.
    """

    regex = _numbers_up_to(MAX_ID)

    def __init__(self, url_map, max: int = MAX_ID, **kwargs):
        super().__init__(url_map, max=max, **kwargs)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter  # before any blueprint adds its rules
    app.session_interface = SessionInterface()
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if request.headers.get("Authorization", "").startswith("Bearer "):
        # A request that names its token acts as the token's user, whatever session cookie came with it.
        return load_user_from_bearer(request)
    user = db.session.get(User, int(user_id)) if user_id.isascii() and user_id.isdigit() else None
    return user if user is not None and user.active else None


@login_manager.request_loader
def load_user_from_bearer(req) -> User | None:
    """Scripts and devices authenticate with `Authorization: Bearer <token>` (and need no CSRF token)."""
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    user = user_for_token(db.session, header.removeprefix("Bearer ").strip())
    if user is not None:
        g.bearer = True
        db.session.commit()
    return user


def is_bearer() -> bool:
    return bool(g.get("bearer")) or request.headers.get("Authorization", "").startswith("Bearer ")
