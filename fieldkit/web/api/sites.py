"""The JSON API of API.md: parse, authorise, call the domain, answer."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .. import access, sites, sync
from ..db import db
from ..errors import FieldKitError, ValidationError, refuse_bad_text
from ..payloads import site_json
from .extensions import csrf
from .transactions import fresh

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)
WRITES = ("POST", "PUT", "PATCH", "DELETE")
MAX_DEPTH = 20  # API bodies nest a handful of levels; deeper is an attack or a bug


class LoginRequired(FieldKitError):
    """No session and no valid bearer token."""

    code = "login_required"
    status = 401


@bp.before_request
def authenticate_and_guard():
    if not current_user.is_authenticated:
        raise LoginRequired("Sign in, or send 'Authorization: Bearer <token>'.")
    if request.method in WRITES and not g.get("bearer"):
        _check_browser_write()


def _check_browser_write() -> None:
    """Browser writes carry the CSRF token, or the field app's header from our own origin.

    The field app's offline changes may be sent hours later, after a CSRF token would have expired:
    a custom header cannot be sent cross-site without a CORS preflight we never allow, and the
    Origin / Sec-Fetch-Site check refuses requests made by other sites.
    """
    if request.headers.get("X-CSRFToken"):
        csrf.protect()
        return
    if request.headers.get("X-FieldKit-Client") and _same_origin():
        return
    raise ValidationError("Browser requests must carry the X-CSRFToken header.", "csrf")


def _same_origin() -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc == request.host


def body(each_part_alone: bool = False) -> dict:
    """The JSON object sent; refused whole when it holds text no column can store (see errors.text_problem),
    unless the caller checks each part alone (a sync refuses one mutation, not its whole batch)."""
    too_deep = ValidationError(f"The JSON is nested more than {MAX_DEPTH} levels deep.", "bad_json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # thousands of nested brackets
        raise too_deep from None
    if data is None:
        raise ValidationError("The body must be JSON (Content-Type: application/json).", "bad_json")
    if _deeper_than(data, MAX_DEPTH):
        raise too_deep
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object ({...}).", "bad_body")
    if not each_part_alone:
        refuse_bad_text(data)
    return data


def _deeper_than(value, limit: int) -> bool:
    todo = [(value, 1)]
    while todo:
        value, level = todo.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is not None:
            if level > limit:
                return True
            todo.extend((child, level + 1) for child in children)
    return False


@bp.get("/templates")
def templates():
    return jsonify([
        {"key": t.key, "title": t.title, "version": t.version, "description": t.description,
         "threshold": t.threshold, "items": [spec.__dict__ | {"depends_on": list(spec.depends_on)}
                                              for spec in t.items]}
        for t in current_app.extensions["templates"].values()
    ])


@bp.post("/sites")
def create_site():
    access.require_role(current_user, access.MANAGER_ROLES)
    site = sites.create_site(db.session, body(), current_app.extensions["templates"])
    db.session.commit()
    return jsonify(site_json(site)), 201


@bp.get("/sites")
def list_sites():
    rows = sites.load_for_board(db.session, access.visible_sites(current_user))
    fresh(rows)
    return jsonify([site_json(site) for site in rows])


@bp.get("/sites/<int:site_id>")
def get_site(site_id: int):
    site = access.site_for(db.session, current_user, site_id)
    return jsonify({**site_json(site), "readiness": site.readiness})


@bp.get("/sites/<int:site_id>/bundle")
def bundle(site_id: int):
    site = access.field_site_for(db.session, current_user, site_id)
    fresh([site])
    return jsonify(sync.bundle(db.session, site))


@bp.post("/sync")
def sync_batch():
    return jsonify(sync.apply_batch(db.session, current_user, body(each_part_alone=True)))


@bp.get("/sites/<int:site_id>/readiness")
def readiness(site_id: int):
    site = access.site_for(db.session, current_user, site_id)
    fresh([site])  # kept fresh by every write; dates move on overnight
    return jsonify(site.readiness)


@bp.get("/board")
def board():
    access.require_role(current_user, access.MANAGER_ROLES)
    return jsonify(sites.board(db.session, fresh(sites.load_for_board(db.session))))


@bp.post("/items/<int:item_id>/resolve")
def resolve(item_id: int):
    data = body()
    item = sync.resolve_dispute(db.session, current_user, item_id, data.get("status"), data.get("note"))
    return jsonify({"id": item.id, "status": item.status, "rev": item.rev, "disputed": item.disputed})


@bp.get("/me")
def me():
    # The field app's shell is cached HTML with no token in it: it asks here before a form post (sign out).
    return jsonify({"id": current_user.id, "email": current_user.email, "role": current_user.role,
                    "name": current_user.display_name, "csrf_token": generate_csrf()})

