"""Many people on one site at once, over real HTTP under gunicorn (two workers, four threads each), on the
suite's database (a SQLite file, or PostgreSQL when DATABASE_URL says so): nobody gets a 5xx, nothing is
applied twice, and sign-offs keep their version order."""
import json
import sqlite3
import threading
import time
import uuid
from datetime import date, timedelta

import pytest
import requests
from psycopg.errors import DeadlockDetected
from sqlalchemy import func, make_url, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import OperationalError

from fieldkit import inventory, photos, sync
from fieldkit.db import db, next_seq
from fieldkit.models import Asset, AssetEvent, Item, ItemEvent, LoginSession, Mutation, Photo, Signoff, utcnow
from tests import servers
from tests.conftest import PASSWORD, login, update
from tests.evidence import encoded, photo_like, upload, upsert
from tests.test_signoff import SIGNATURE

SECONDS = 5  # how long everyone works at once
ROUNDS = 40  # and at most this many requests per person, so a fast machine stops early too
TIMEOUT = 30
CHANGES = 10  # per item in each batch



@pytest.fixture
def gunicorn(app, schema, tmp_path):
    """The real app under `gunicorn -w 2 --threads 4` on the test database; always stopped at the end."""
    with servers.gunicorn(schema, tmp_path, workers=2, ready_path="/login", secret="concurrency-test-secret") as live:
        yield live


@pytest.fixture
def busy_site(api):
    """Acme Dental's office move with both technicians on it, and its items as a phone first pulls them."""
    response = api["pm"].post("/api/sites", {
        "name": "Acme Dental – busy day", "client": "Acme Dental", "template": "office-move",
        "move_in": (date.today() + timedelta(days=20)).isoformat(), "rooms": ["Reception", "Surgery 1"],
        "technicians": ["tech@example.com", "tech2@example.com"]})
    assert response.status_code == 201, response.get_json()
    site = response.get_json()
    return site, api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()["items"]


class Day:
    """What everyone sent and was answered, gathered from many threads."""

    def __init__(self, url: str):
        self.url, self.end = url, time.monotonic() + SECONDS
        self.errors: list[str] = []
        self.acks: list[dict] = []
        self.kinds: dict[str, str] = {}  # mutation id -> type
        self.photos: dict[str, list[int]] = {}
        self.signed: list[int] = []
        self.lock = threading.Lock()

    def going(self, rounds: int) -> bool:
        return rounds < ROUNDS and time.monotonic() < self.end

    def call(self, http: requests.Session, method: str, path: str, expected: tuple[int, ...], **kw):
        response = http.request(method, self.url + path, timeout=TIMEOUT, **kw)
        if response.status_code not in expected:
            with self.lock:
                self.errors.append(f"{method} {path} -> {response.status_code} {response.text[:200]}")
        return response


def bearer(token: str) -> requests.Session:
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def phone(day: Day, token: str, device: str, site_id: int, items: list[dict]) -> None:
    """A technician's phone: batches of note changes and a new asset; one batch in three (the first among them)
    is sent twice, as when an answer is lost on the way back."""
    http, revs, rounds = bearer(token), {item["id"]: item["rev"] for item in items}, 0
    while day.going(rounds):
        rounds += 1
        batch = [{"id": str(uuid.uuid4()), "type": "item.update", "item_id": item_id, "base_rev": rev,
                  "set": {"note": f"{device} round {rounds}.{n}"}} for n in range(CHANGES) for item_id, rev in revs.items()]
        batch.append(upsert(site_id, kind="ap", room="Reception", make=f"{device} {rounds}"))
        for _ in range(2 if rounds % 3 == 1 else 1):
            response = day.call(http, "POST", "/api/sync", (200,),
                                json={"device_id": device, "cursor": 0, "mutations": batch})
            if response.status_code != 200:
                continue
            acks = response.json()["acks"]
            with day.lock:
                day.acks.extend(acks)
                day.kinds.update((m["id"], m["type"]) for m in batch)
            for mutation, ack in zip(batch, acks, strict=True):
                if ack["status"] == "applied" and mutation["type"] == "item.update":
                    revs[mutation["item_id"]] += 1


def photographer(day: Day, token: str, site_id: int, item_id: int, jpeg: bytes) -> None:
    """Photos of one item, each uploaded once more after a lost answer now and then."""
    http, rounds = bearer(token), 0
    while day.going(rounds):
        rounds += 1
        photo_id = str(uuid.uuid4())
        for _ in range(2 if rounds % 2 == 1 else 1):
            response = day.call(http, "POST", "/api/photos", (200, 201),
                                data={"id": photo_id, "site_id": str(site_id), "item_id": str(item_id)},
                                files={"file": ("photo.jpg", jpeg, "image/jpeg")})
            with day.lock:
                day.photos.setdefault(photo_id, []).append(response.status_code)


def signer(day: Day, token: str, site_id: int) -> None:
    """The client reads what is open and signs for it, again and again."""
    http, rounds = bearer(token), 0
    while day.going(rounds):
        rounds += 1
        state = day.call(http, "GET", f"/api/sites/{site_id}/signoff", (200,))
        if state.status_code != 200:
            continue
        accept = [e["item_id"] for e in state.json()["exceptions"]]
        response = day.call(http, "POST", f"/api/sites/{site_id}/signoff", (201,),
                            json={"name": "Helen Finch", "signature": SIGNATURE, "accept": accept})
        if response.status_code == 201:
            with day.lock:
                day.signed.append(response.json()["id"])


def project_manager(day: Day, site_id: int) -> None:
    """A PM signed in with a browser keeps the board and the site page open."""
    http, rounds = requests.Session(), 0
    page = http.get(day.url + "/login", timeout=TIMEOUT).text
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    http.post(day.url + "/login", data={"email": "pm@example.com", "password": PASSWORD, "csrf_token": token},
              timeout=TIMEOUT)
    while day.going(rounds):
        rounds += 1
        day.call(http, "GET", "/board", (200,), allow_redirects=False)
        day.call(http, "GET", f"/sites/{site_id}", (200,), allow_redirects=False)


def script(day: Day, token: str, site_id: int) -> None:
    """A reporting script reads the site's readiness with its API token."""
    http, rounds = bearer(token), 0
    while day.going(rounds):
        rounds += 1
        day.call(http, "GET", f"/api/sites/{site_id}/readiness", (200,))


def test_syncs_photos_and_sign_offs_on_one_site_at_once_never_fail_or_apply_twice(app, people, busy_site,
                                                                                 gunicorn):
    site, items = busy_site
    url, log_path = gunicorn
    day = Day(url)
    jpeg = encoded(photo_like(320, 240), "JPEG", quality=80)
    # Each phone edits items of its own (so every change applies, none conflicts); photos go on others.
    workers = [
        threading.Thread(target=phone, args=(day, people["tech"], "phone-1", site["id"], items[0:3])),
        threading.Thread(target=phone, args=(day, people["tech"], "phone-2", site["id"], items[3:6])),
        threading.Thread(target=phone, args=(day, people["tech2"], "phone-3", site["id"], items[6:9])),
        threading.Thread(target=photographer, args=(day, people["tech"], site["id"], items[9]["id"], jpeg)),
        threading.Thread(target=photographer, args=(day, people["tech2"], site["id"], items[10]["id"], jpeg)),
        threading.Thread(target=signer, args=(day, people["client"], site["id"])),
        threading.Thread(target=signer, args=(day, people["client"], site["id"])),
        threading.Thread(target=project_manager, args=(day, site["id"])),
        threading.Thread(target=script, args=(day, people["pm"], site["id"])),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=SECONDS + 4 * TIMEOUT)

    assert not day.errors, f"{len(day.errors)} failed requests, e.g. {day.errors[:5]}\n" + log_path.read_text()[-3000:]
    assert day.acks and day.photos and day.signed  # everyone got work done

    assert {a["status"] for a in day.acks} == {"applied", "duplicate"}
    applied = [a["id"] for a in day.acks if a["status"] == "applied"]
    assert len(set(applied)) == len(applied), "a mutation was acknowledged as applied twice"
    updates = {i for i in applied if day.kinds[i] == "item.update"}
    with app.app_context():
        session = db.session
        assert session.execute(select(func.count()).select_from(Mutation).where(Mutation.id.in_(day.kinds))
                               ).scalar_one() == len(day.kinds)
        history = dict(session.execute(select(ItemEvent.mutation_id, func.count()).where(
            ItemEvent.site_id == site["id"], ItemEvent.mutation_id.is_not(None)).group_by(ItemEvent.mutation_id)).all())
        assert history == dict.fromkeys(updates, 1), "every applied change is in the history exactly once"
        for item in items[0:9]:
            events = session.execute(select(func.count()).select_from(ItemEvent)
                                     .where(ItemEvent.item_id == item["id"])).scalar_one()
            assert session.get(Item, item["id"]).rev == item["rev"] + events
        created = session.execute(select(func.count()).select_from(AssetEvent).where(AssetEvent.kind == "create")
                                  ).scalar_one()
        assert created == sum(1 for i in applied if day.kinds[i] == "asset.upsert")

        assert all(codes[0] == 201 and set(codes[1:]) <= {200} for codes in day.photos.values()), day.photos
        stored = session.execute(select(Photo.id).where(Photo.site_id == site["id"])).scalars().all()
        assert sorted(stored) == sorted(day.photos), "one photo row per photo id"

        signoffs = session.execute(select(Signoff).where(Signoff.site_id == site["id"]).order_by(Signoff.id)
                                   ).scalars().all()
        assert [row.id for row in signoffs] == sorted(day.signed)
        snapshots = [json.loads(row.snapshot) for row in signoffs]
        assert [s["version"] for s in snapshots] == list(range(1, len(signoffs) + 1))
        assert [s["previous_sha256"] for s in snapshots] == [None] + [row.sha256 for row in signoffs[:-1]]


# --------------------------------------------------------------------------- one request at a time


@pytest.fixture
def deadlock_once(monkeypatch):
    """deadlock_once(module): the module's first readiness refresh is aborted as PostgreSQL aborts a deadlock
    victim, after the request's changes were made and before they are committed."""
    def arrange(module):
        real, calls = module.refresh, []

        def refresh(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise OperationalError("UPDATE site ...", {}, DeadlockDetected("deadlock detected"))
            return real(*args, **kwargs)
        monkeypatch.setattr(module, "refresh", refresh)
        return calls
    return arrange


def test_a_sync_aborted_as_a_deadlock_is_applied_once_when_it_goes_through(app, api, site, bundle, deadlock_once):
    calls = deadlock_once(sync)
    item = bundle["items"][0]
    mutation = update(item, {"status": "pass", "note": "Circuit order confirmed"})
    response = api["tech"].sync([mutation])
    assert response.status_code == 200
    assert [a["status"] for a in response.get_json()["acks"]] == ["applied"]
    assert len(calls) == 2
    with app.app_context():
        assert db.session.get(Item, item["id"]).rev == item["rev"] + 1
        assert db.session.execute(select(func.count()).select_from(ItemEvent)
                                  .where(ItemEvent.mutation_id == mutation["id"])).scalar_one() == 1


def test_a_photo_upload_aborted_as_a_deadlock_reads_the_file_again_and_is_stored_once(app, api, site, deadlock_once):
    calls = deadlock_once(photos)
    data = encoded(photo_like(320, 240), "JPEG")
    response = upload(api, "tech", site["id"], data)
    assert response.status_code == 201, response.get_json()
    assert len(calls) == 2
    with app.app_context():
        assert db.session.execute(select(Photo.id)).scalars().all() == [response.get_json()["id"]]


def test_a_csv_import_aborted_as_a_deadlock_reads_the_body_again(app, api, site, deadlock_once):
    calls = deadlock_once(inventory)
    csv = "kind,room,make,model,serial\nswitch,Comms room,Cisco,C1300,FOC1234\nap,Reception,Ubiquiti,U7,UB-77\n"
    response = api["pm"].client.post(f"/api/sites/{site['id']}/assets.csv", data=csv.encode(),
                                     headers={**api["pm"].headers, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 2
    assert len(calls) == 2
    with app.app_context():
        assert sorted(db.session.execute(select(Asset.serial)).scalars()) == ["FOC1234", "UB-77"]


def test_the_board_and_photos_stay_readable_while_another_writer_commits(app, api, client, site, schema):
    """SQLite: a reader must not wait for (or fail because of) a writer; PostgreSQL readers never do."""
    if make_url(schema).get_backend_name() != "sqlite":
        pytest.skip("a SQLite journal setting")
    photo = upload(api, "tech", site["id"], encoded(photo_like(320, 240), "JPEG")).get_json()
    login(client, "pm@example.com")
    writer = sqlite3.connect(make_url(schema).database, isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")  # what a writer holds while its commit is written
        writer.execute("UPDATE counter SET value = value + 1")
        board = client.get("/board")
        picture = client.get(f"/api/photos/{photo['id']}")
        picture.close()  # the file is sent as a stream
    finally:
        writer.rollback()
        writer.close()
    assert board.status_code == 200
    assert picture.status_code == 200


def test_a_pm_deciding_a_dispute_while_a_phone_syncs_that_item_keeps_both_in_the_history(app, api, site, bundle):
    item = bundle["items"][0]
    for device, status in (("phone-1", "pass"), ("phone-2", "fail")):
        api["tech"].sync([update(item, {"status": status})], device=device)
    with app.app_context():
        phone = db.session
        next_seq(phone)  # a phone's sync, in the middle of its transaction (the lock order every writer keeps)
        synced = phone.get(Item, item["id"], with_for_update=True)
        synced.note, synced.rev = "Patch lead replaced", synced.rev + 1
        phone.add(ItemEvent(item_id=synced.id, site_id=synced.site_id, rev=synced.rev, kind="update",
                            changes={"note": ["", "Patch lead replaced"]}))
        phone.flush()
        decided = []
        pm = threading.Thread(target=lambda: decided.append(
            api["pm"].post(f"/api/items/{item['id']}/resolve", {"status": "pass"}).status_code))
        pm.start()
        pm.join(timeout=1)  # the PM's decision waits for the phone's transaction
        phone.commit()
    pm.join(timeout=TIMEOUT)
    assert decided == [200]
    with app.app_context():
        stored = db.session.get(Item, item["id"])
        revs = db.session.execute(select(ItemEvent.rev).where(ItemEvent.item_id == item["id"])
                                  .order_by(ItemEvent.id)).scalars().all()
        assert (stored.status, stored.note, stored.disputed) == ("pass", "Patch lead replaced", False)
        assert revs == list(range(item["rev"] + 1, stored.rev + 1)), "each change has its own revision"


def test_a_read_whose_hourly_use_record_is_due_waits_for_a_writer_instead_of_failing(app, api, client, site, schema):
    """SQLite: a GET finds its session in a plain read and records the use in a write of its own, so a writer
    committing meanwhile makes it wait, never answer 500 ("database is locked")."""
    if make_url(schema).get_backend_name() != "sqlite":
        pytest.skip("a SQLite locking rule")
    login(client, "pm@example.com")
    with app.app_context():  # last used two hours ago: this request records the use
        db.session.execute(sql_update(LoginSession).values(last_used_at=utcnow() - timedelta(hours=2)))
        db.session.commit()
    writer = sqlite3.connect(make_url(schema).database, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE counter SET value = value + 1")
    committer = threading.Timer(0.5, writer.commit)  # commits while the GET waits to record its use
    committer.start()
    try:
        answer = client.get("/api/board")
    finally:
        committer.join()
        writer.close()
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    with app.app_context():  # the use was recorded
        stamp = db.session.execute(select(LoginSession.last_used_at)).scalar_one()
        assert utcnow() - stamp < timedelta(minutes=1)
