"""Sign-in and sign-out for people in a browser."""
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from ..accounts import TooManyTries, authenticate
from ..db import db

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


def home_for(user) -> str:
    if user.role in ("pm", "admin"):
        return url_for("pages.board")
    if user.role == "tech":
        return "/field/"
    return url_for("pages.sites_list")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    status = 400 if request.method == "POST" else 200
    if form.validate_on_submit():
        try:
            user = authenticate(db.session, form.email.data, form.password.data)
        except TooManyTries as exc:
            flash(exc.message, "error")
            return render_template("login.html", form=form), exc.status
        db.session.commit()  # the count of wrong passwords, or its end
        if user is not None:
            session.clear()  # a new session on sign-in: nothing of the previous one carries over
            login_user(user)
            target = request.args.get("next", "")
            return redirect(target if _is_local(target) else home_for(user))
        flash("That email and password do not match an account.", "error")
    return render_template("login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def _is_local(target: str) -> bool:
    # Browsers read "\" as "/" and drop tabs and newlines, so "/\evil.example" would leave the site.
    if not target.startswith("/") or "\\" in target or any(ord(c) < 32 for c in target):
        return False
    return not target.startswith("//") and not urlsplit(target).netloc
