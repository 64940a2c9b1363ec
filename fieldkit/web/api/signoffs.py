"""Sign-off over the API: what a signer must accept, signing, and checking a record."""
from flask import jsonify, url_for
from flask_login import current_user

from ... import access, signoff
from ...db import db
from .blueprint import body, bp


@bp.post("/sites/<int:site_id>/signoff")
def sign(site_id: int):
    row = signoff.sign(db.session, current_user, site_id, body())
    db.session.commit()
    return jsonify({"id": row.id, "sha256": row.sha256, "signed_at": row.created_at.isoformat(),
                    "verify_url": url_for("api.verify_signoff", signoff_id=row.id),
                    "record_url": url_for("signoff.record", signoff_id=row.id)}), 201


@bp.get("/sites/<int:site_id>/signoff")
def signoff_state(site_id: int):
    """What a signer must accept now, and the site's sign-offs, newest first."""
    site = access.site_for(db.session, current_user, site_id)
    exceptions = signoff.open_items(db.session, site)
    return jsonify({"status": site.status, "score": site.score, "exceptions": exceptions,
                    "changed_after_signoff": site.changed_after_signoff,
                    "signoffs": [{"id": row.id, "sha256": row.sha256, "name": row.name,
                                  "signed_at": row.created_at.isoformat()}
                                 for row in signoff.history(db.session, site.id)]})


@bp.get("/signoffs/<int:signoff_id>/verify")
def verify_signoff(signoff_id: int):
    return jsonify(signoff.verify(signoff.signoff_for(db.session, current_user, signoff_id)))
