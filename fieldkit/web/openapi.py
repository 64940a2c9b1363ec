"""The OpenAPI 3.1 description of every JSON route, served at GET /api/openapi.json (public, cacheable).

Kept as data in one place: small helpers make the shared pieces (the error shape, id parameters, the
answers every route can give), and limits are the code's own constants, so the description cannot quote
an old number. tests/test_openapi.py fails when a route is missing here, when a real answer does not match,
or when docs/API.md does not name a path.
"""
import json

from flask import Blueprint, Response, current_app, request

from .. import access, accounts, checklists, dates, inventory, photos, readiness, signoff, sites, sync, tags
from ..config import MiB
from ..models import ASSET_STATUSES, ITEM_STATUSES

bp = Blueprint("openapi", __name__)

CONTRACT, EXTENSION = "shared contract", "FieldKit extension"
VERDICTS = ("GO", "AT_RISK", "NO_GO")
ROLES = ("admin", "pm", "tech", "client")
READ_AUTH = [{"bearer": []}, {"session": []}]
WRITE_AUTH = [{"bearer": []}, {"session": [], "csrf": []}]
ERRORS = {  # status -> (component name, when it is answered)
    400: ("BadRequest", "The request is not acceptable; `code` says why and `message` says it in words."),
    401: ("LoginRequired", "No session and no valid bearer token (an expired or revoked token too)."),
    403: ("Forbidden", "The caller's role does not allow this."),
    404: ("NotFound", "No such thing, or one the caller may not know exists (another client's site)."),
    409: ("Conflict", "The request clashes with what is stored (a photo id used for another photo)."),
    413: ("TooLarge", "The body is over the size limit, or a stated limit is reached."),
    415: ("UnsupportedMedia", "The upload is not one of the accepted kinds."),
    429: ("TooManyRequests", "Busy: send again after `Retry-After` seconds."),
}


# --------------------------------------------------------------------------- small helpers


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict, optional: dict | None = None, **keywords) -> dict:
    """An object whose `required` properties are always there and `optional` ones sometimes."""
    schema = {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}
    return schema | keywords


def nullable(schema: dict) -> dict:
    if "type" in schema and isinstance(schema["type"], str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: dict, **keywords) -> dict:
    return {"type": "array", "items": items} | keywords


def text(max_length: int | None = None, **keywords) -> dict:
    return {"type": "string"} | ({"maxLength": max_length} if max_length is not None else {}) | keywords


def whole(minimum: int = 0, maximum: int | None = None) -> dict:
    return {"type": "integer", "minimum": minimum} | ({"maximum": maximum} if maximum is not None else {})


def typed(max_length: int | None = None, **keywords) -> dict:
    """Text in a request: no NUL character, which no database stores (refused as 400 `bad_text`)."""
    return text(max_length, pattern="^[^\\x00]*$", **keywords)


STRING, BOOL, NUMBER, COUNT = text(), {"type": "boolean"}, {"type": "number"}, whole()
ID = whole(1, access.MAX_ID)
REV = whole(0, access.MAX_ID)
UUID = {"type": "string", "format": "uuid"}
DAY = {"type": "string", "format": "date"}
# Move-in and due dates lie in one century (tests/test_openapi.py checks the pattern against the code's range).
CALENDAR_DAY = {"type": "string", "pattern": f"^{dates.FIRST_DAY.year // 100}[0-9]{{2}}-(0[1-9]|1[0-2])-[0-3][0-9]$",
                "description": f"YYYY-MM-DD from {dates.FIRST_DAY.year} to {dates.LAST_DAY.year}."}
MOMENT = {"type": "string", "format": "date-time"}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
SCORE = whole(0, 100)


def path_id(name: str, what: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": f"The {what}'s id.",
            "schema": {**ID, "examples": [1]}}


def error(status: int) -> dict:
    return {"$ref": f"#/components/responses/{ERRORS[status][0]}"}


def json_answer(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def op(summary: str, answers: dict, *statuses: int, tag: str = EXTENSION, body: dict | None = None,
       parameters: list | None = None, who: str = "any signed-in person", writes: bool = False) -> dict:
    """One operation: its answers by status, the shared error answers for `statuses`, who may call it.

    Every route may answer 400 (a NUL in the path or query is refused before anything else) and 401."""
    operation = {"summary": summary, "description": f"Who: {who}.", "tags": [tag],
                 "security": WRITE_AUTH if writes else READ_AUTH,
                 "responses": {**{str(code): answer for code, answer in answers.items()},
                               **{str(code): error(code) for code in sorted({400, 401, *statuses})}}}
    if body is not None:
        operation["requestBody"] = body
    if parameters:
        operation["parameters"] = parameters
    return operation


# --------------------------------------------------------------------------- the shapes


def schemas(template_keys: list[str]) -> dict:
    """Every shape of a request or an answer, by name."""
    error = obj({"code": text(description="A stable machine word, e.g. `bad_json`, `not_found`."),
                 "message": text(description="A sentence for a person.")})
    measurements = {"type": "object", "additionalProperties": NUMBER,
                    "description": "Readings by name, e.g. `{\"download_mbps\": 612}`."}
    thresholds = {"type": "object", "description": "By measurement name; each has `min` or `max`.",
                  "additionalProperties": {"oneOf": [obj({bound: NUMBER, "unit": STRING, "label": STRING})
                                                     for bound in ("min", "max")]}}
    site = {
        "id": ID, "name": STRING, "client": STRING, "address": STRING, "move_in": DAY, "rooms": array(STRING, uniqueItems=True),
        "technicians": array(STRING, description="Emails of the technicians assigned."),
        "checklists": array(obj({"id": ID, "template": STRING, "version": whole(), "title": STRING})),
        "status": ref("Verdict"), "score": SCORE, "blockers": COUNT, "disputed": COUNT, "summary": STRING,
        "signed_off_at": nullable(MOMENT), "changed_after_signoff": BOOL,
        "seq": whole(0, sync.MAX_SEQ),
    }
    item = obj({
        "id": ID, "site_id": ID, "key": STRING, "title": STRING, "guidance": STRING, "category": STRING,
        "severity": {"enum": list(checklists.SEVERITIES)}, "status": {"enum": list(ITEM_STATUSES)},
        "note": STRING, "measurements": measurements, "thresholds": thresholds, "photos_required": COUNT,
        "depends_on": array(ID, description="Ids of the items this one waits for."),
        "due": nullable(DAY), "room": nullable(STRING), "rev": REV, "disputed": BOOL,
        "asset_kind": nullable(STRING), "assets_required": COUNT, "position": COUNT, "updated_at": MOMENT,
    }, {"photos": {**COUNT, "description": "Photos it has (in a bundle)."},
        "assets": {**COUNT, "description": "Assets it has (in a bundle, when it counts assets)."},
        "state": {"enum": ["ready", "not_ready", "failed", "disputed", "na"], "description": "In a bundle."},
        "reasons": array(STRING, description="In a bundle: why it is not ready, in plain sentences.")})
    asset = {"id": UUID, "site_id": ID, "tag": STRING, "kind": {"enum": list(checklists.ASSET_KINDS)},
             "make": STRING, "model": STRING, "serial": STRING, "mac": STRING, "room": STRING,
             "status": {"enum": list(ASSET_STATUSES)}, "item_id": nullable(ID), "rev": REV}
    photo = obj({"id": UUID, "site_id": ID, "item_id": nullable(ID), "asset_id": nullable(UUID),
                 "sha256": SHA256, "width": whole(1), "height": whole(1), "captured_at": nullable(MOMENT),
                 "url": STRING, "thumb_url": STRING})
    change = {"oneOf": [obj({"type": {"const": kind}, "id": key, "seq": whole(1, sync.MAX_SEQ), "data": shape})
                        for kind, key, shape in (("item", ID, ref("Item")), ("asset", UUID, ref("Asset")),
                                                 ("photo", UUID, ref("Photo")), ("site", ID, ref("Site")))]}
    item_update = obj({
        "id": UUID, "type": {"const": "item.update"}, "item_id": ID, "base_rev": REV,
        "set": obj({}, {"status": {"enum": list(ITEM_STATUSES)}, "note": typed(sync.NOTE_LIMIT),
                        "measurements": {**measurements, "maxProperties": sync.MAX_MEASUREMENTS,
                                         "propertyNames": typed(sync.MEASUREMENT_NAME_LIMIT, minLength=1)},
                        "due": nullable(CALENDAR_DAY)}, minProperties=1)})
    asset_upsert = obj({
        "id": UUID, "type": {"const": "asset.upsert"}, "asset_id": UUID, "site_id": ID,
        "set": obj({}, {"kind": {"enum": list(checklists.ASSET_KINDS)}, "tag": typed(tags.LENGTH),
                        **{name: typed(inventory.TEXT_LIMIT) for name in ("make", "model", "serial", "room")},
                        "mac": typed(), "status": {"enum": list(ASSET_STATUSES)}, "item_id": nullable(ID)},
                   minProperties=1)}, {"base_rev": REV})
    template_item = obj({
        "key": STRING, "title": STRING, "category": STRING, "severity": {"enum": list(checklists.SEVERITIES)},
        "guidance": STRING, "client_text": nullable(STRING), "photos": COUNT, "due_days": nullable({"type": "integer"}),
        "depends_on": array(STRING, description="Keys of the items it waits for."), "per_room": BOOL,
        "asset_kind": nullable(STRING), "assets": COUNT, "thresholds": thresholds})
    token = {"id": ID, "label": STRING, "user": STRING, "created_at": MOMENT, "last_used_at": nullable(MOMENT),
             "expires_at": MOMENT, "revoked_at": nullable(MOMENT), "state": {"enum": ["active", "expired", "revoked"]}}
    exception = obj({"item_id": ID, "title": STRING, "room": nullable(STRING), "category": STRING,
                     "severity": {"enum": list(checklists.SEVERITIES)},
                     "status": {"enum": [*ITEM_STATUSES, "disputed"]}, "problems": array(STRING)})
    return {
        "Error": obj({"error": error}),
        "ErrorDetail": error,
        "Verdict": {"enum": list(VERDICTS)},
        "Site": obj(site),
        "SiteWithReadiness": obj({**site, "readiness": ref("Readiness")}),
        "NewSite": obj({"name": typed(200, minLength=1), "client": typed(200, minLength=1), "move_in": CALENDAR_DAY,
                        "template": {"enum": template_keys} if template_keys else typed()},
                       {"rooms": array(typed(), maxItems=sites.MAX_ROOMS), "address": nullable(typed(500)),
                        "technicians": array(typed(), description="Emails of technicians' logins.")}),
        "Readiness": obj({
            "status": ref("Verdict"), "score": SCORE,
            "blockers": array(obj({"item_id": ID, "title": STRING, "reason": STRING})),
            "categories": {"type": "object", "additionalProperties": obj({
                "ready": COUNT, "applicable": COUNT, "score": SCORE, "failed": COUNT, "disputed": COUNT})},
            "summary": STRING, "reasons": array(STRING), "headline": STRING, "forecast": STRING,
            "disputed": COUNT, "overdue": COUNT, "failed_blockers": array(ID)},
            {"items": {"type": "object", "description": "Each item's state, by item id (as text).",
                       "propertyNames": {"pattern": "^[1-9][0-9]*$"}, "additionalProperties": ref("ItemState")}}),
        "ItemState": obj({"applicable": BOOL, "ready": BOOL, "failed": BOOL,
                          "open": {**BOOL, "description": "Applicable and not ready."},
                          "reasons": array(ref("Reason"), description="Why it is not ready; none when it is.")}),
        "Reason": obj({"kind": {"enum": list(readiness.REASON_KINDS)}, "text": STRING},
                      {"count": {**whole(1), "description": "How many photos or assets are missing."},
                       "ids": array(ID, description="The items it waits for."),
                       "name": {**STRING, "description": "The measurement."}}),
        "Item": item,
        "Asset": obj(asset),
        "AssetWithPhotos": obj({**asset, "site_name": STRING, "label_url": STRING, "photos": array(ref("Photo"))}),
        "Photo": photo,
        "Bundle": obj({"site": ref("SiteWithReadiness"), "items": array(ref("Item")), "assets": array(ref("Asset")),
                       "photos": array(ref("Photo")), "cursor": whole(0, sync.MAX_SEQ)}),
        "ItemUpdate": item_update,
        "AssetUpsert": asset_upsert,
        "SyncRequest": obj({"device_id": typed(100, minLength=1)},
                           {"cursor": whole(0, sync.MAX_SEQ),
                            "mutations": array({"oneOf": [ref("ItemUpdate"), ref("AssetUpsert")]},
                                               maxItems=sync.MAX_BATCH)}),
        "SyncAnswer": obj({
            "acks": array(obj({"id": nullable(STRING),
                               "status": {"enum": ["applied", "duplicate", "conflict", "rejected"]}},
                              {"error": ref("ErrorDetail")})),
            "changes": array(change), "cursor": whole(0, sync.MAX_SEQ),
            "more": {**BOOL, "description": "Another pull from `cursor` is needed."}}),
        "BoardEntry": obj({
            "site_id": ID, "name": STRING, "client": STRING, "move_in": DAY, "days_to_move_in": {"type": "integer"},
            "status": ref("Verdict"), "score": SCORE, "blockers": COUNT, "disputed": COUNT, "overdue": COUNT,
            "last_sync": {"type": "object", "additionalProperties": MOMENT,
                          "description": "By technician's email: when their device last synced the site."},
            "top_reason": STRING, "signed_off": BOOL, "changed_after_signoff": BOOL}),
        "Template": obj({"key": STRING, "title": STRING, "version": whole(), "description": STRING,
                         "threshold": SCORE, "items": array(template_item)}),
        "Me": obj({"id": ID, "email": STRING, "role": {"enum": list(ROLES)}, "name": STRING,
                   "csrf_token": text(description="For `X-CSRFToken` on browser writes.")}),
        "Resolve": obj({"status": {"enum": list(ITEM_STATUSES)}}, {"note": typed(sync.NOTE_LIMIT)}),
        "Resolved": obj({"id": ID, "status": {"enum": list(ITEM_STATUSES)}, "rev": REV, "disputed": BOOL}),
        "Token": obj(token),
        "NewToken": obj({}, {"label": nullable(typed(200)), "days": nullable(whole(1, accounts.MAX_TOKEN_DAYS)),
                             "email": typed(description="Whose token (an admin only).")}),
        "IssuedToken": obj({**token, "token": text(description="The token itself, shown this once.")}),
        "ImportReport": obj({"created": COUNT, "updated": COUNT, "rejected": COUNT,
                             "ignored_columns": array(STRING),
                             "rows": array(obj({"row": whole(1), "status": {"enum": ["created", "updated", "rejected"]},
                                                "tag": nullable(STRING), "problems": array(STRING)}))}),
        "PhotoUpload": obj({"file": {"type": "string", "contentMediaType": "application/octet-stream"},
                            "id": UUID, "site_id": ID},
                           {"item_id": ID, "asset_id": UUID, "captured_at": MOMENT}),
        "PhotoStored": obj({"id": UUID, "sha256": SHA256, "width": whole(1), "height": whole(1)},
                           {"asset_id": UUID, "asset_tag": STRING,
                            "linked_by_qr": {**BOOL, "description": "The asset was found by its QR label."}}),
        "SignoffRequest": obj({"name": typed(signoff.NAME_LIMIT, minLength=1),
                               "signature": text(pattern=f"^{signoff.SIGNATURE_PREFIX}")},
                              {"accept": array(ID, maxItems=signoff.MAX_ACCEPT)}),
        "Signed": obj({"id": ID, "sha256": SHA256, "signed_at": MOMENT, "verify_url": STRING,
                       "record_url": STRING}),
        "SignoffState": obj({"status": ref("Verdict"), "score": SCORE, "exceptions": array(exception),
                             "changed_after_signoff": BOOL,
                             "signoffs": array(obj({"id": ID, "sha256": SHA256, "name": STRING,
                                                    "signed_at": MOMENT}))}),
        "Verification": obj({"valid": BOOL, "sha256": SHA256, "id": ID, "site_id": ID, "signed_at": MOMENT,
                             "name": STRING}),
        "OpenAPI": obj({"openapi": STRING, "info": {"type": "object"}, "paths": {"type": "object"}},
                       {"components": {"type": "object"}, "tags": array({"type": "object"})}),
    }


def paths() -> dict:
    """Every JSON route by path and method (the routes under /api that answer files say so)."""
    site_id, item_id = path_id("site_id", "site"), path_id("item_id", "item")
    photo_id = {"name": "photo_id", "in": "path", "required": True, "schema": UUID}
    token_id, signoff_id = path_id("token_id", "token"), path_id("signoff_id", "sign-off")
    manager, field, seer = "pm, admin", "tech (their sites), pm, admin", "who may see the site"
    image = {"description": "The image, metadata stripped; cached for good (it never changes).",
             "content": {"image/jpeg": {}, "image/png": {}}}
    unchanged = {"description": "Not modified (`If-None-Match` named this version)."}
    return {
        "/api/openapi.json": {"get": {
            "summary": "This description", "tags": [EXTENSION], "security": [],
            "description": "Public, no sign-in. Cacheable: `ETag` and `Cache-Control: public`.",
            "responses": {"200": json_answer(ref("OpenAPI")), "304": unchanged, "400": error(400)}}},
        "/api/templates": {"get": op("The checklist templates", {200: json_answer(array(ref("Template")))},
                                     tag=CONTRACT)},
        "/api/sites": {
            "get": op("The sites the caller may see", {200: json_answer(array(ref("Site")))}, tag=CONTRACT),
            "post": op("Create a site; a client name not seen before creates that client",
                       {201: json_answer(ref("Site"), "Created")}, 403, 413, tag=CONTRACT, who=manager,
                       body=json_body(ref("NewSite")), writes=True)},
        "/api/sites/{site_id}": {"get": op("The site with its stored readiness",
                                           {200: json_answer(ref("SiteWithReadiness"))}, 404, who=seer,
                                           parameters=[site_id])},
        "/api/sites/{site_id}/bundle": {"get": op(
            "All a phone needs to work on the site offline", {200: json_answer(ref("Bundle"))}, 403, 404,
            tag=CONTRACT, who=field, parameters=[site_id])},
        "/api/sync": {"post": op(
            f"Apply up to {sync.MAX_BATCH:,} mutations, each at most once, then pull changes since `cursor`",
            {200: json_answer(ref("SyncAnswer"), "Each mutation acknowledged; a refused one is rejected alone.")},
            403, 413, tag=CONTRACT, who=field, body=json_body(ref("SyncRequest")), writes=True)},
        "/api/sites/{site_id}/readiness": {"get": op(
            "The go-live verdict, explained", {200: json_answer(ref("Readiness"))}, 404, tag=CONTRACT, who=seer,
            parameters=[site_id])},
        "/api/board": {"get": op("Every site by risk", {200: json_answer(array(ref("BoardEntry")))}, 403,
                                 tag=CONTRACT, who=manager)},
        "/api/items/{item_id}/resolve": {"post": op(
            "Decide a disputed item", {200: json_answer(ref("Resolved"))}, 403, 404, 413, who=manager,
            body=json_body(ref("Resolve")), parameters=[item_id], writes=True)},
        "/api/me": {"get": op("Who is signed in, with a CSRF token for the cached field app",
                              {200: json_answer(ref("Me"))})},
        "/api/tokens": {
            "get": op("API tokens: the caller's own; an admin's: everyone's, or one person's with `email`",
                      {200: json_answer(array(ref("Token")))},
                      parameters=[{"name": "email", "in": "query", "required": False, "schema": typed()}]),
            "post": op("Make an API token (from a signed-in browser: with a bearer token it is 403)",
                       {201: json_answer(ref("IssuedToken"), "Created; the token is shown this once")},
                       403, 404, 413, body=json_body(ref("NewToken")), writes=True,
                       who="any signed-in person for themselves, an admin for anyone")},
        "/api/tokens/{token_id}": {"delete": op(
            "Revoke a token (again: no change)", {200: json_answer(ref("Token"))}, 404,
            who="the token's owner, admin", parameters=[token_id], writes=True)},
        "/api/tokens/{token_id}/revoke": {"post": op(
            "Revoke a token (again: no change)", {200: json_answer(ref("Token"))}, 404,
            who="the token's owner, admin", parameters=[token_id], writes=True)},
        "/api/assets/{tag}": {"get": op(
            "The asset a tag names (typed or scanned: case, spaces and dashes are forgiven)",
            {200: json_answer(ref("AssetWithPhotos"))}, 404, tag=CONTRACT, who=seer,
            parameters=[{"name": "tag", "in": "path", "required": True,
                         "schema": typed(examples=["K7MX2QE"])}])},
        "/api/sites/{site_id}/assets": {"get": op(
            "The site's assets, in room order", {200: json_answer(array(ref("Asset")))}, 404, who=seer,
            parameters=[site_id])},
        "/api/sites/{site_id}/assets.csv": {
            "get": op("The site's assets as CSV (formula-safe)",
                      {200: {"description": "CSV, one asset a row", "content": {"text/csv": {"schema": STRING}}}},
                      404, who=seer, parameters=[site_id]),
            "post": op(f"Import a delivery list (at most {inventory.MAX_CSV_BYTES // MiB} MiB, "
                       f"{inventory.MAX_CSV_ROWS:,} rows, {inventory.MAX_CSV_COLUMNS} columns)",
                       {200: json_answer(ref("ImportReport"), "What became of each row")}, 403, 404, 413,
                       who=manager, parameters=[site_id], writes=True, body={"required": True, "content": {
                           "text/csv": {"schema": STRING},
                           "multipart/form-data": {"schema": obj({"file": {
                               "type": "string", "contentMediaType": "text/csv"}})}}})},
        "/api/photos": {"post": op(
            f"Upload photo evidence (JPEG, PNG, WebP, HEIC; {photos.MAX_PIXELS // 1_000_000} million pixels, "
            f"{photos.MAX_PHOTOS_PER_SITE:,} a site)",
            {201: json_answer(ref("PhotoStored"), "Stored"),
             200: json_answer(ref("PhotoStored"), "Already stored: the same id and file again")},
            403, 404, 409, 413, 415, 429, tag=CONTRACT, who=field, writes=True,
            body={"required": True, "content": {"multipart/form-data": {"schema": ref("PhotoUpload")}}})},
        "/api/photos/{photo_id}": {"get": op("The stored photo", {200: image, 304: unchanged}, 404, tag=CONTRACT,
                                             who=seer, parameters=[photo_id])},
        "/api/photos/{photo_id}/thumb": {"get": op(
            "The photo's thumbnail", {200: {**image, "content": {"image/jpeg": {}}}, 304: unchanged}, 404,
            tag=CONTRACT, who=seer, parameters=[photo_id])},
        "/api/sites/{site_id}/signoff": {
            "get": op("Open items to accept, and the sign-offs so far (newest first)",
                      {200: json_answer(ref("SignoffState"))}, 404, who=seer, parameters=[site_id]),
            "post": op("Sign off: accept every open item by id, type a name, draw a signature",
                       {201: json_answer(ref("Signed"), "Signed")}, 403, 404, 413, tag=CONTRACT,
                       who="the site's own client", body=json_body(ref("SignoffRequest")),
                       parameters=[site_id], writes=True)},
        "/api/signoffs/{signoff_id}/verify": {"get": op(
            "Check a sign-off against its SHA-256", {200: json_answer(ref("Verification"))}, 404, tag=CONTRACT,
            who=seer, parameters=[signoff_id])},
    }


def describe(template_keys: list[str] | None = None, body_limit: int | None = None) -> dict:
    """The whole description; `template_keys` are the templates POST /api/sites accepts here, `body_limit`
    the largest request body in bytes (MAX_CONTENT_LENGTH)."""
    responses = {name: json_answer(ref("Error"), why) for name, why in ERRORS.values()}
    if body_limit:
        responses["TooLarge"]["description"] += f" Bodies may be at most {body_limit // MiB} MiB."
    responses["TooManyRequests"]["headers"] = {"Retry-After": {"schema": whole(1), "required": True}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "FieldKit API", "version": "1.0",
                 "description": "docs/API.md in words. Operations tagged `shared contract` are the contract "
                                "every FieldKit keeps; `FieldKit extension` ones are this app's additions. "
                                "Answers may carry more fields than described; a 5xx is always a bug."},
        "tags": [{"name": CONTRACT, "description": "As written in the shared API contract."},
                 {"name": EXTENSION, "description": "FieldKit's additions beyond the contract."}],
        "paths": paths(),
        "components": {
            "schemas": schemas(list(template_keys or [])),
            "responses": responses,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "`Authorization: Bearer <token>` (no CSRF): `flask --app app "
                                          "create-token EMAIL` or POST /api/tokens from a browser."},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "The browser's session cookie from the /login form."},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                         "description": "Browser writes carry the CSRF token (GET /api/me gives one); the field "
                                        "app may send `X-FieldKit-Client` from this origin instead."},
            },
        },
    }


@bp.get("/api/openapi.json")
def openapi_json():
    body = current_app.extensions.get("openapi")
    if body is None:
        described = describe(sorted(current_app.extensions["templates"]), current_app.config["MAX_CONTENT_LENGTH"])
        body = json.dumps(described, indent=1).encode()
        current_app.extensions["openapi"] = body
    response = Response(body, mimetype="application/json")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    response.add_etag()
    return response.make_conditional(request)
