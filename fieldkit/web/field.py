"""The offline field app: its shell, service worker, manifest and icons, and what a QR label opens; and
static files under content-hashed URLs.

No build step: the shell and its ES modules are plain files under static/field/. At start-up the icons are
drawn, every URL in the shell gets its file's content hash (`/static/field/app.js?v=<hash>`), an import map
in the shell sends every import of a module (`./store.js`) to that same hashed URL, so a module is loaded
once, and the service worker's cache version is taken from a hash of every file it precaches. A changed file
means a new URL, a new worker and a fresh cache, and nothing else. A static file asked for under its current
hash is cached for a year without asking again; one asked for without is revalidated.
"""
import functools
import hashlib
import io
import json
import re
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, redirect, request, url_for
from flask_login import current_user
from PIL import Image, ImageDraw
from werkzeug.security import safe_join

from .. import access
from ..errors import Forbidden
from .errors import PAGE_POLICY

bp = Blueprint("field", __name__)

STATIC = Path(__file__).resolve().parent.parent.parent / "static"
SHELL = "/static/field/index.html"
ICON_SIZES = (180, 192, 512)
BRAND, PAPER = "#0f4c5c", "#f3f6f8"
IMMUTABLE = "public, max-age=31536000, immutable"
IMPORT_MAP = '<script type="importmap">{"imports": {}}</script>'  # in index.html, filled in at start-up
ASSET_URL = re.compile(r'\b(href|src)="(/[^"?#]+)"')


@dataclass(frozen=True)
class FieldAssets:
    """What the app shell needs, made once at start-up."""

    shell: bytes
    policy: str  # the shell's Content-Security-Policy: its one inline script, the import map, by hash
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
    # Four colours and their smoothed edges fit a 64-colour palette: 40% of the bytes, no visible change.
    small = image.resize((size, size), Image.Resampling.LANCZOS).quantize(64, method=Image.Quantize.MEDIANCUT)
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def content_version(data: bytes) -> str:
    """The hash a versioned URL carries: a new one whenever the bytes change."""
    return hashlib.sha256(data).hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def _version_of_file(path: Path, mtime_ns: int, size: int) -> str:
    return content_version(path.read_bytes())


def file_version(path: Path) -> str | None:
    """A file's content hash, read again only when the file changes on disk; None when there is no file."""
    if not path.is_file():
        return None
    stat = path.stat()
    return _version_of_file(path, stat.st_mtime_ns, stat.st_size)


def _shell_with_versions(html: str, urls: dict[str, str]) -> tuple[str, str]:
    """The shell with every URL it names in `urls` versioned and its import map filled in, and the hash of
    that import map for the page's Content-Security-Policy."""
    modules = {url: versioned for url, versioned in urls.items() if url.endswith(".js")}
    import_map = json.dumps({"imports": modules}, indent=1)
    html = ASSET_URL.sub(lambda found: f'{found[1]}="{urls.get(found[2], found[2])}"', html)
    html = html.replace(IMPORT_MAP, f'<script type="importmap">{import_map}</script>')
    return html, "sha256-" + b64encode(hashlib.sha256(import_map.encode()).digest()).decode()


def build_assets() -> FieldAssets:
    """Read the shell, draw the icons, version every URL and the service worker from everything it precaches."""
    icons = {f"{size}.png": draw_icon(size) for size in ICON_SIZES}
    icons["maskable-512.png"] = draw_icon(512, maskable=True)
    files = {f"/static/field/{p.name}": p.read_bytes() for p in _module_files()}
    files["/static/app.css"] = (STATIC / "app.css").read_bytes()
    files.update({f"/field/icons/{name}": data for name, data in icons.items()})
    urls = {url: f"{url}?v={content_version(data)}" for url, data in files.items() if url != SHELL}
    shell, import_map_hash = _shell_with_versions(files.pop(SHELL).decode(), urls)
    manifest = json.dumps({
        "name": "FieldKit field app", "short_name": "FieldKit", "id": "/field/", "start_url": "/field/",
        "scope": "/", "display": "standalone", "orientation": "portrait",
        "background_color": PAPER, "theme_color": BRAND,
        "description": "Checklists, hardware tags and photo evidence that work with no signal.",
        "icons": [{"src": urls[f"/field/icons/{size}.png"], "sizes": f"{size}x{size}", "type": "image/png"}
                  for size in (192, 512)]
        + [{"src": urls["/field/icons/maskable-512.png"], "sizes": "512x512", "type": "image/png",
            "purpose": "maskable"}],
    }, indent=1).encode()
    cached = {urls[url]: data for url, data in files.items()}
    cached.update({SHELL: shell.encode(), "/manifest.webmanifest": manifest})
    digest = hashlib.sha256()
    for url in sorted(cached):
        digest.update(url.encode() + b"\0" + hashlib.sha256(cached[url]).digest())
    version = digest.hexdigest()[:16]
    precache = tuple(sorted(cached))
    head = f"const VERSION = {json.dumps(version)};\nconst PRECACHE = {json.dumps(list(precache))};\n"
    worker = head.encode() + (STATIC / "field" / "sw.js").read_bytes()
    return FieldAssets(shell=cached[SHELL], policy=f"{PAGE_POLICY}; script-src 'self' '{import_map_hash}'",
                       worker=worker, manifest=manifest, icons=icons, precache=precache, version=version)


@bp.record_once
def _build_at_start_up(state) -> None:
    state.app.extensions["field"] = build_assets()


def assets() -> FieldAssets:
    return current_app.extensions["field"]


@bp.app_url_defaults
def _version_static_urls(endpoint: str, values: dict) -> None:
    """url_for('static', filename=...), in every template, carries the file's content hash."""
    if endpoint == "static" and "v" not in values:
        version = file_version(Path(current_app.static_folder, values["filename"]))
        if version:
            values["v"] = version


@bp.after_app_request
def _cache_versioned_static_files(response: Response) -> Response:
    """A static file asked for under its current hash cannot change: the browser may keep it for a year."""
    if request.endpoint == "static" and response.status_code in (200, 304) and request.args.get("v"):
        path = safe_join(current_app.static_folder, request.view_args["filename"])
        if path and request.args["v"] == file_version(Path(path)):
            response.headers["Cache-Control"] = IMMUTABLE
    return response


STATIC_IMPORT = re.compile(r'^\s*(?:import|export)\b[^;"\']*?["\']\./([\w.-]+\.js)["\']', re.MULTILINE)


def first_load_bytes() -> dict[str, int]:
    """The bytes a phone downloads to show the app the first time: the shell's HTML, the stylesheets and
    every module reached by static imports from app.js (modules imported on demand and icons aside)."""
    folder = STATIC / "field"
    sizes = {SHELL: len(build_assets().shell),
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
    return shell_file()


@bp.get(SHELL)
def shell_file():
    """The shell as the service worker caches it (the file on disk lacks its versioned URLs)."""
    response = Response(assets().shell, mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = assets().policy
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
    versioned = request.args.get("v") == content_version(data)
    response.headers["Cache-Control"] = IMMUTABLE if versioned else "public, max-age=86400"
    return response
