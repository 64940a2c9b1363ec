"""Sync and the field app: one sync of 1,000 mutations, its replay, the bundle of a 2,000-item site, and
the field app's first-load bytes, each with peak Python memory.

    python bench/bench_sync.py            # SQLite in a temp dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/fk_bench python bench/bench_sync.py
"""
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from synthetic import write_template

from fieldkit import accounts, create_app, sites
from fieldkit.cli import init_db
from fieldkit.db import db
from fieldkit.models import Item, ItemEvent, Mutation
from fieldkit.web import field

ROOMS = 50
PER_ROOM = 40
SITE_WIDE = 10  # 10 + 40 x 50 rooms = 2,010 items


def measured(label: str, fn, twin=None):
    """Time fn() on its own (tracemalloc slows Python down), then take the peak Python memory of an
    equivalent run: `twin()` when fn cannot run twice with the same effect, else fn() again."""
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    (twin or fn)()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<44} {seconds * 1000:9.0f} ms   peak {peak / 2**20:7.1f} MiB")
    return result


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fk-bench-sync-"))
    (workdir / "checklists").mkdir()
    write_template(workdir / "checklists", "big-move", SITE_WIDE + PER_ROOM, per_room_from=SITE_WIDE)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "CHECKLIST_DIR": str(workdir / "checklists"),
                      "PHOTO_DIR": str(workdir / "photos")})
    with app.app_context():
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        init_db()
        for email, role in (("pm@bench.test", "pm"), ("tech@bench.test", "tech")):
            accounts.create_user(db.session, email, role, "bench-password")
        db.session.commit()
        token = accounts.create_token(db.session, "tech@bench.test")
        db.session.commit()
        print(f"database: {db.engine.dialect.name}")
        def create(name):
            made = sites.create_site(db.session, {
                "name": name, "client": "Bench Ltd", "template": "big-move",
                "move_in": (date.today() + timedelta(days=30)).isoformat(),
                "rooms": [f"Room {n}" for n in range(ROOMS)], "technicians": ["tech@bench.test"]},
                app.extensions["templates"])
            db.session.commit()
            return made

        site = measured("create a 2,000-item site from its template", lambda: create("Bench tower"),
                        lambda: create("Bench annex"))
        site_id = site.id
        count = db.session.execute(select(func.count()).where(Item.site_id == site_id)).scalar_one()
        db.session.remove()

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def get_bundle():
        response = client.get(f"/api/sites/{site_id}/bundle", headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_data()

    raw = measured(f"bundle of the {count:,}-item site (GET)", get_bundle)
    bundle = json.loads(raw)
    print(f"{'':<44} {len(raw) / 1024:9.0f} KiB of JSON, {len(bundle['items']):,} items")

    def batch(items):
        return {"device_id": "bench-phone", "cursor": bundle["cursor"], "mutations": [
            {"id": str(uuid.uuid4()), "type": "item.update", "item_id": item["id"], "base_rev": item["rev"],
             "set": {"status": "pass", "note": f"checked {n}",
                     **({"measurements": {"download_mbps": 250}} if item["thresholds"] else {})}}
            for n, item in enumerate(items)]}

    def sync(body):
        response = client.post("/api/sync", json=body, headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    body, twin = batch(bundle["items"][:1000]), batch(bundle["items"][1000:2000])
    first = measured("one sync of 1,000 mutations", lambda: sync(body), lambda: sync(twin))
    statuses = {a["status"] for a in first["acks"]}
    print(f"{'':<44} acks {sorted(statuses)}, {len(first['changes']):,} changes pulled back")
    replay = measured("the same sync replayed", lambda: sync(body))
    assert {a["status"] for a in replay["acks"]} == {"duplicate"}
    with app.app_context():
        print(f"{'':<44} after replays: {db.session.scalar(select(func.count()).select_from(Mutation)):,} mutations, "
              f"{db.session.scalar(select(func.count()).select_from(ItemEvent)):,} history events (2 batches)")

    fresh = json.loads(get_bundle())["items"]
    small, small_twin = batch(fresh[:100]), batch(fresh[100:200])
    measured("one sync of 100 (the field app's batch)", lambda: sync(small), lambda: sync(small_twin))

    pull = {"device_id": "bench-phone-2", "cursor": bundle["cursor"], "mutations": []}
    measured("pull of those changes by a second phone", lambda: client.post("/api/sync", json=pull, headers=headers))

    sizes = field.first_load_bytes()
    total = sum(sizes.values())
    print(f"field app first load (HTML + JS + CSS)       {total / 1024:9.1f} KiB  ({total:,} bytes, "
          f"{'under' if total < 100 * 1024 else 'OVER'} the 100 KiB budget)")
    for url_path, size in sorted(sizes.items(), key=lambda pair: -pair[1]):
        print(f"    {url_path:<40} {size:7,}")
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
