"""FieldKit: site readiness for IT office moves and infrastructure projects."""
from pathlib import Path

from flask import Flask

from . import cli, config, web
from .checklists import load_dir
from .db import db

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings from the environment (then `test_config`), extensions, blueprints, CLI."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"), static_folder=str(ROOT / "static"),
                template_folder=str(ROOT / "templates"))
    app.config.update(config.load(app.instance_path))
    app.config.update(test_config or {})
    app.config.setdefault("CHECKLIST_DIR", str(ROOT / "checklists"))
    # A broken template stops start-up with a message naming the file, the item and the problem.
    app.extensions["templates"] = load_dir(Path(app.config["CHECKLIST_DIR"]))

    db.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    return app
