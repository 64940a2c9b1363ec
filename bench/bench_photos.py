"""How long the server takes to take in a 12-megapixel photo, and to lay out 200 QR labels.

    python bench/bench_photos.py            # SQLite in a temporary folder
    DATABASE_URL=postgresql+psycopg://... python bench/bench_photos.py

Prints, for a 4000 × 3000 JPEG with a QR label in it: the whole POST /api/photos (multipart parsing,
sniffing, decoding, orienting, re-encoding, thumbnail, QR scan, content-addressed storage, database row
and readiness refresh), the image work alone, and the peak memory; then the label PDF and the PNG
preview for 200 assets. Then the memory of big photos: one and four concurrent 6,320 × 6,320 solid-colour
RGBA PNGs (166 KB each, under the pixel limit) and a 7,000 × 5,000 JPEG, each case in a fresh process:
its resident memory before, its peak, and the answers or the Python heap peak.

Before issue 9 (uploads overlapping on SQLite, no decode limit): one PNG +470 MiB, four PNGs +1,810 MiB
(peak 1,948 MiB), one JPEG +261 MiB, four JPEGs +1,037 MiB.
"""
import io
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fieldkit import accounts, create_app, inventory, photos, qr, sites, sync
from fieldkit.cli import init_db
from fieldkit.db import db
from fieldkit.models import Site

ROUNDS = 5
LABELS = 200


def twelve_megapixel_jpeg(label_url: str) -> bytes:
    """A 4000 × 3000 camera-like JPEG: shading, sensor noise, some shapes and a QR label on the wall."""
    noise = Image.effect_noise((4000, 3000), 24)
    shade = Image.linear_gradient("L").resize((4000, 3000))
    image = Image.merge("RGB", (Image.blend(noise, shade, 0.6), Image.blend(noise, shade, 0.5), shade))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 2300, 4000, 3000], fill=(96, 70, 44))
    modules = qr.qr_modules(label_url)
    px = 14
    left, top = 1500, 900
    draw.rectangle([left, top, left + len(modules) * px, top + len(modules) * px], fill="white")
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                draw.rectangle([left + c * px, top + r * px, left + (c + 1) * px - 1, top + (r + 1) * px - 1],
                               fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def solid_png() -> bytes:
    """What issue 9 sent: a 166 KB solid-colour RGBA PNG of 6,320 × 6,320 pixels."""
    out = io.BytesIO()
    Image.new("RGBA", (6320, 6320), (40, 120, 200, 255)).save(out, "PNG")
    return out.getvalue()


def big_jpeg() -> bytes:
    """A 35-megapixel camera-like JPEG (7,000 × 5,000)."""
    noise = Image.effect_noise((7000, 5000), 24)
    shade = Image.linear_gradient("L").resize((7000, 5000))
    out = io.BytesIO()
    Image.merge("RGB", (Image.blend(noise, shade, 0.6), shade, noise)).save(out, "JPEG", quality=90)
    return out.getvalue()


def technician_with_site(app, rooms: list[str] | None = None):
    """A fresh schema, a technician with an API token, and an office-move site assigned to them."""
    init_db()
    tech = accounts.create_user(db.session, f"bench-{uuid.uuid4().hex[:8]}@example.com", "tech", "bench-password")
    db.session.commit()
    token = accounts.create_token(db.session, tech.email)
    site = sites.create_site(db.session, {
        "name": "Bench office", "client": "Bench Ltd", "template": "office-move",
        "move_in": (date.today() + timedelta(days=20)).isoformat(), "rooms": rooms or [],
        "technicians": [tech.email]}, app.extensions["templates"])
    db.session.commit()
    return tech, token, site


def uploads_at_once(data: bytes, count: int, decoders: int, url: str | None) -> tuple[float, float, list[int]]:
    """In a fresh process: (RSS before, peak RSS, answers) for `count` concurrent POST /api/photos with
    `decoders` photos decoded at once (PHOTO_DECODES)."""
    folder = Path(tempfile.mkdtemp(prefix="fieldkit-bench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{folder / 'bench.db'}",
                      "PHOTO_DIR": str(folder / "p"), "WEBHOOK_WORKER": False, "PHOTO_DECODES": decoders})
    with app.app_context():
        _, token, site = technician_with_site(app)
        site_id = site.id
        db.session.remove()

    def post(_):
        answer = app.test_client().post(
            "/api/photos", headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data",
            data={"id": str(uuid.uuid4()), "site_id": str(site_id), "file": (io.BytesIO(data), "big")})
        return answer.status_code

    before = rss_mib()
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(post, range(count)))
    return before, peak_rss_mib(), answers


def decodes_at_once(data: bytes, count: int, decoders: int) -> tuple[float, float, float]:
    """In a fresh process: (RSS before, peak RSS, Python heap peak) for `count` threads taking in the photo
    (photos.process, no database) with `decoders` decodes at once."""
    gate = photos.DecodeGate(decoders, 600)
    before = rss_mib()
    tracemalloc.start()
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda _: photos.process(io.BytesIO(data), gate=gate), range(count)))
    _, heap = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return before, peak_rss_mib(), heap / 2**20


def big_photos() -> None:
    """Peak memory of big photos, each case in a fresh process so that its peak is its own."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        png, jpeg = pool.submit(solid_png).result(), pool.submit(big_jpeg).result()
    url = os.environ.get("DATABASE_URL")
    print(f"big photos: a solid-colour RGBA PNG of 6,320 × 6,320 ({len(png) / 1024:.0f} KB) and a 7,000 × 5,000 "
          f"JPEG ({len(jpeg) / 2**20:.1f} MiB); each line is a fresh process")

    def run(label, fn, *args):
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            started = time.perf_counter()
            before, peak, *rest = pool.submit(fn, *args).result()
        extra = f"answers {rest[0]}" if isinstance(rest[0], list) else f"Python heap peak {rest[0]:4.1f} MiB"
        print(f"  {label:<44} RSS {before:4.0f} -> peak {peak:5.0f} MiB (+{peak - before:4.0f}), "
              f"{time.perf_counter() - started:5.1f} s, {extra}")

    for name, data in (("PNG", png), ("JPEG", jpeg)):
        for count, decoders in ((1, 2), (4, 1), (4, 2), (4, 4)):
            run(f"{count} {name} taken in at once, {decoders} decoder{'s' * (decoders > 1)}", decodes_at_once,
                data, count, decoders)
    print(f"  through POST /api/photos on {'PostgreSQL' if url else 'SQLite (one writer at a time)'}:")
    for name, data in (("PNG", png), ("JPEG", jpeg)):
        for count in (1, 4):
            run(f"{count} {name} upload{'s' * (count > 1)} at once, 2 decoders", uploads_at_once, data, count, 2, url)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="fieldkit-bench-"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PHOTO_DIR": str(folder / "photos"),
                      "BASE_URL": "https://fieldkit.example.com"})
    with app.app_context():
        tech, token, site = technician_with_site(app, ["Open office", "Comms room"])
        mutations = [{"id": str(uuid.uuid4()), "type": "asset.upsert", "asset_id": str(uuid.uuid4()),
                      "site_id": site.id, "set": {"kind": "ap", "make": "Ubiquiti", "model": "U6-Pro",
                                                  "room": ["Open office", "Comms room"][n % 2]}}
                     for n in range(LABELS)]
        sync.apply_batch(db.session, tech, {"device_id": "bench", "mutations": mutations})
        db.session.commit()
        site = db.session.get(Site, site.id)
        assets = inventory.site_assets(db.session, site)
        db.session.expunge_all()  # kept as loaded, and no transaction of this process holds SQLite's write lock
        db.session.commit()
        # Made in a child process, so this process's peak memory is the server's alone.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            jpeg = pool.submit(twelve_megapixel_jpeg, qr.label_url(app.config["BASE_URL"], assets[0].tag)).result()
        print(f"photo: 4000 × 3000 JPEG, {len(jpeg) / 1024 / 1024:.1f} MiB, with one QR label in view")

        client = app.test_client()
        baseline = peak_rss_mib()
        posts = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            answer = client.post("/api/photos", headers={"Authorization": f"Bearer {token}"},
                                 content_type="multipart/form-data",
                                 data={"id": str(uuid.uuid4()), "site_id": str(site.id),
                                       "file": (io.BytesIO(jpeg), "IMG_0001.JPG")})
            posts.append(time.perf_counter() - started)
            assert answer.status_code == 201, answer.get_json()
            assert answer.get_json().get("asset_id") == assets[0].id, "the label in the photo was not found"
        after_posts = peak_rss_mib()

        work, scans = [], []
        tracemalloc.start()
        for _ in range(ROUNDS):
            started = time.perf_counter()
            processed = photos.process(io.BytesIO(jpeg), scan_qr=False)
            work.append(time.perf_counter() - started)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        stored = Image.open(io.BytesIO(processed.data))
        for _ in range(ROUNDS):
            started = time.perf_counter()
            photos.qr_tags(stored)
            scans.append(time.perf_counter() - started)

        print(f"POST /api/photos, whole request:   median {statistics.median(posts) * 1000:6.0f} ms"
              f"   (min {min(posts) * 1000:.0f}, max {max(posts) * 1000:.0f}, {ROUNDS} uploads)")
        print(f"  decode + orient + strip + store-encode + thumbnail: median {statistics.median(work) * 1000:6.0f} ms")
        print(f"  QR scan of the stored image:                       median {statistics.median(scans) * 1000:6.0f} ms")
        print(f"  stored: {processed.width} × {processed.height}, {len(processed.data) / 1024 / 1024:.1f} MiB; "
              f"thumbnail {len(processed.thumb) / 1024:.0f} KiB")
        print(f"peak memory: process RSS {after_posts:.0f} MiB (was {baseline:.0f} MiB before the uploads); "
              f"Python heap peak while processing {traced_peak / 1024 / 1024:.1f} MiB")

        for paper in ("a4", "letter", "62mm"):
            times = []
            for _ in range(ROUNDS):
                qr.qr_modules.cache_clear()
                started = time.perf_counter()
                pdf = qr.labels_pdf(assets, qr.PAPERS[paper], app.config["BASE_URL"])
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            qr.labels_pdf(assets, qr.PAPERS[paper], app.config["BASE_URL"])
            cached = time.perf_counter() - started
            print(f"labels.pdf, {LABELS} assets on {paper:<6}: median {statistics.median(times) * 1000:5.0f} ms, "
                  f"{len(pdf) / 1024:.0f} KiB ({cached * 1000:.0f} ms again with the QR codes already made)")
        started = time.perf_counter()
        png = qr.labels_png(assets, qr.PAPERS["a4"], app.config["BASE_URL"])
        print(f"labels.png preview, one A4 sheet:   {(time.perf_counter() - started) * 1000:5.0f} ms, "
              f"{len(png) / 1024:.0f} KiB")
        db.session.remove()
        db.engine.dispose()
    big_photos()


if __name__ == "__main__":
    main()
