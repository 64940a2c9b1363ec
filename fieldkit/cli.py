"""Command line: init-db, demo, create-user, create-token (API.md); list-tokens, revoke-token; worker."""
import signal

import click
from flask import Flask, current_app
from flask_migrate import upgrade
from sqlalchemy import inspect, select

from . import accounts, dates, demo, notify
from .access import MAX_ID
from .db import db
from .errors import FieldKitError
from .models import Counter, User
from .web import webhooks

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


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
            logins = demo.load(db.session, app.extensions["templates"])
            db.session.commit()
            click.echo(logins)
        else:
            click.echo("FieldKit on http://127.0.0.1:5000 (demo logins: see README).")


def send_webhooks_until_stopped(app: Flask, poll: float) -> None:
    """Send due webhooks from a thread until SIGTERM or SIGINT, then finish the attempt in flight and return.

    The signals are blocked (the thread inherits that) and taken by sigwait, so no handler runs in the middle
    of a send or a database call; a second signal, once unblocked, stops at once.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    worker = notify.Worker(lambda stop: webhooks.deliver_round(app, stop), poll)
    worker.start()
    click.echo(f"Sending webhooks (looking every {poll:g} s); SIGTERM or Ctrl-C stops.", err=True)
    signal.sigwait(STOP_SIGNALS)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    click.echo("Stopping after the attempt in flight.", err=True)
    worker.stop(timeout=None)


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
        logins = demo.load(db.session, app.extensions["templates"])
        db.session.commit()
        click.echo(logins)

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
    @click.option("--label", default="command line", help="What the token is for, shown in lists.")
    @click.option("--days", type=int, default=accounts.TOKEN_DAYS, show_default=True,
                  help=f"Days until the token stops working (1 to {accounts.MAX_TOKEN_DAYS}).")
    def create_token_command(email, label, days):
        """Print one new API token for the user (and nothing else on stdout)."""
        try:
            token = accounts.create_token(db.session, email, label=label, days=days)
        except FieldKitError as exc:
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(token)

    @app.cli.command("list-tokens")
    @click.argument("email")
    def list_tokens_command(email):
        """List a user's API tokens: id, state, label, created, last used, expires."""
        user = accounts.find_user(db.session, email)
        if user is None:
            raise click.ClickException(f"No user with email {email}.")
        rows = accounts.tokens_of(db.session, user)
        click.echo(f"{'id':>6}  {'state':8} {'created':17} {'last used':17} {'expires':17} label")
        for row in rows:
            used = dates.moment(row.last_used_at, zone=False) if row.last_used_at else "never"
            click.echo(f"{row.id:>6}  {accounts.token_state(row):8} {dates.moment(row.created_at, zone=False):17} "
                       f"{used:17} {dates.moment(row.expires_at, zone=False):17} {row.label}")
        if not rows:
            click.echo(f"{user.email} has no tokens.", err=True)

    @app.cli.command("revoke-token")
    @click.argument("token_id", type=click.IntRange(1, MAX_ID))
    def revoke_token_command(token_id):
        """Stop one API token at once (its id is in list-tokens)."""
        try:
            row = accounts.revoke_token(db.session, None, token_id)
        except FieldKitError as exc:
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(f"Token {row.id} ({row.label or 'no label'}) of {row.user.email} no longer works.", err=True)

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Send what is due now, then exit (for cron and tests).")
    @click.option("--poll", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True,
                  help="Seconds between looks for due webhooks.")
    def worker_command(once, poll):
        """Send webhooks from the delivery table (run beside the app with FIELDKIT_WEBHOOK_WORKER=external)."""
        if not once:
            send_webhooks_until_stopped(app, poll)
            return
        attempted = 0
        while round_attempted := webhooks.deliver_round(app):
            attempted += round_attempted
        click.echo(f"{attempted} webhook attempts made.", err=True)
