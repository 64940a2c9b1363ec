"""Admin pages: people, their roles and clients, their signed-in browsers and API tokens, and the checklist
templates in use."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from .. import access, accounts
from ..db import db
from ..errors import FieldKitError
from ..models import ROLES, Checklist, Client, User, utcnow

bp = Blueprint("admin", __name__, url_prefix="/admin")
# Checked in this order: Edge, Chrome and Firefox on iOS all also call themselves Safari, and Edge Chrome.
BROWSERS = (("Edg", "Edge"), ("CriOS/", "Chrome"), ("FxiOS/", "Firefox"), ("Firefox/", "Firefox"),
            ("Chrome/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
           ("Mac OS X", "Mac"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


@bp.app_template_filter("browser")
def browser_name(agent: str) -> str:
    """'Chrome on Android' for a User-Agent header, so an admin knows which device to sign out."""
    found = [next((name for key, name in names if key in agent), None) for names in (BROWSERS, SYSTEMS)]
    if all(found):
        return " on ".join(found)
    return agent[:60] or "unknown browser"


@bp.before_request
@login_required
def admins_only():
    access.require_role(current_user, ("admin",))


class UserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    name = StringField("Name", validators=[Length(max=200)])
    role = SelectField("Role", choices={role: role for role in ROLES})
    client = StringField("Client (for client users)", validators=[Optional(), Length(max=200)])
    password = PasswordField("Password (at least 8 characters)", validators=[DataRequired(), Length(min=8, max=200)])


@bp.route("/", methods=["GET", "POST"])
def people():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(db.session, form.email.data, form.role.data, form.password.data,
                                        form.client.data or None, form.name.data or "")
        except FieldKitError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(f"{user.email} can now sign in as {user.role}.", "ok")
            return redirect(url_for("admin.people"))
    users = db.session.execute(select(User).order_by(User.role, User.email)).scalars().all()
    clients = db.session.execute(select(Client).order_by(Client.name)).scalars().all()
    in_use = dict(db.session.execute(select(Checklist.template_key, func.count()).group_by(Checklist.template_key)).all())
    status = 400 if request.method == "POST" else 200
    now = utcnow()
    tokens = [(token, accounts.token_state(token, now)) for token in accounts.tokens_of(db.session, current_user)]
    return render_template("admin.html", form=form, users=users, clients=clients,
                           templates=current_app.extensions["templates"].values(), in_use=in_use, tokens=tokens,
                           browsers=accounts.list_sessions(db.session, now)), status


@bp.post("/users/<int:user_id>/active")
def toggle_active(user_id: int):
    form = FlaskForm()
    user = db.get_or_404(User, user_id)
    if form.validate_on_submit() and user.id != current_user.id:
        accounts.set_active(db.session, user, not user.active)
        db.session.commit()
        flash(f"{user.email} {'can sign in again' if user.active else 'can no longer sign in'}.", "ok")
    return redirect(url_for("admin.people"))


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    if FlaskForm().validate_on_submit():
        token = accounts.revoke_token(db.session, current_user, token_id)
        db.session.commit()
        flash(f"The token “{token.label or token.id}” of {token.user.email} no longer works.", "ok")
    return redirect(url_for("admin.people"))


@bp.post("/sessions/<int:session_id>/logout")
def end_browser_session(session_id: int):
    """Sign one browser out (a lost phone): its cookies stop working at once."""
    if FlaskForm().validate_on_submit():
        user = accounts.revoke_session(db.session, session_id)
        db.session.commit()
        flash(f"{user.email} is signed out of that browser.", "ok")
    return redirect(url_for("admin.people"))
