"""Flask extensions, made unbound and bound to the app in create_app."""
from flask import Flask, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from .. import accounts
from ..access import MAX_ID
from ..db import db, writing
from ..models import User

login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate()
# Counts live in RATELIMIT_STORAGE_URI (Redis when REDIS_URL is set, so every process shares them; memory
# otherwise). A moving window takes each hit atomically before the request is looked at, so guesses sent
# at the same moment cannot slip past a limit. While Redis is unreachable each process counts in memory.
limiter = Limiter(key_func=get_remote_address, strategy="moving-window", key_prefix="fieldkit",
                  headers_enabled=False, in_memory_fallback_enabled=True)
MIGRATIONS = str(__import__("pathlib").Path(__file__).resolve().parent.parent / "migrations")


class SessionInterface(SecureCookieSessionInterface):
    """Bearer-token requests never get a session cookie: a token must not turn into a login. Nor does a public
    answer (a static file, an icon), which is the same for everyone: without `Vary: Cookie` the service worker
    takes the copy the page has just downloaded from the browser's cache instead of downloading it again."""

    def save_session(self, app, session, response):
        if g.get("bearer") or response.cache_control.public:
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
    # Text (pages, JSON, modules, styles, the manifest, SVG) goes as br or gzip, as the client asks; images and
    # PDFs are compressed already and bodies under 500 bytes are not worth it. First, so that it runs after
    # every other after_request hook (Flask runs them last-registered first) and compresses the final body.
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip"])  # files from send_file are streams
    app.config.setdefault("COMPRESS_BR_LEVEL", 5)  # than 4: a 2,000-item bundle 38 → 30 KB, in 35 ms instead of 17
    Compress(app)  # one per app, not shared: it keeps the settings of the app it was given

    @app.after_request
    def close_streamed_files(response):
        # Runs before Flask-Compress, which swaps a streamed body (a file from send_file) for its compressed
        # stream and so loses the file's close(): the response still closes it.
        if response.is_streamed and hasattr(response.response, "close"):
            response.call_on_close(response.response.close)
        return response

    if app.config.get("PROXY_HOPS"):
        # Behind a reverse proxy every request comes from the proxy: read the client from X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_HOPS"])
    app.session_interface = SessionInterface()
    app.config.setdefault("REMEMBER_COOKIE_DURATION", accounts.REMEMBERED_FOR)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    # Sessions are checked on the server and can be ended there; binding them to the client's address as
    # well would sign a phone out each time it moves between Wi-Fi and mobile data.
    login_manager.session_protection = None
    limiter.init_app(app)
    csrf.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    if request.headers.get("Authorization", "").startswith("Bearer "):
        # A request that names its token acts as the token's user, whatever session cookie came with it.
        return load_user_from_bearer(request)
    found = _look_up(accounts.use_session, session_id)
    if found is None:
        return None
    if found.remember and found.recorded:
        session["_remember"] = "set"  # Flask-Login renews the remember-me cookie: 90 days from the last use
    user = db.session.get(User, found.user_id)
    if user is not None:
        user.login_session_id = session_id
    return user


@login_manager.request_loader
def load_user_from_bearer(req) -> User | None:
    """Scripts and devices authenticate with `Authorization: Bearer <token>` (and need no CSRF token)."""
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    found = _look_up(accounts.use_token, header.removeprefix("Bearer ").strip())
    if found is None:
        return None
    g.bearer = True
    return db.session.get(User, found.user_id)


def _look_up(use, key: str) -> accounts.Use | None:
    """Find a session or token in a short read of its own, so a GET stays a read; when its hourly use record
    is due, write it in a short write transaction (on SQLite a read cannot turn into a write without risk)."""
    with Session(db.engine) as short, short.begin():
        found = use(short, key, record=False)
    if found is not None and found.due:
        with writing(), Session(db.engine) as short, short.begin():
            found = use(short, key)
    return found
