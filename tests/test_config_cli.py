"""Configuration from the environment and the command line of API.md."""
import pytest
from sqlalchemy import select

from fieldkit import config
from fieldkit.db import db
from fieldkit.errors import ConfigError
from fieldkit.models import Site, User


def test_production_without_secret_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        config.load(str(tmp_path), {"FIELDKIT_ENV": "production"})


def test_development_secret_is_random_kept_in_instance_and_stable(tmp_path):
    first = config.load(str(tmp_path), {})["SECRET_KEY"]
    assert len(first) == 64 and config.load(str(tmp_path), {})["SECRET_KEY"] == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_selects_database_photos_and_base_url(tmp_path):
    settings = config.load(str(tmp_path), {"SECRET_KEY": "s", "DATABASE_URL": "postgresql://u@h/db",
                                           "FIELDKIT_PHOTO_DIR": "/srv/photos",
                                           "FIELDKIT_BASE_URL": "https://fk.example/"})
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert settings["PHOTO_DIR"] == "/srv/photos" and settings["BASE_URL"] == "https://fk.example"
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert config.load(str(tmp_path), {"SECRET_KEY": "s"})["SQLALCHEMY_DATABASE_URI"].endswith("fieldkit.db")


def test_create_user_and_token_from_the_command_line(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "ann@example.com", "--role", "tech", "--password", "long-enough"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["create-token", "ann@example.com"])
    token = result.stdout.strip()
    assert result.exit_code == 0 and token.startswith("fk_") and "\n" not in token
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["email"] == "ann@example.com" and me["role"] == "tech"


def test_client_user_needs_a_client_and_bad_input_is_refused(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["create-user", "c@example.com", "--role", "client", "--password", "long-enough"]
                         ).exit_code != 0
    assert runner.invoke(args=["create-user", "not-an-email", "--role", "pm", "--password", "long-enough"]
                         ).exit_code != 0
    assert runner.invoke(args=["create-user", "c@example.com", "--role", "client", "--client", "Acme",
                               "--password", "long-enough"]).exit_code == 0
    assert runner.invoke(args=["create-token", "nobody@example.com"]).exit_code != 0


def test_init_db_and_demo_are_safe_to_run_twice(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        assert runner.invoke(args=["init-db"]).exit_code == 0
        result = runner.invoke(args=["demo"])
        assert result.exit_code == 0, result.output
    assert "pm@example.com" in result.output
    with app.app_context():
        sites = db.session.execute(select(Site)).scalars().all()
        assert len(sites) == 2 and len({s.status for s in sites} | {s.score for s in sites}) >= 2
        assert db.session.execute(select(User).where(User.email == "client@example.com")).scalar_one().client
        assert any(s.disputed_count for s in sites)


def test_the_migrations_build_exactly_the_schema_the_models_describe(app):
    """A model changed without a migration would work in tests built from models and fail in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert differences == []


@pytest.mark.parametrize(("variable", "value", "setting", "expected"), [
    ("FIELDKIT_PHOTO_DECODES", "4", "PHOTO_DECODES", 4),
    ("FIELDKIT_PROXY_HOPS", "1", "PROXY_HOPS", 1),
])
def test_whole_number_settings_come_from_the_environment(tmp_path, variable, value, setting, expected):
    assert config.load(str(tmp_path), {"SECRET_KEY": "x", variable: value})[setting] == expected


@pytest.mark.parametrize(("variable", "value"), [("FIELDKIT_PHOTO_DECODES", "0"), ("FIELDKIT_PHOTO_DECODES", "two"),
                                                  ("FIELDKIT_PHOTO_DECODES", "99"), ("FIELDKIT_PROXY_HOPS", "6")])
def test_a_whole_number_setting_out_of_range_stops_start_up_naming_the_variable(tmp_path, variable, value):
    with pytest.raises(ConfigError, match=variable):
        config.load(str(tmp_path), {"SECRET_KEY": "x", variable: value})
