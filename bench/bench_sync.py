"""Sync and the field app: one sync of 1,000 mutations beside the raw sqlite3 floor of the same writes, its
replay, the statements (database round trips) a batch of 10 and of 1,000 takes, the bundle of a 2,000-item
site, and the field app's first-load bytes, each with peak Python memory.

    python bench/bench_sync.py            # SQLite in a temp dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/fk_bench python bench/bench_sync.py
"""
import json
import os
import resource
import sqlite3
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import event, func, select, text

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
    return result, seconds


def floor(folder: Path, count: int = 1000) -> float:
    """Seconds raw sqlite3 takes for the writes of `count` mutations, each alone as the app once did them:
    look up the id, then in a savepoint update the item, add its history row and the mutation row."""
    conn = sqlite3.connect(folder / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, status TEXT, note TEXT, measurements TEXT, rev INT, "
                 "seq INT, updated_at TEXT, updated_by_id INT)")
    conn.execute("CREATE TABLE item_event (id INTEGER PRIMARY KEY, item_id INT, site_id INT, rev INT, "
                 "base_rev INT, kind TEXT, changes TEXT, user_id INT, device_id TEXT, mutation_id TEXT, at TEXT)")
    conn.execute("CREATE TABLE mutation (id TEXT PRIMARY KEY, payload_hash TEXT, type TEXT, site_id INT, "
                 "user_id INT, device_id TEXT, status TEXT, received_at TEXT)")
    conn.executemany("INSERT INTO item VALUES (?, 'todo', '', '{}', 1, 0, '', NULL)", [(n,) for n in range(count)])
    ids = [str(uuid.uuid4()) for _ in range(count)]
    now = "2026-01-01 00:00:00+00:00"
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for n, mutation_id in enumerate(ids):
        conn.execute("SELECT payload_hash FROM mutation WHERE id = ?", (mutation_id,)).fetchone()
        conn.execute("SAVEPOINT one")
        conn.execute("UPDATE item SET status = 'pass', note = ?, rev = rev + 1, seq = 1, updated_at = ?, "
                     "updated_by_id = 1 WHERE id = ?", (f"checked {n}", now, n))
        conn.execute("INSERT INTO item_event (item_id, site_id, rev, base_rev, kind, changes, user_id, device_id, "
                     "mutation_id, at) VALUES (?, 1, 2, 1, 'update', ?, 1, 'bench-phone', ?, ?)",
                     (n, json.dumps({"status": ["todo", "pass"], "note": ["", f"checked {n}"]}), mutation_id, now))
        conn.execute("INSERT INTO mutation VALUES (?, ?, 'item.update', 1, 1, 'bench-phone', 'applied', ?)",
                     (mutation_id, "0" * 64, now))
        conn.execute("RELEASE one")
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


class Statements:
    """Counts the statements sent to the database (an executemany counts once): its round trips."""

    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self.seen)

    def seen(self, *args) -> None:
        self.count += 1


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
        dialect = db.engine.dialect.name
        print(f"database: {dialect}")
        statements = Statements(db.engine)
        def create(name):
            made = sites.create_site(db.session, {
                "name": name, "client": "Bench Ltd", "template": "big-move",
                "move_in": (date.today() + timedelta(days=30)).isoformat(),
                "rooms": [f"Room {n}" for n in range(ROOMS)], "technicians": ["tech@bench.test"]},
                app.extensions["templates"])
            db.session.commit()
            return made

        site, _ = measured("create a 2,000-item site from its template", lambda: create("Bench tower"),
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

    raw, _ = measured(f"bundle of the {count:,}-item site (GET)", get_bundle)
    bundle = json.loads(raw)
    print(f"{'':<44} {len(raw) / 1024:9.0f} KiB of JSON, {len(bundle['items']):,} items")

    def batch(items, cursor=bundle["cursor"]):
        return {"device_id": "bench-phone", "cursor": cursor, "mutations": [
            {"id": str(uuid.uuid4()), "type": "item.update", "item_id": item["id"], "base_rev": item["rev"],
             "set": {"status": "pass", "note": f"checked {n}",
                     **({"measurements": {"download_mbps": 250}} if item["thresholds"] else {})}}
            for n, item in enumerate(items)]}

    def sync(body):
        response = client.post("/api/sync", json=body, headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    raw_floor = floor(workdir)
    print(f"{'raw sqlite3 floor of 1,000 mutations':<44} {raw_floor * 1000:9.0f} ms   (look-up, savepoint, item "
          "update, history row, mutation row each)")
    body, twin = batch(bundle["items"][:1000]), batch(bundle["items"][1000:2000])
    first, seconds = measured("one sync of 1,000 mutations", lambda: sync(body), lambda: sync(twin))
    statuses = {a["status"] for a in first["acks"]}
    print(f"{'':<44} acks {sorted(statuses)}, {len(first['changes']):,} changes pulled back")
    print(f"{'':<44} {seconds / raw_floor:9.1f} x the raw sqlite3 floor")
    replay, _ = measured("the same sync replayed", lambda: sync(body))
    assert {a["status"] for a in replay["acks"]} == {"duplicate"}
    with app.app_context():
        print(f"{'':<44} after replays: {db.session.scalar(select(func.count()).select_from(Mutation)):,} mutations, "
              f"{db.session.scalar(select(func.count()).select_from(ItemEvent)):,} history events (2 batches)")

    fresh = json.loads(get_bundle())["items"]
    small, small_twin = batch(fresh[:100]), batch(fresh[100:200])
    measured("one sync of 100 (the field app's batch)", lambda: sync(small), lambda: sync(small_twin))

    fresh = json.loads(get_bundle())
    for size, items in ((10, fresh["items"][:10]), (1000, fresh["items"][10:1010])):
        body_of_size = batch(items, fresh["cursor"])
        statements.count = 0
        start = time.perf_counter()
        assert {a["status"] for a in sync(body_of_size)["acks"]} == {"applied"}
        seconds = time.perf_counter() - start
        print(f"{f'statements of a sync of {size:,} ({dialect})':<44} {statements.count:9}      "
              f"({seconds * 1000:.0f} ms)")

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
