"""Transfer sizes: what a phone downloads to open the field app the first time, and the bundle of a 2,000-item
site, as the server sends them uncompressed, as gzip and as br (with the time each answer takes).

    python bench/bench_transfer.py            # SQLite in a temp dir
"""
import json
import re
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from synthetic import write_template

from fieldkit import accounts, create_app
from fieldkit.cli import init_db
from fieldkit.db import db

ENCODINGS = ("identity", "gzip", "br")
ROOMS, PER_ROOM, SITE_WIDE = 50, 40, 10  # 10 + 40 x 50 rooms = 2,010 items, as in bench_sync


def sent(client, url: str, headers: dict) -> dict[str, tuple[int, float]]:
    """Bytes on the wire and milliseconds for `url`, asked with each Accept-Encoding."""
    answers = {}
    for encoding in ENCODINGS:
        start = time.perf_counter()
        with client.get(url, headers={**headers, "Accept-Encoding": encoding}) as response:
            assert response.status_code == 200, (url, response.status_code)
            size = len(response.get_data())
        answers[encoding] = (size, (time.perf_counter() - start) * 1000)
    return answers


def row(label: str, sizes: dict[str, int]) -> str:
    return f"  {label:<46}" + "".join(f"{sizes[e]:>10,}" for e in ENCODINGS)


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fk-bench-transfer-"))
    (workdir / "checklists").mkdir()
    write_template(workdir / "checklists", "big-move", SITE_WIDE + PER_ROOM, per_room_from=SITE_WIDE)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.db'}",
                      "CHECKLIST_DIR": str(workdir / "checklists"), "PHOTO_DIR": str(workdir / "photos")})
    with app.app_context():
        init_db()
        for email, role in (("pm@bench.test", "pm"), ("tech@bench.test", "tech")):
            accounts.create_user(db.session, email, role, "bench-password")
        db.session.commit()
        pm, tech = (accounts.create_token(db.session, email) for email in ("pm@bench.test", "tech@bench.test"))
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    as_pm, as_tech = {"Authorization": f"Bearer {pm}"}, {"Authorization": f"Bearer {tech}"}

    worker = client.get("/sw.js").get_data(as_text=True)
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", worker).group(1))
    urls = ["/field/", "/sw.js", *precache]  # the worker fetches the shell again, as /static/field/index.html
    print(f"field app, first load: the shell, the worker and the {len(precache)} files it precaches (bytes)")
    print(f"  {'':<46}" + "".join(f"{e:>10}" for e in ENCODINGS))
    totals = dict.fromkeys(ENCODINGS, 0)
    for url in urls:
        sizes = {e: size for e, (size, _) in sent(client, url, as_tech).items()}
        print(row(url.split("?v=")[0], sizes))
        totals = {e: totals[e] + sizes[e] for e in ENCODINGS}
    print(row(f"total, {len(urls)} answers", totals))
    print(f"  {'':<46}" + "".join(f"{totals[e] / 1024:>6.1f} KiB" for e in ENCODINGS))

    made = client.post("/api/sites", headers=as_pm, json={
        "name": "Bench tower", "client": "Bench Ltd", "template": "big-move",
        "move_in": (date.today() + timedelta(days=30)).isoformat(),
        "rooms": [f"Room {n}" for n in range(ROOMS)], "technicians": ["tech@bench.test"]})
    assert made.status_code == 201, made.get_json()
    url = f"/api/sites/{made.get_json()['id']}/bundle"
    items = len(client.get(url, headers=as_tech).get_json()["items"])
    sent(client, url, as_tech)  # once to warm up
    answers = sent(client, url, as_tech)
    print(f"\nbundle of the {items:,}-item site (GET {url})")
    for encoding, (size, ms) in answers.items():
        print(f"  {encoding:<9} {size:>10,} bytes  {size / 1024:7.1f} KiB  {ms:6.0f} ms")


if __name__ == "__main__":
    main()
