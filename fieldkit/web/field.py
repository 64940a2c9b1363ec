"""The offline field app: its shell, service worker, manifest and icons, and what a QR label opens.

No build step: the shell and its ES modules are plain files under static/field/. At start-up the
icons are drawn and the service worker's cache version is taken from a hash of every file it
precaches, so a changed file means a new worker and a fresh cache, and nothing else.
"""
import functools
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, redirect, request, url_for
from flask_login import current_user
from PIL import Image, ImageDraw

from .. import access
from ..errors import Forbidden

bp = Blueprint("field", __name__)

STATIC = Path(__file__).resolve().parent.parent.parent / "static"
SHELL = "/static/field/index.html"
ICON_SIZES = (180, 192, 512)
BRAND, PAPER = "#0f4c5c", "#f3f6f8"


@dataclass(frozen=True)
class FieldAssets:
    """What the app shell needs, made once at start-up."""

    shell: bytes
    worker: bytes
    manifest: bytes
    icons: dict[str, bytes]
    precache: tuple[str, ...]
    version: str


def _module_files() -> list[Path]:
    """The shell's own files: its HTML, modules and stylesheet (the worker's template excluded)."""
    folder = STATIC / "field"
    return sorted(p for p in folder.iterdir() if p.suffix in (".html", ".js", ".css") and p.name != "sw.js")


@functools.cache  # the same pixels for every app in the process: drawn once, not per app (and per test)
def draw_icon(size: int, maskable: bool = False) -> bytes:
    """A check mark on a QR-label tile in the brand colour, as PNG; `maskable` keeps it in the safe zone."""
    scale = 4  # draw large, then shrink: smooth edges without an anti-aliasing library
    big = size * scale
    image = Image.new("RGB", (big, big), PAPER if not maskable else BRAND)
    draw = ImageDraw.Draw(image)
    if not maskable:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=BRAND)
    inset = big * (0.24 if maskable else 0.18)
    tile = (inset, inset, big - inset, big - inset)
    draw.rounded_rectangle(tile, radius=big // 12, outline="white", width=max(4, big // 28))
    corner = (tile[2] - tile[0]) * 0.22
    for x, y in ((tile[0], tile[1]), (tile[2] - corner, tile[1]), (tile[0], tile[3] - corner)):
        pad = corner * 0.28
        draw.rectangle((x + pad, y + pad, x + corner - pad, y + corner - pad), fill="white")
    left, top, width = tile[0], tile[1], tile[2] - tile[0]
    check = [(left + width * 0.28, top + width * 0.55), (left + width * 0.45, top + width * 0.72),
             (left + width * 0.76, top + width * 0.36)]
    draw.line(check, fill="#7fe0a1", width=max(6, big // 11), joint="curve")
    out = io.BytesIO()
    image.resize((size, size), Image.Resampling.LANCZOS).save(out, format="PNG", optimize=True)
    return out.getvalue()


def build_assets() -> FieldAssets:
    """Read the shell, draw the icons and version the service worker from everything it precaches."""
    icons = {f"{size}.png": draw_icon(size) for size in ICON_SIZES}
    icons["maskable-512.png"] = draw_icon(512, maskable=True)
    manifest = json.dumps({
        "name": "FieldKit field app", "short_name": "FieldKit", "id": "/field/", "start_url": "/field/",
        "scope": "/", "display": "standalone", "orientation": "portrait",
        "background_color": PAPER, "theme_color": BRAND,
        "description": "Checklists, hardware tags and photo evidence that work with no signal.",
        "icons": [{"src": f"/field/icons/{size}.png", "sizes": f"{size}x{size}", "type": "image/png"}
                  for size in (192, 512)]
        + [{"src": "/field/icons/maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"}],
    }, indent=1).encode()
    files = {f"/static/field/{p.name}": p.read_bytes() for p in _module_files()}
    files["/static/app.css"] = (STATIC / "app.css").read_bytes()
    files["/manifest.webmanifest"] = manifest
    files.update({f"/field/icons/{name}": data for name, data in icons.items()})
    digest = hashlib.sha256()
    for url in sorted(files):
        digest.update(url.encode() + b"\0" + hashlib.sha256(files[url]).digest())
    version = digest.hexdigest()[:16]
    precache = tuple(sorted(files))
    head = f"const VERSION = {json.dumps(version)};\nconst PRECACHE = {json.dumps(list(precache))};\n"
    worker = head.encode() + (STATIC / "field" / "sw.js").read_bytes()
    return FieldAssets(shell=files[SHELL], worker=worker, manifest=manifest, icons=icons,
                       precache=precache, version=version)


@bp.record_once
def _build_at_start_up(state) -> None:
    state.app.extensions["field"] = build_assets()


def assets() -> FieldAssets:
    return current_app.extensions["field"]


STATIC_IMPORT = re.compile(r'^\s*(?:import|export)\b[^;"\']*?["\']\./([\w.-]+\.js)["\']', re.MULTILINE)


def first_load_bytes() -> dict[str, int]:
    """The bytes a phone downloads to show the app the first time: the shell's HTML, the stylesheets and
    every module reached by static imports from app.js (modules imported on demand and icons aside)."""
    folder = STATIC / "field"
    sizes = {"/static/field/index.html": len((folder / "index.html").read_bytes()),
             "/static/app.css": len((STATIC / "app.css").read_bytes()),
             "/static/field/field.css": len((folder / "field.css").read_bytes())}
    todo = ["app.js"]
    while todo:
        name = todo.pop()
        url = f"/static/field/{name}"
        if url not in sizes:
            text = (folder / name).read_text(encoding="utf-8")
            sizes[url] = len(text.encode())
            todo.extend(STATIC_IMPORT.findall(text))
    return sizes


def _shell() -> Response:
    if not current_user.is_authenticated:
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=target))
    if current_user.role not in access.FIELD_ROLES:
        raise Forbidden("The field app is for technicians and project managers; your sites are under My sites.")
    response = Response(assets().shell, mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/field/")
@bp.get("/field/<path:deep_link>")
def shell(deep_link: str | None = None):
    """The app shell; its router shows the screen the path names, from the data on the phone."""
    return _shell()


@bp.get("/field")
def shell_without_slash():
    return redirect("/field/")


@bp.get("/t/<tag>")
def tag(tag: str):
    """What a QR label opens: the app shell, whose router finds the asset with this tag on the phone."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=f"/t/{quote(tag, safe='')}"))
    return _shell()


@bp.get("/sw.js")
def service_worker():
    response = Response(assets().worker, mimetype="text/javascript")
    # Browsers check for a new worker on navigation; never let a cache hide one.
    response.headers["Cache-Control"] = "no-cache, max-age=0"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    response = Response(assets().manifest, mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/field/icons/<name>")
def icon(name: str):
    data = assets().icons.get(name)
    if data is None:
        abort(404)
    response = Response(data, mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
