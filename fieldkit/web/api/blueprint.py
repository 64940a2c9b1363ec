"""The API's one blueprint and its one guard: every JSON route is registered on `bp`, so none can be open.

Who may call: a signed-in browser (its session cookie) or a script or phone with a bearer token. Browser
writes also prove they come from our own pages (CSRF), since a cookie is sent cross-site.
"""
from urllib.parse import urlsplit

from flask import Blueprint, g, request
from flask_login import current_user

from ...errors import FieldKitError, ValidationError, refuse_bad_text
from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)  # the guard checks the CSRF header itself: a phone's offline write may come hours later
WRITES = ("POST", "PUT", "PATCH", "DELETE")
MAX_DEPTH = 20  # API bodies nest a handful of levels; deeper is an attack or a bug


class LoginRequired(FieldKitError):
    """No session and no valid bearer token."""

    code = "login_required"
    status = 401


@bp.before_request
def authenticate_and_guard() -> None:
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
