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


class IdConverter(IntegerConverter):
    """<int:...> in every route: a number past the 32-bit ids of PostgreSQL names nothing, so it is a 404."""

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
