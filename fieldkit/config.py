"""Settings from the environment, read and checked once when the app is made."""
import os
import secrets
from pathlib import Path

from .errors import ConfigError
from .photos import DECODES_AT_ONCE

MiB = 1024 * 1024


def load(instance_path: str, environ=os.environ) -> dict:
    """Return Flask config values from `environ`; raise ConfigError when production lacks a secret."""
    instance = Path(instance_path)
    production = environ.get("FIELDKIT_ENV", "development") == "production"
    secret = environ.get("SECRET_KEY")
    if not secret:
        if production:
            raise ConfigError("SECRET_KEY must be set when FIELDKIT_ENV=production.")
        secret = _development_secret(instance)
    base_url = environ.get("FIELDKIT_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    database_url = environ.get("DATABASE_URL") or f"sqlite:///{instance / 'fieldkit.db'}"
    if database_url.startswith("postgres://"):  # Heroku-style URLs name no driver
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    return {
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "PHOTO_DIR": environ.get("FIELDKIT_PHOTO_DIR") or str(instance / "photos"),
        "BASE_URL": base_url,
        "PRODUCTION": production,
        "MAX_CONTENT_LENGTH": 25 * MiB,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": base_url.startswith("https://"),
        "WTF_CSRF_TIME_LIMIT": None,  # pages stay open all day on a PM's laptop; the token is tied to the session
        "WEBHOOK_TIMEOUT": float(environ.get("FIELDKIT_WEBHOOK_TIMEOUT", "5")),
        "WEBHOOK_SECRET": environ.get("FIELDKIT_WEBHOOK_SECRET", ""),  # signs webhooks; see notify.py
        "WEBHOOK_ALLOW_INTERNAL": environ.get("FIELDKIT_WEBHOOK_ALLOW_INTERNAL", "") == "1",
        # "external": `flask --app app worker` sends webhooks, so the app processes start no thread for it.
        "WEBHOOK_WORKER": _choice(environ, "FIELDKIT_WEBHOOK_WORKER", ("thread", "external")),
        # Sign-in limits are counted in Redis when it is given, so every app process shares the counts.
        "RATELIMIT_STORAGE_URI": environ.get("REDIS_URL") or "memory://",
        "PROXY_HOPS": _whole(environ, "FIELDKIT_PROXY_HOPS", 0, 0, 5, "the number of proxies in front of FieldKit"),
        # Each photo decode may hold up to ~220 MiB; more at once trades memory for upload throughput.
        "PHOTO_DECODES": _whole(environ, "FIELDKIT_PHOTO_DECODES", DECODES_AT_ONCE, 1, 16,
                                "how many photos one process decodes at once"),
    }


def _whole(environ, name: str, default: int, low: int, high: int, what: str) -> int:
    """A whole-number setting from `low` to `high`; a ConfigError naming the variable otherwise."""
    value = environ.get(name, str(default))
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise ConfigError(f"{name} must be {what}, {low} to {high}.")
    return int(value)


def _choice(environ, name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when unset); a ConfigError naming the variable otherwise."""
    value = environ.get(name, choices[0])
    if value not in choices:
        raise ConfigError(f"{name} must be one of: {', '.join(choices)}.")
    return value


def _development_secret(instance: Path) -> str:
    """A random key kept in instance/ so development sessions survive a restart; never in the repo."""
    path = instance / "secret_key"
    instance.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
