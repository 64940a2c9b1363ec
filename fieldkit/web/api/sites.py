"""Sites, their bundle, sync, readiness and the board over the API: parse, call the domain, answer."""
from flask import current_app, jsonify
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from ... import access, items, sites, sync
from ...db import db
from ...payloads import site_json
from ..transactions import fresh
from .blueprint import body, bp


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
    answer = sync.apply_batch(db.session, current_user, body(each_part_alone=True))
    db.session.commit()  # before the answer goes out: its cursor counts this batch's own changes
    return jsonify(answer)


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
    item = items.resolve_dispute(db.session, current_user, item_id, data.get("status"), data.get("note"))
    db.session.commit()
    return jsonify({"id": item.id, "status": item.status, "rev": item.rev, "disputed": item.disputed})


@bp.get("/me")
def me():
    # The field app's shell is cached HTML with no token in it: it asks here before a form post (sign out).
    return jsonify({"id": current_user.id, "email": current_user.email, "role": current_user.role,
                    "name": current_user.display_name, "csrf_token": generate_csrf()})

