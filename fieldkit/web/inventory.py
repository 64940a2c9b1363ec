"""Inventory, labels and photo evidence over HTTP: thin views over inventory.py, qr.py and photos.py."""
import uuid

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import access, inventory, qr
from ..db import db
from ..errors import FieldKitError, NotFound, ValidationError
from ..models import Asset, Item, Site
from ..verdicts import refresh
from .forms import ImportForm, asset_form

bp = Blueprint("inventory", __name__)
ONE_YEAR = 365 * 24 * 3600


@bp.before_request
@login_required
def require_login():
    """Every page needs a signed-in user; anonymous visitors go to the login form."""


# --------------------------------------------------------------------------- labels


@bp.get("/sites/<int:site_id>/labels.pdf")
def labels_pdf(site_id: int):
    site, paper, chosen, skip = _label_request(site_id)
    data = qr.labels_pdf(chosen, paper, current_app.config["BASE_URL"], skip)
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="labels-site-{site.id}-{paper.key}.pdf"'})


@bp.get("/sites/<int:site_id>/labels.png")
def labels_png(site_id: int):
    _, paper, chosen, skip = _label_request(site_id)
    page = _small_number("page", "1", "'page' must be a page number.", "bad_page")
    data = qr.labels_png(chosen, paper, current_app.config["BASE_URL"], skip, page)
    return Response(data, mimetype="image/png")


def _label_request(site_id: int) -> tuple[Site, qr.Paper, list[Asset], int]:
    """paper=a4|letter|62mm, assets=<id>[,<id>…] (repeatable; all assets when absent), skip=<n>."""
    site = access.field_site_for(db.session, current_user, site_id)
    paper = qr.paper_for(request.args.get("paper"))
    ids = {part.strip() for value in request.args.getlist("assets") for part in value.split(",") if part.strip()}
    chosen = inventory.site_assets(db.session, site, list(ids) if ids else None)
    if ids and len(chosen) != len(ids):
        raise ValidationError("Some of the chosen assets are not on this site.", "bad_assets")
    skip = _small_number("skip", "0", "'skip' must be the number of labels already used on the first sheet.",
                         "bad_skip")
    return site, paper, chosen, skip


def _small_number(name: str, default: str, message: str, code: str) -> int:
    """A whole number from the query string; a label sheet's numbers have a few digits (Python refuses to
    read a number of thousands of digits, and no sheet has a million labels)."""
    text = request.args.get(name, default) or default
    if not (text.isascii() and text.isdigit() and len(text) <= 6):
        raise ValidationError(message, code)
    return int(text)


# --------------------------------------------------------------------------- assets on the site page


FIELD_OF_ERROR = {"bad_mac": "mac", "bad_room": "room", "bad_tag": "tag", "bad_check_char": "tag",
                  "tag_taken": "tag", "bad_kind": "kind", "bad_status": "status", "bad_item_id": "item_id"}


@bp.route("/sites/<int:site_id>/assets/new", methods=["GET", "POST"])
def new_asset(site_id: int):
    return _edit_asset(site_id, None)


@bp.route("/sites/<int:site_id>/assets/<asset_id>/edit", methods=["GET", "POST"])
def edit_asset(site_id: int, asset_id: str):
    return _edit_asset(site_id, asset_id)


def _edit_asset(site_id: int, asset_id: str | None):
    site = access.site_for(db.session, current_user, site_id)
    access.require_role(current_user, access.MANAGER_ROLES)
    asset = None
    if asset_id is not None:
        asset = db.session.get(Asset, asset_id)
        if asset is None or asset.site_id != site.id:
            raise NotFound("There is no such asset on this site.")
    items = db.session.execute(select(Item).where(Item.site_id == site.id).order_by(Item.position)).scalars().all()
    form = asset_form(site, items, asset)
    if form.validate_on_submit():
        changes = {name: getattr(form, name).data or "" for name in
                   ("kind", "status", "room", "make", "model", "serial", "mac")}
        if form.tag.data and form.tag.data.strip():
            changes["tag"] = form.tag.data
        item_id = form.item_id.data or ""
        changes["item_id"] = int(item_id) if item_id.isascii() and item_id.isdigit() else None
        try:
            saved, _ = inventory.upsert_asset(db.session, current_user, site, asset.id if asset else str(uuid.uuid4()),
                                              changes, device_id="web")
            refresh(db.session, [site])
            db.session.commit()
        except FieldKitError as exc:
            db.session.rollback()
            field = FIELD_OF_ERROR.get(exc.code)
            if field:
                getattr(form, field).errors = [exc.message]
            else:
                flash(exc.message, "error")
        else:
            flash(f"{'Saved' if asset else 'Added'} {inventory.kind_name(saved.kind).lower()} {saved.tag}.", "ok")
            return redirect(url_for("pages.site", site_id=site.id) + "#inventory")
    status = 400 if request.method == "POST" else 200
    history = inventory.asset_history(db.session, asset) if asset else []
    return render_template("site/asset_form.html", site=site, form=form, asset=asset, history=history,
                           labels=inventory.FIELD_LABELS, item_titles={i.id: i.title for i in items},
                           kind_name=inventory.kind_name), status


@bp.post("/sites/<int:site_id>/assets/import")
def import_page(site_id: int):
    site = access.site_for(db.session, current_user, site_id)
    access.require_role(current_user, access.MANAGER_ROLES)
    form = ImportForm()
    if not form.validate_on_submit():
        flash(" ".join(form.file.errors) or "Choose a CSV file.", "error")
        return redirect(url_for("pages.site", site_id=site.id) + "#inventory")
    raw = form.file.data.read(inventory.MAX_CSV_BYTES + 1)
    try:
        report = inventory.import_csv(db.session, current_user, site, raw)
        db.session.commit()
    except FieldKitError as exc:
        db.session.rollback()
        return render_template("site/import_report.html", site=site, report=None, error=exc.message,
                               filename=form.file.data.filename, form=ImportForm()), 400
    return render_template("site/import_report.html", site=site, report=report, error=None,
                           filename=form.file.data.filename, form=ImportForm())
