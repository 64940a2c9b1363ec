"""Assets (by tag, per site, CSV in and out) and photo evidence over the API: thin views over inventory.py
and photos.py."""
from flask import Response, current_app, request, send_file
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import TooManyRequests

from ... import access, inventory, photos, qr
from ...db import db
from ...errors import ValidationError
from ...models import Photo, Site
from ...payloads import asset_json, photo_json
from .blueprint import bp

ONE_YEAR = 365 * 24 * 3600


@bp.get("/assets/<path:typed>")
def asset_by_tag(typed: str):
    asset = inventory.find_by_tag(db.session, current_user, typed)
    site = db.session.get(Site, asset.site_id)
    shots = db.session.execute(select(Photo).where(Photo.asset_id == asset.id).order_by(Photo.created_at)).scalars()
    return {**asset_json(asset), "site_name": site.name,
            "label_url": qr.label_url(current_app.config["BASE_URL"], asset.tag),
            "photos": [photo_json(p) for p in shots]}


@bp.get("/sites/<int:site_id>/assets")
def site_assets(site_id: int):
    site = access.site_for(db.session, current_user, site_id)
    return [asset_json(a) for a in inventory.site_assets(db.session, site)]


@bp.get("/sites/<int:site_id>/assets.csv")
def export_assets(site_id: int):
    site = access.site_for(db.session, current_user, site_id)
    text = inventory.export_csv(db.session, site, current_app.config["BASE_URL"])
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="inventory-site-{site.id}.csv"',
        "X-Content-Type-Options": "nosniff"})


@bp.post("/sites/<int:site_id>/assets.csv")
def import_assets(site_id: int):
    """A delivery list as the body (text/csv) or as the multipart field 'file'; answers the per-row report."""
    site = access.site_for(db.session, current_user, site_id)
    access.require_role(current_user, access.MANAGER_ROLES)
    upload = request.files.get("file")
    # get_data keeps the body (the stream reads once), so a request run again after a deadlock reads it again.
    raw = upload.read(inventory.MAX_CSV_BYTES + 1) if upload else request.get_data()
    report = inventory.import_csv(db.session, current_user, site, raw)
    db.session.commit()
    return report.as_json()


@bp.post("/photos")
def upload_photo():
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError("Send the photo as the multipart field 'file'.", "missing_file")
    fields = photos.parse_fields(request.form.to_dict())
    gate = photos.DecodeGate(current_app.config["PHOTO_DECODES"],
                             current_app.config.get("PHOTO_DECODE_WAIT", photos.DECODE_WAIT))
    try:
        answer, status = photos.save_photo(db.session, current_user, current_app.config["PHOTO_DIR"], fields,
                                           upload.stream, gate)
    except photos.Busy as busy:  # Retry-After tells the phone, which keeps the photo, when to send it again
        raise TooManyRequests(busy.message, retry_after=busy.retry_after) from None
    db.session.commit()
    return answer, status


@bp.get("/photos/<photo_id>")
def photo_file(photo_id: str):
    return _send_photo(photo_id, thumb=False)


@bp.get("/photos/<photo_id>/thumb")
def photo_thumb(photo_id: str):
    return _send_photo(photo_id, thumb=True)


def _send_photo(photo_id: str, thumb: bool):
    path, content_type, photo = photos.stored_file(db.session, current_user, current_app.config["PHOTO_DIR"],
                                                   photo_id, thumb)
    # A photo id always names the same bytes, so browsers and the field app may keep it for good.
    response = send_file(path, mimetype=content_type, conditional=True, max_age=ONE_YEAR,
                         etag=photo.sha256 + ("-thumb" if thumb else ""))
    response.cache_control.public = False
    response.cache_control.private = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
