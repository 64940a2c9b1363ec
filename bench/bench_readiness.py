"""Readiness for a 2,000-item site, and the board for 200 sites with its SQL query count.

    python bench/bench_readiness.py            # SQLite in a temp dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/fk_bench python bench/bench_readiness.py
"""
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import event, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from synthetic import write_template

from fieldkit import accounts, create_app, readiness, sites, verdicts
from fieldkit.cli import init_db
from fieldkit.db import db
from fieldkit.models import Item


def timed(fn, repeat=5):
    """(result, median seconds, peak Python memory in bytes): timed first on its own, since tracemalloc
    slows Python down, then run once more under tracemalloc for the memory peak."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, statistics.median(times), peak


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    for path in (Path(__file__).resolve().parent.parent / "checklists").glob("*.toml"):
        (tmp / path.name).write_text(path.read_text())
    write_template(tmp, "big", 2000)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "CHECKLIST_DIR": str(tmp)})
    templates = app.extensions["templates"]
    accounts.PASSWORD_METHOD = "pbkdf2:sha256:1000"
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        init_db()
        print(f"database: {db.engine.dialect.name}")
        move_in = (date.today() + timedelta(days=30)).isoformat()

        big = sites.create_site(db.session, {"name": "Big", "client": "Bench", "move_in": move_in,
                                             "template": "big"}, templates)
        db.session.commit()
        items = db.session.execute(select(Item).where(Item.site_id == big.id)).scalars().all()
        rng = random.Random(1)
        for item in items:
            item.status = rng.choice(["pass", "pass", "pass", "todo", "fail", "na"])
            item.note = "n/a here" if item.status == "na" else ""
            if item.thresholds:
                item.measurements = {"speed_mbps": rng.choice([50, 150])}
        db.session.commit()
        photos, assets = verdicts.item_counts(db.session, [big.id])
        site_facts, item_facts = verdicts.facts(big, items, photos, assets, date.today())
        verdict, pure, peak_pure = timed(lambda: readiness.assess(site_facts, item_facts))
        _, with_db, _ = timed(lambda: (verdicts.refresh(db.session, [big]), db.session.commit()))
        print(f"readiness, 2,000-item site: assess {pure * 1000:.1f} ms (peak {peak_pure / 2**20:.1f} MiB), "
              f"load + assess + store {with_db * 1000:.1f} ms; verdict {verdict.status}, score {verdict.score}")

        queries = []
        event.listen(db.engine, "before_cursor_execute", lambda *a, **k: queries.append(a[2]))

        def board_queries() -> tuple[int, int]:
            db.session.expunge_all()
            verdicts.refresh_stale(db.session, sites.load_for_board(db.session))  # as the day's first read does
            db.session.commit()
            db.session.expunge_all()
            queries.clear()
            return len(sites.board(db.session, sites.load_for_board(db.session))), len(queries)

        few = board_queries()
        for n in range(200):
            sites.create_site(db.session, {"name": f"Site {n:03}", "client": f"Client {n % 40}",
                                           "move_in": (date.today() + timedelta(days=5 + n % 60)).isoformat(),
                                           "template": "office-move", "rooms": ["A", "B", "C", "D"]}, templates)
            if n % 20 == 19:
                db.session.commit()
        db.session.commit()
        many = board_queries()
        print(f"board SQL queries: {few[1]} with {few[0]} site(s), {many[1]} with {many[0]} sites")
        board, board_time, peak_board = timed(lambda: (db.session.expunge_all(), sites.board(db.session, sites.load_for_board(db.session)))[1])
        print(f"board, {len(board)} sites: {board_time * 1000:.1f} ms median, peak {peak_board / 2**20:.1f} MiB")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
