"""API tokens over the API: list, create, revoke. A person manages their own; an admin everyone's."""
from flask import g, jsonify, request
from flask_login import current_user

from ... import accounts
from ...db import db
from ...errors import Forbidden, NotFound
from .blueprint import body, bp


@bp.get("/tokens")
def list_tokens():
    """The caller's tokens; an admin sees every token, or one person's with ?email=."""
    return jsonify([accounts.token_json(row) for row in
                    accounts.tokens_of(db.session, current_user, request.args.get("email"))])


@bp.post("/tokens")
def create_token():
    """`{"label"?, "days"?, "email"?}` -> 201 with the token, shown this once."""
    if g.get("bearer"):
        # A token that could make tokens would outlive its own expiry and revocation.
        raise Forbidden("Create tokens from a signed-in browser or the command line, not with a token.")
    data = body()
    user = current_user
    if data.get("email") not in (None, current_user.email):
        if current_user.role != "admin":
            raise Forbidden("Only an admin makes tokens for someone else.")
        user = accounts.find_user(db.session, str(data["email"]))
        if user is None:
            raise NotFound(f"There is no user {data['email']}.")
    row, token = accounts.issue_token(db.session, user, data.get("label") or "", data.get("days"))
    db.session.commit()
    return jsonify({**accounts.token_json(row), "token": token}), 201


@bp.delete("/tokens/<int:token_id>")
@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    row = accounts.revoke_token(db.session, current_user, token_id)
    db.session.commit()
    return jsonify(accounts.token_json(row))
