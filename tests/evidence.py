"""Test data for inventory and photos, made the way phones and PMs make it (sync mutations, uploads)."""
import io
import uuid

from PIL import Image, ImageDraw

from fieldkit import qr


def upsert(site_id: int, asset_id: str | None = None, base_rev: int | None = None, **changes) -> dict:
    """An asset.upsert mutation as the field app makes it."""
    mutation = {"id": str(uuid.uuid4()), "type": "asset.upsert", "asset_id": asset_id or str(uuid.uuid4()),
                "site_id": site_id, "set": changes}
    if base_rev is not None:
        mutation["base_rev"] = base_rev
    return mutation


def add_asset(api, site: dict, who: str = "tech", **changes) -> dict:
    """Create an asset through /api/sync and answer it as GET /api/assets/<tag> does."""
    mutation = upsert(site["id"], **{"kind": "ap", **changes})
    ack = api[who].sync([mutation]).get_json()["acks"][0]
    assert ack["status"] == "applied", ack
    listing = api[who].get(f"/api/sites/{site['id']}/assets").get_json()
    return next(a for a in listing if a["id"] == mutation["asset_id"])


def photo_like(width: int = 1600, height: int = 1200, label: Image.Image | None = None) -> Image.Image:
    """A photo-ish picture: a shaded wall, a desk edge and some clutter, with a label stuck on if given."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.blend(image, Image.new("RGB", (width, height), (150, 120, 90)), 0.5)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, height * 0.75, width, height], fill=(92, 64, 40))
    for n in range(12):
        x = (n * 137) % width
        draw.ellipse([x, height * 0.6, x + 60, height * 0.6 + 40], fill=(40 + n * 10, 80, 120))
    if label is not None:
        image.paste(label, (width // 3, height // 4))
    return image


def label_image(url: str, module_px: int = 8) -> Image.Image:
    """A printed QR label as a camera sees it: the QR on white with the quiet zone."""
    modules = qr.qr_modules(url)
    size = len(modules) * module_px
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                draw.rectangle([c * module_px, r * module_px, (c + 1) * module_px - 1, (r + 1) * module_px - 1],
                               fill="black")
    return image


def encoded(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def upload(api, who: str, site_id: int, data: bytes, photo_id: str | None = None, filename: str = "photo.jpg",
           **fields):
    """POST /api/photos as the field app does (multipart)."""
    form = {"id": photo_id or str(uuid.uuid4()), "site_id": str(site_id),
            **{k: str(v) for k, v in fields.items()}, "file": (io.BytesIO(data), filename)}
    return api[who].client.post("/api/photos", data=form, headers=api[who].headers,
                                content_type="multipart/form-data")
