"""Fixtures: a real app on a real database (SQLite file, or PostgreSQL when DATABASE_URL says so)."""
import os
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from fieldkit import accounts, create_app
from fieldkit.cli import init_db
from fieldkit.db import db

PASSWORD = "correct-horse-1"
accounts.PASSWORD_METHOD = "pbkdf2:sha256:1000"  # production keeps scrypt; tests need hundreds of cheap logins


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    return os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def schema(database_url):
    """Migrate the test database once per run, from empty, with the same command users run."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        init_db()
        init_db()  # twice: it must be safe to run again
        db.session.remove()
        db.engine.dispose()
    return database_url


@pytest.fixture
def app(schema, tmp_path):
    """A fresh app on emptied tables. No app context stays pushed: each request gets its own, as in production."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": schema, "PHOTO_DIR": str(tmp_path / "photos"),
                      "BASE_URL": "http://fieldkit.test"})
    with app.app_context():
        _empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def look(app):
    """look(lambda session: ...): read the database as it is now, outside any request."""
    def run(query):
        with app.app_context():
            return query(db.session)
    return run


@pytest.fixture
def ctx(app):
    """An app context for tests that call domain functions directly."""
    with app.app_context():
        yield app
        db.session.remove()


def _empty_tables() -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(text(f'DELETE FROM "{table}"'))
            conn.execute(text("DELETE FROM sqlite_sequence")) if conn.execute(
                text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first() else None
        conn.execute(text("INSERT INTO counter (name, value) VALUES ('sync', 0)"))


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """A script or device talking to the API with a bearer token."""

    def __init__(self, client, token):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, url, **kw):
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(url, json=json, headers=self.headers, **kw)

    def sync(self, mutations, cursor=0, device="phone-1"):
        return self.post("/api/sync", {"device_id": device, "cursor": cursor, "mutations": mutations})


@pytest.fixture
def people(app):
    """One user of every role, plus a second technician and a client user of another company."""
    made = {}
    with app.app_context():
        for name, role, client_name in [("admin", "admin", None), ("pm", "pm", None), ("tech", "tech", None),
                                         ("tech2", "tech", None), ("client", "client", "Acme Dental"),
                                         ("other_client", "client", "Zenith Legal")]:
            accounts.create_user(db.session, f"{name}@example.com", role, PASSWORD, client_name)
        db.session.commit()
        for name in ("admin", "pm", "tech", "tech2", "client", "other_client"):
            made[name] = accounts.create_token(db.session, f"{name}@example.com")
        db.session.commit()
    return made


@pytest.fixture
def api(app, people):
    """api["pm"].get(...): a bearer-token client per role, each with its own cookie jar (none is ever set)."""
    return {name: Api(app.test_client(), token) for name, token in people.items()}


@pytest.fixture
def site(api):
    """An office move for Acme Dental in 20 days, four rooms, `tech` assigned; answered as the API answers."""
    response = api["pm"].post("/api/sites", {
        "name": "Acme Dental – new clinic", "client": "Acme Dental", "template": "office-move",
        "move_in": (date.today() + timedelta(days=20)).isoformat(), "address": "1 Main St",
        "rooms": ["Reception", "Surgery 1", "Surgery 2", "Comms room"], "technicians": ["tech@example.com"],
    })
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def bundle(api, site):
    return api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()


def update(item, changes, base_rev=None):
    """An item.update mutation as a phone makes it."""
    return {"id": str(uuid.uuid4()), "type": "item.update", "item_id": item["id"],
            "base_rev": item["rev"] if base_rev is None else base_rev, "set": changes}


def login(client, email, password=PASSWORD):
    """Sign in through the real form, CSRF token and all."""
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})
