"""The web layer: pages, the JSON API and the field app, each a blueprint over the domain modules."""
from flask import Flask

from . import (
    admin,
    api,
    auth,
    errors,
    extensions,
    field,
    inventory,
    openapi,
    pages,
    signoff,
    transactions,
    webhooks,
)


def init_app(app: Flask) -> None:
    """Extensions, every blueprint, the error pages, webhook sending, and the transaction wrapper of every view."""
    extensions.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)  # every JSON route, behind one guard
    app.register_blueprint(openapi.bp)  # GET /api/openapi.json: public, so outside the API's guard
    app.register_blueprint(pages.bp)
    app.register_blueprint(inventory.bp)
    app.register_blueprint(signoff.bp)
    errors.init_app(app)
    app.register_blueprint(field.bp)  # the offline app: shell, service worker, manifest, icons, /t/<tag>
    webhooks.init_app(app)
    transactions.init_app(app)  # last: it wraps every view registered above
