"""Sign-in and sign-out for people in a browser."""
import math
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .. import accounts
from ..db import db
from .errors import error_response, wants_json
from .extensions import limiter

bp = Blueprint("auth", __name__)

# Tries at the sign-in form (every try counts, right or wrong, before the password is looked at):
# - per client address: an office or a phone network shares one, so this one is generous;
# - per email from one address: the strict one, which stops guessing a person's password;
# - per email from anywhere: looser, so one address cannot lock a person out; it takes several at once.
# A test app may raise them through the LOGIN_LIMITS setting.
LOGIN_LIMITS = {"address": "20/minute;200/hour", "email_from_address": "5/minute;30/hour",
                "email": "10/minute;100/hour"}


def _limit(kind: str):
    return lambda: current_app.config.get("LOGIN_LIMITS", LOGIN_LIMITS)[kind]


def _email() -> str:
    return request.form.get("email", "").strip().lower()[:320] or "(none)"


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me signed in on this device", default=True)


def home_for(user) -> str:
    if user.role in ("pm", "admin"):
        return url_for("pages.board")
    if user.role == "tech":
        return "/field/"
    return url_for("pages.sites_list")


@bp.route("/login", methods=["GET", "POST"])
# Flask-Limiter takes the innermost limit first and stops at the first one used up, so a try refused for
# its address or its email-from-that-address never counts against the email from anywhere.
@limiter.limit(_limit("email"), methods=["POST"], key_func=lambda: "email " + _email(),
               error_message="Too many sign-in attempts for this email.")
@limiter.limit(_limit("email_from_address"), methods=["POST"],
               key_func=lambda: f"email {_email()} from {get_remote_address()}",
               error_message="Too many sign-in attempts for this email.")
@limiter.limit(_limit("address"), methods=["POST"], key_func=lambda: "address " + get_remote_address(),
               error_message="Too many sign-in attempts from your network.")
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    status = 400 if request.method == "POST" else 200
    if form.validate_on_submit():
        user = accounts.authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            accounts.start_session(db.session, user, bool(form.remember.data),
                                   request.headers.get("User-Agent", ""))
            db.session.commit()
            session.clear()  # a new session on sign-in: nothing of the previous one carries over
            login_user(user, remember=bool(form.remember.data))
            target = request.args.get("next", "")
            return redirect(target if _is_local(target) else home_for(user))
        flash("That email and password do not match an account.", "error")
    return render_template("login.html", form=form), status


@bp.errorhandler(RateLimitExceeded)
def too_many_tries(exc: RateLimitExceeded):
    breached = limiter.current_limit
    wait = max(1, math.ceil(breached.window.reset_time - time.time())) if breached else 60
    minutes = max(1, round(wait / 60))
    message = (f"{exc.description} Wait {minutes} minute{'s' * (minutes > 1)} and try again; "
               "until then the password is not checked.")
    if wants_json():
        return error_response(429, "too_many_requests", message, {"Retry-After": str(wait)})
    db.session.rollback()
    flash(message, "error")
    form = LoginForm(formdata=None, email=request.form.get("email", ""))  # filled in again, kept signed in ticked
    return render_template("login.html", form=form), 429, {"Retry-After": str(wait)}


@bp.post("/logout")
@login_required
def logout():
    accounts.end_session(db.session, current_user.login_session_id)
    db.session.commit()
    session.clear()
    logout_user()  # after clear(): it leaves the note that makes Flask-Login delete the remember-me cookie
    return redirect(url_for("auth.login"))


def _is_local(target: str) -> bool:
    # Browsers read "\" as "/" and drop tabs and newlines, so "/\evil.example" would leave the site.
    if not target.startswith("/") or "\\" in target or any(ord(c) < 32 for c in target):
        return False
    return not target.startswith("//") and not urlsplit(target).netloc
