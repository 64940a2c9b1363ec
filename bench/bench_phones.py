"""30 phones syncing at once: gunicorn on PostgreSQL, each phone a technician with its own token and device,
10 to a site, sending batches of 50 item changes for 20 s. Prints throughput, p50/p95 latency and errors
(an answer that is not 200, or an ack that is not applied, duplicate or conflict); there must be none.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/fk_bench python bench/bench_phones.py [port]

The database named is emptied first.
"""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import requests
from sqlalchemy import text

from fieldkit import accounts, create_app, sites
from fieldkit.cli import init_db
from fieldkit.db import db

ROOT = Path(__file__).resolve().parent.parent

PHONES = 30
PER_SITE = 10
BATCH = 50
SECONDS = 20
OK = {"applied", "duplicate", "conflict"}


def prepare(url: str) -> list[tuple[str, int]]:
    """An empty database with 3 sites and 30 technicians; (token, site id) per phone."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        init_db()
        accounts.create_user(db.session, "pm@bench.test", "pm", "bench-password")
        emails = [f"tech{n}@bench.test" for n in range(PHONES)]
        for email in emails:
            accounts.create_user(db.session, email, "tech", "bench-password")
        db.session.commit()
        phones = []
        for first in range(0, PHONES, PER_SITE):
            site = sites.create_site(db.session, {
                "name": f"Bench office {first // PER_SITE + 1}", "client": "Bench Ltd", "template": "office-move",
                "move_in": (date.today() + timedelta(days=30)).isoformat(),
                "rooms": ["Reception", "Open office", "Boardroom", "Comms room"],
                "technicians": emails[first:first + PER_SITE]}, app.extensions["templates"])
            db.session.commit()
            phones += [(accounts.create_token(db.session, email), site.id) for email in emails[first:first + PER_SITE]]
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return phones


class Results:
    def __init__(self):
        self.latencies: list[float] = []
        self.mutations = 0
        self.errors: list[str] = []
        self.lock = threading.Lock()


def phone(base: str, token: str, site_id: int, end: float, results: Results) -> None:
    """A technician's phone: pulls its site, then sends batches of 50 note changes until the time is up."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    device = f"bench-phone-{uuid.uuid4()}"
    bundle = http.get(f"{base}/api/sites/{site_id}/bundle", timeout=60).json()
    items, cursor, round_ = {i["id"]: i for i in bundle["items"]}, bundle["cursor"], 0
    ids = list(items)
    while time.monotonic() < end:
        round_ += 1
        chosen = [ids[(round_ * BATCH + n) % len(ids)] for n in range(BATCH)]
        batch = [{"id": str(uuid.uuid4()), "type": "item.update", "item_id": item_id,
                  "base_rev": items[item_id]["rev"], "set": {"note": f"{device} round {round_}"}}
                 for item_id in dict.fromkeys(chosen)]
        start = time.perf_counter()
        response = http.post(f"{base}/api/sync", json={"device_id": device, "cursor": cursor, "mutations": batch},
                             timeout=60)
        took = time.perf_counter() - start
        problems = []
        if response.status_code != 200:
            problems.append(f"POST /api/sync -> {response.status_code} {response.text[:200]}")
        else:
            answer = response.json()
            problems += [f"ack {ack}" for ack in answer["acks"] if ack["status"] not in OK]
            for change in answer["changes"]:
                if change["type"] == "item" and change["id"] in items:
                    items[change["id"]] = change["data"]
            cursor = answer["cursor"]
        with results.lock:
            results.latencies.append(took)
            results.mutations += len(batch) if response.status_code == 200 else 0
            results.errors += problems


def main() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is emptied first).")
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5771
    phones = prepare(url)
    base = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="fk-bench-phones-"))
    env = {**os.environ, "SECRET_KEY": "bench-phones-secret", "FIELDKIT_ENV": "production",
           "FIELDKIT_PHOTO_DIR": str(workdir / "photos"), "FIELDKIT_BASE_URL": base}
    workers = os.cpu_count() or 2
    log_path = workdir / "gunicorn.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", "4", "-b",
                                   f"127.0.0.1:{port}", "app:app"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                sys.exit("gunicorn stopped:\n" + log_path.read_text())
            try:
                if requests.get(base + "/login", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                sys.exit("gunicorn did not answer:\n" + log_path.read_text())
            time.sleep(0.2)
        results = Results()
        end = time.monotonic() + SECONDS
        threads = [threading.Thread(target=phone, args=(base, token, site_id, end, results))
                   for token, site_id in phones]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - start
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    latencies = sorted(results.latencies)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    print(f"gunicorn -w {workers} --threads 4 on PostgreSQL; {PHONES} phones ({PHONES // PER_SITE} sites), "
          f"batches of {BATCH}, {elapsed:.1f} s")
    print(f"throughput   {results.mutations / elapsed:8.0f} mutations/s   {len(latencies) / elapsed:6.1f} requests/s")
    print(f"latency      p50 {cuts[49] * 1000:6.0f} ms   p95 {cuts[94] * 1000:6.0f} ms   "
          f"max {latencies[-1] * 1000:6.0f} ms   ({len(latencies)} syncs)")
    print(f"errors       {len(results.errors)}")
    for problem in results.errors[:10]:
        print("   ", problem)
    sys.exit(1 if results.errors else 0)


if __name__ == "__main__":
    main()
