"""Alembic environment: migrate the app's database from FieldKit's models (run through flask-migrate)."""
from alembic import context
from flask import current_app

db = current_app.extensions["migrate"].db


def run_migrations_online() -> None:
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("FieldKit migrations run against a live database: use `flask --app app init-db`.")
run_migrations_online()
