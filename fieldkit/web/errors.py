"""One JSON error shape for the API, friendly HTML pages for people; a 5xx is always a bug."""
from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..db import db
from ..errors import FieldKitError, refuse_bad_text

CODES = {400: "bad_request", 401: "login_required", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type", 429: "too_many_requests"}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, code: str, message: str, headers: dict | None = None):
    db.session.rollback()
    if wants_json():
        return jsonify({"error": {"code": code, "message": message}}), status, headers or {}
    return render_template("error.html", status=status, message=message), status, headers or {}


# Pages load only this origin's own scripts and styles, and no other site may frame them (a sign-off
# page inside someone else's frame could be clicked through). Inline style attributes carry data such as
# a score bar's width; no inline script runs.
PAGE_POLICY = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
               "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.before_request
    def refuse_bad_text_in_what_was_typed():
        # JSON bodies are checked by the API (a sync refuses one mutation, not its whole batch); uploads
        # check their own fields, and are not parsed here before the sender is known.
        typed = request.form.items(multi=True) if request.mimetype == "application/x-www-form-urlencoded" else ()
        refuse_bad_text([request.path, list(request.args.items(multi=True)), list(typed)])

    @app.errorhandler(FieldKitError)
    def domain_error(exc: FieldKitError):
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(400, "csrf", "The form or request is missing its security token; reload and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        messages = {404: "There is nothing here.", 405: "That method is not allowed here.",
                    413: "The upload is larger than the 25 MiB limit."}
        message = messages.get(exc.code) or exc.description or exc.name
        # Allow (405) and Retry-After (429, 503) tell a script what to do next: keep them.
        kept = {name: value for name, value in exc.get_headers() if name in ("Allow", "Retry-After")}
        return error_response(exc.code or 400, CODES.get(exc.code, "bad_request"), message, kept)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("Unhandled error")
        return error_response(500, "internal", "Something went wrong on our side; the error was logged.")
