"""Command line: init-db, demo, create-user, create-token (API.md)."""
import click
from flask import Flask, current_app
from flask_migrate import upgrade
from sqlalchemy import inspect, select

from . import accounts, demo
from .db import db
from .errors import FieldKitError
from .models import Counter, User


def init_db() -> None:
    """Create or upgrade the schema to the newest migration; safe to run twice."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    if db.session.get(Counter, "sync") is None:
        db.session.add(Counter(name="sync", value=0))
    db.session.commit()


def prepare_for_first_run(app: Flask) -> None:
    """`python app.py`: make the schema, and load the demo data when the database has no users."""
    with app.app_context():
        init_db()
        if db.session.execute(select(User.id).limit(1)).first() is None:
            click.echo(demo.load(db.session, app.extensions["templates"]))
        else:
            click.echo("FieldKit on http://127.0.0.1:5000 (demo logins: see README).")


def init_app(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db_command():
        """Create or upgrade the database schema."""
        init_db()
        click.echo(f"Database ready: {inspect(db.engine).get_table_names().__len__()} tables.")

    @app.cli.command("demo")
    def demo_command():
        """Load the demo client, sites and users (safe to run twice)."""
        init_db()
        click.echo(demo.load(db.session, app.extensions["templates"]))

    @app.cli.command("create-user")
    @click.argument("email")
    @click.option("--role", required=True, type=click.Choice(["admin", "pm", "tech", "client"]))
    @click.option("--client", "client_name", help="The client a client user belongs to.")
    @click.option("--password", help="Asked for when not given.")
    @click.option("--name", default="", help="Display name.")
    def create_user_command(email, role, client_name, password, name):
        """Create a user, or update the role, client or password of an existing one."""
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            user = accounts.create_user(db.session, email, role, password, client_name, name)
        except FieldKitError as exc:
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(f"{user.email} is a {user.role}.", err=True)

    @app.cli.command("create-token")
    @click.argument("email")
    def create_token_command(email):
        """Print one new API token for the user (and nothing else on stdout)."""
        try:
            token = accounts.create_token(db.session, email, label="cli")
        except FieldKitError as exc:
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(token)
