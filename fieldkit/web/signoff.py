"""Sign-off, the handover pack and notifications: parse, authorise, call the domain, answer."""
import io
import re
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from .. import access, handover, notify, signoff
from ..db import db
from ..errors import FieldKitError
from ..models import Site
from .forms import WebhookForm
from .transactions import fresh

bp = Blueprint("signoff", __name__)
CHUNK = 256 * 1024


# --------------------------------------------------------------------------- pages


@bp.get("/sites/<int:site_id>/signoff")
@login_required
def page(site_id: int):
    site = access.site_for(db.session, current_user, site_id)
    fresh([site])
    can_sign = current_user.role in signoff.SIGNER_ROLES
    exceptions = signoff.open_items(db.session, site)
    return render_template("signoff.html", site=site, readiness=site.readiness, exceptions=exceptions,
                           can_sign=can_sign, latest=signoff.latest(db.session, site.id))


@bp.get("/signoffs/<int:signoff_id>")
@login_required
def record(signoff_id: int):
    row = signoff.signoff_for(db.session, current_user, signoff_id)
    site = db.session.get(Site, row.site_id)
    snapshot = signoff.snapshot_of(row)
    return render_template("signoff_record.html", row=row, site=site, snapshot=snapshot,
                           valid=signoff.is_valid(row), is_latest=signoff.latest(db.session, site.id).id == row.id)


@bp.get("/signoffs/<int:signoff_id>/signature.png")
@login_required
def signature(signoff_id: int):
    row = signoff.signoff_for(db.session, current_user, signoff_id)
    response = current_app.response_class(row.signature_png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/sites/<int:site_id>/handover.pdf")
@login_required
def handover_pdf(site_id: int):
    """The pack of the latest sign-off (or of the site as it stands, before any), sent in chunks."""
    site = access.site_for(db.session, current_user, site_id)
    row = signoff.latest(db.session, site.id)
    if row is None:
        snapshot = signoff.current_snapshot(db.session, site)
    else:
        snapshot = signoff.snapshot_of(row)
    photo_dir = current_app.config["PHOTO_DIR"]
    verify_url = current_app.config["BASE_URL"] + url_for("signoff.record", signoff_id=row.id) if row else ""
    out = io.BytesIO()
    handover.render(snapshot, out, sha256=row.sha256 if row else None,
                    signature_png=row.signature_png if row else None,
                    thumbnail=lambda sha: handover.thumbnail_path(photo_dir, sha), verify_url=verify_url,
                    changed_after_signoff=bool(row) and site.changed_after_signoff)
    del snapshot
    pdf = out.getbuffer()
    slug = re.sub(r"[^a-z0-9]+", "-", site.name.lower()).strip("-")[:60] or str(site.id)
    response = current_app.response_class(
        (bytes(pdf[start:start + CHUNK]) for start in range(0, len(pdf), CHUNK)), mimetype="application/pdf")
    response.headers["Content-Length"] = str(len(pdf))
    response.headers["Content-Disposition"] = f'inline; filename="handover-{slug}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/sites/<int:site_id>/webhooks")
@login_required
def webhooks(site_id: int):
    site = access.site_for(db.session, current_user, site_id)
    access.require_role(current_user, access.MANAGER_ROLES)
    form = WebhookForm()
    target = url_for("pages.site", site_id=site.id) + "#notifications"
    if not form.validate_on_submit():
        flash("The webhook form was not accepted: " + "; ".join(
            message for messages in form.errors.values() for message in messages), "error")
        return redirect(target)
    try:
        internal = current_app.config["WEBHOOK_ALLOW_INTERNAL"]
        site_url = notify.clean_url(form.site_url.data, "site webhook URL", allow_internal=internal)
        client_url = notify.clean_url(form.client_url.data, "client webhook URL", allow_internal=internal)
    except FieldKitError as exc:
        flash(exc.message, "error")
        return redirect(target)
    site.webhook_url, site.client.webhook_url = site_url, client_url
    db.session.commit()
    flash("Notification settings saved.", "ok")
    return redirect(target)


@bp.app_template_filter("url_host")
def url_host(url: str) -> str:
    """Scheme and host of a webhook URL: its path is often the secret, so lists never show it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else url
