"""Sign-off snapshot and handover PDF for a 2,000-item site with 2,000 devices and 600 photos.

    python bench/bench_handover.py            # SQLite in a temp dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/fk_bench python bench/bench_handover.py

Prints wall time (best of a few runs, without tracing) and peak Python memory (one traced run) for:
signing (snapshot built, hashed and stored), verifying, and rendering the handover pack. Then the worst
valid text: 60 rooms of 60 characters, a 200-character site name and signer, and 118 failed checks whose
5,000-character notes have no spaces (CJK, which DejaVu cannot draw, and one long Latin word).

Before issue 9: 70 such notes took 223 s (CJK) and 226 s (Latin) to render, and 60 rooms of 60 characters
failed with fpdf2's "row too high" (a 500).
"""
import base64
import hashlib
import io
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import date, timedelta
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from synthetic import write_template

from fieldkit import accounts, create_app, handover, photos, signoff, sites, sync
from fieldkit.cli import init_db
from fieldkit.db import db
from fieldkit.models import Asset, Item, Photo, Signoff, Site, User

ITEMS, DEVICES, PHOTOS = 2000, 2000, 600
FAILED_WITH_NOTES = 118
UNBROKEN_NOTES = {"CJK": "漢字" * 2500, "Latin": ("Pneumonoultramicroscopicsilicovolcanoconiosis" * 112)[:5000]}
KINDS = ("switch", "ap", "workstation", "phone", "printer", "ups", "firewall", "badge-reader")


def signature() -> str:
    image = Image.new("RGB", (700, 240), "white")
    ImageDraw.Draw(image).line([(40, 160), (120, 60), (160, 180), (220, 70), (300, 170), (620, 120)],
                               fill="black", width=4)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def thumbnails(folder: Path) -> list[str]:
    """600 distinct small JPEG thumbnails, where the photo store keeps them."""
    shas = []
    for n in range(PHOTOS):
        image = Image.new("RGB", (320, 240), (n % 256, (n * 7) % 256, 120))
        ImageDraw.Draw(image).text((10, 10), f"photo {n}", fill="white")
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=70)
        sha = hashlib.sha256(buffer.getvalue()).hexdigest()
        path = photos.thumb_path(str(folder), sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())
        shas.append(sha)
    return shas


def measure(label: str, fn, runs: int = 3):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<44} best {min(times) * 1000:8.0f} ms   peak Python memory {peak / 2**20:6.1f} MiB")
    return result


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    for path in (Path(__file__).resolve().parent.parent / "checklists").glob("*.toml"):
        (tmp / path.name).write_text(path.read_text())
    write_template(tmp, "big", ITEMS)
    thumbs = tmp / "thumbs"
    thumbs.mkdir()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "CHECKLIST_DIR": str(tmp), "WEBHOOK_WORKER": False})
    accounts.PASSWORD_METHOD = "pbkdf2:sha256:1000"
    shas = thumbnails(thumbs)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        init_db()
        accounts.create_user(db.session, "pm@bench.test", "pm", "bench-password")
        tech = accounts.create_user(db.session, "tech@bench.test", "tech", "bench-password")
        client = accounts.create_user(db.session, "client@bench.test", "client", "bench-password", "Bench Co")
        rooms = [f"Room {n}" for n in range(40)]
        site = sites.create_site(db.session, {
            "name": "Bench Co – head office", "client": "Bench Co", "template": "big", "rooms": rooms,
            "move_in": (date.today() + timedelta(days=20)).isoformat(), "technicians": ["tech@bench.test"]},
            app.extensions["templates"])
        db.session.commit()
        items = db.session.execute(select(Item).where(Item.site_id == site.id).order_by(Item.id)).scalars().all()
        for start in range(0, len(items), 500):  # half the checks done, through sync as phones do it
            sync.apply_batch(db.session, tech, {"device_id": "bench", "mutations": [
                {"id": str(uuid.uuid4()), "type": "item.update", "item_id": item.id, "base_rev": item.rev,
                 "set": {"status": "pass", "note": "Done on site.",
                         **({"measurements": {"speed_mbps": 612}} if item.thresholds else {})}}
                for item in items[start:start + 500] if item.id % 2]})
        for n in range(DEVICES):
            db.session.add(Asset(id=str(uuid.uuid4()), site_id=site.id, tag=f"B{n:05d}", kind=KINDS[n % 8],
                                 make="Ubiquiti", model=f"Model {n % 17}", serial=f"SN{n:010d}",
                                 mac=f"24:5A:4C:{n // 65536 % 256:02X}:{n // 256 % 256:02X}:{n % 256:02X}",
                                 room=rooms[n % 40], status="installed"))
        for n, sha in enumerate(shas):
            db.session.add(Photo(id=str(uuid.uuid4()), site_id=site.id, item_id=items[n * 3].id, sha256=sha,
                                 content_type="image/jpeg", width=320, height=240, size=8000))
        db.session.commit()
        site_id, client_id = site.id, client.id
        print(f"{db.engine.dialect.name}: site with {len(items)} items, {DEVICES} devices, {PHOTOS} photos")

    browser = app.test_client()
    form = browser.get("/login").get_data(as_text=True)
    token = form.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    browser.post("/login", data={"email": "pm@bench.test", "password": "bench-password", "csrf_token": token})

    def site_page():
        answer = browser.get(f"/sites/{site_id}")
        assert answer.status_code == 200
        return len(answer.get_data())

    page_size = measure("the PM's site page (GET /sites/{id})", site_page)
    print(f"{'':<44} {page_size / 1024:.0f} KiB of HTML")

    body = {"name": "Bench Signer", "signature": signature()}

    def sign():
        with app.app_context():
            user = db.session.get(User, client_id)
            accept = [e["item_id"] for e in signoff.open_items(db.session, db.session.get(Site, site_id))]
            row = signoff.sign(db.session, user, site_id, {**body, "accept": accept})
            db.session.commit()
            return row.id, len(row.snapshot)

    signoff_id, size = measure("sign off (snapshot, hash, store)", sign)
    print(f"{'':<44} snapshot {size / 1024:.0f} KiB of canonical JSON")

    def verify():
        with app.app_context():
            return signoff.is_valid(db.session.get(Signoff, signoff_id))

    assert measure("verify (recompute the hash)", verify)

    def render():
        with app.app_context():
            row = db.session.get(Signoff, signoff_id)
            out = io.BytesIO()
            handover.render(signoff.snapshot_of(row), out, sha256=row.sha256, signature_png=row.signature_png,
                            thumbnail=lambda sha: handover.thumbnail_path(str(thumbs), sha))
            return out.getbuffer().nbytes

    pdf_size = measure("handover PDF (render from the snapshot)", render, runs=2)
    print(f"{'':<44} PDF {pdf_size / 2**20:.1f} MiB")
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    for script, note in UNBROKEN_NOTES.items():
        unbroken_text(app, client_id, script, note)
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def unbroken_text(app, client_id: int, script: str, note: str) -> None:
    """The longest valid text the pack prints, written without spaces, on an office-move site signed off."""
    with app.app_context():
        tech = db.session.execute(select(User).where(User.email == "tech@bench.test")).scalar_one()
        site = sites.create_site(db.session, {
            "name": "Ħ" * 200, "client": "Bench Co", "template": "office-move", "address": "Straße" * 80,
            "rooms": [f"{n:02d}{'漢' if script == 'CJK' else 'W'}" + "x" * 57 for n in range(60)],
            "move_in": (date.today() + timedelta(days=20)).isoformat(), "technicians": ["tech@bench.test"]},
            app.extensions["templates"])
        db.session.commit()
        items = db.session.execute(select(Item).where(Item.site_id == site.id).order_by(Item.id)).scalars().all()
        acks = sync.apply_batch(db.session, tech, {"device_id": "bench", "mutations": [
            {"id": str(uuid.uuid4()), "type": "item.update", "item_id": item.id, "base_rev": item.rev,
             "set": {"status": "fail", "note": note}} for item in items[:FAILED_WITH_NOTES]]})["acks"]
        assert {ack["status"] for ack in acks} == {"applied"}, acks[:1]
        db.session.commit()
        accept = [e["item_id"] for e in signoff.open_items(db.session, site)]
        row = signoff.sign(db.session, db.session.get(User, client_id), site.id,
                           {"name": "王" * 200, "signature": signature(), "accept": accept})
        db.session.commit()
        snapshot, sha = signoff.snapshot_of(row), row.sha256
        print(f"{script}: {len(items)} checks in 60 rooms, {FAILED_WITH_NOTES} failed with "
              f"{len(note):,}-character notes without spaces")

    def render():
        out = io.BytesIO()
        handover.render(snapshot, out, sha256=sha)
        return out.getbuffer().nbytes

    size = measure(f"handover PDF, unbroken {script} notes", render, runs=1)
    print(f"{'':<44} PDF {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
