"""The bulk sync path: a batch costs the same number of database statements however many mutations it holds,
and still answers each mutation as if it had been applied alone."""
import hashlib
import uuid

import pytest
from sqlalchemy import event, func, insert, select

from fieldkit import sync
from fieldkit.db import db
from fieldkit.models import Item, ItemEvent, Mutation
from tests.conftest import update
from tests.evidence import upsert


@pytest.fixture
def big_site(api):
    """An office move with 40 rooms (298 items), `tech` assigned, as a phone first pulls it."""
    response = api["pm"].post("/api/sites", {
        "name": "Big floor", "client": "Acme Dental", "template": "office-move", "move_in": "2031-03-01",
        "rooms": [f"Room {n}" for n in range(40)], "technicians": ["tech@example.com"]})
    assert response.status_code == 201, response.get_json()
    site = response.get_json()
    return site, api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()


@pytest.fixture
def statements(app):
    """statements(fn): how many statements the database was sent while fn() ran (an executemany is one)."""
    def count(fn):
        seen = []
        with app.app_context():
            engine = db.engine
        def listener(*args):
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", listener)
        try:
            result = fn()
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen), result
    return count


def notes(items, start=0):
    return [update(item, {"status": "pass", "note": f"checked {start + n}"}) for n, item in enumerate(items)]


def test_a_batch_of_200_takes_as_many_statements_as_a_batch_of_10(api, big_site, statements):
    _, bundle = big_site
    items = bundle["items"]
    assert len(items) >= 220
    api["tech"].sync([], cursor=bundle["cursor"])  # the token's use is recorded: later requests do the same work
    counts = []
    for batch in (notes(items[:10]), notes(items[10:210])):
        count, answer = statements(lambda batch=batch: api["tech"].sync(batch, cursor=bundle["cursor"]))
        assert {a["status"] for a in answer.get_json()["acks"]} == {"applied"}
        counts.append(count)
    assert counts[0] == counts[1], counts
    assert counts[0] < 40


def test_bad_mutations_in_the_middle_of_a_big_batch_are_rejected_alone(api, big_site, look):
    _, bundle = big_site
    items = bundle["items"]
    hidden = api["pm"].post("/api/sites", {"name": "Not yours", "client": "Acme Dental", "template": "mfa-rollout",
                                           "move_in": "2031-01-05"}).get_json()
    foreign = api["pm"].get(f"/api/sites/{hidden['id']}/bundle").get_json()["items"][0]
    batch = notes(items[:250])
    bad = {50: update(items[250], {"status": "done"}), 100: update({"id": 999999, "rev": 1}, {"note": "x"}),
           150: update(foreign, {"status": "pass"}), 200: update(items[251], {"status": "na"})}
    for position, mutation in sorted(bad.items()):
        batch.insert(position, mutation)
    acks = api["tech"].sync(batch).get_json()["acks"]
    assert [(n, a["error"]["code"]) for n, a in enumerate(acks) if a["status"] == "rejected"] == [
        (50, "bad_status"), (100, "not_found"), (150, "not_found"), (200, "na_needs_reason")]
    assert all(a["status"] == "applied" for n, a in enumerate(acks) if n not in bad)
    assert acks[100]["error"]["message"] == acks[150]["error"]["message"].replace(str(foreign["id"]), "999999")
    stored = look(lambda session: dict(session.execute(
        select(Item.id, Item.rev).where(Item.id.in_([i["id"] for i in items[:252]] + [foreign["id"]]))).all()))
    assert [stored[i["id"]] for i in items[:250]] == [i["rev"] + 1 for i in items[:250]]
    assert (stored[items[250]["id"]], stored[items[251]["id"]], stored[foreign["id"]]) == (1, 1, 1)
    assert look(lambda session: session.scalar(select(func.count()).select_from(Mutation))) == 250
    assert look(lambda session: session.scalar(select(func.count()).select_from(ItemEvent))) == 250


def digest_of(mutation: dict) -> str:
    return hashlib.sha256(sync.payload_text(mutation).encode()).hexdigest()


@pytest.mark.parametrize(("same_change", "expected"), [(True, ("duplicate", None)), (False, ("rejected", "id_reused"))])
def test_an_id_recorded_by_another_request_after_the_look_up_is_answered_as_a_repeat(api, big_site, monkeypatch,
                                                                                     look, same_change, expected):
    """The one database error left (the mutation id's unique key) costs only that mutation: the rest applies."""
    site, bundle = big_site
    items = bundle["items"]
    batch = notes(items[:50])
    taken = batch[20]
    real_seen, calls = sync._seen, []

    def seen_then_taken(session, ids):
        found = real_seen(session, ids)
        if not calls:  # right after the look-up, as a request that ignored the sync counter would
            session.execute(insert(Mutation).values(
                id=taken["id"], payload_hash=digest_of(taken) if same_change else "0" * 64, type="item.update",
                site_id=site["id"], device_id="another-phone", status="applied"))
        calls.append(ids)
        return found

    monkeypatch.setattr(sync, "_seen", seen_then_taken)
    answer = api["tech"].sync(batch)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    acks = answer.get_json()["acks"]
    assert (acks[20]["status"], acks[20].get("error", {}).get("code")) == expected
    assert [a["status"] for n, a in enumerate(acks) if n != 20] == ["applied"] * 49
    assert len(calls) == 2  # the write failed once on that id, was found taken, and went again without it
    revs = look(lambda session: dict(session.execute(select(Item.id, Item.rev)).all()))
    assert revs[items[20]["id"]] == items[20]["rev"]
    assert all(revs[i["id"]] == i["rev"] + 1 for n, i in enumerate(items[:50]) if n != 20)
    assert look(lambda session: session.scalar(select(func.count()).select_from(ItemEvent))) == 49


def test_the_same_id_twice_in_one_batch_is_answered_as_before(api, big_site, look):
    site, bundle = big_site
    items = bundle["items"]
    once = update(items[0], {"note": "first"})
    reused = update(items[1], {"note": "second"})
    refused_first = update(items[2], {"status": "done"})
    fixed = {**refused_first, "set": {"status": "pass"}}
    asset = upsert(site["id"], kind="ap", room="Room 1")
    batch = [once, dict(once), reused, {**reused, "set": {"note": "changed"}}, refused_first, fixed,
             asset, {**update(items[3], {"note": "x"}), "id": asset["id"]}]
    earlier = update(items[4], {"note": "sent yesterday"})
    assert api["tech"].sync([earlier]).get_json()["acks"][0]["status"] == "applied"
    acks = api["tech"].sync(batch + [earlier, {**earlier, "set": {"note": "other"}}]).get_json()["acks"]
    assert [(a["status"], a.get("error", {}).get("code")) for a in acks] == [
        ("applied", None), ("duplicate", None), ("applied", None), ("rejected", "id_reused"),
        ("rejected", "bad_status"), ("applied", None), ("applied", None), ("rejected", "id_reused"),
        ("duplicate", None), ("rejected", "id_reused")]
    stored = look(lambda session: {i.id: (i.status, i.note, i.rev) for i in session.execute(
        select(Item).where(Item.id.in_([i["id"] for i in items[:5]]))).scalars()})
    assert [stored[i["id"]] for i in items[:5]] == [("todo", "first", 2), ("todo", "second", 2),
                                                    ("pass", "", 2), ("todo", "", 1), ("todo", "sent yesterday", 2)]
    assert look(lambda session: session.scalar(select(func.count()).select_from(Mutation))) == 5


def test_many_changes_to_one_item_in_one_batch_keep_every_revision(api, big_site, look):
    """Edits of one item, some on a revision another device has since changed: each is its own revision,
    the technician's own later edits are no conflict, and the other device's result makes a dispute."""
    _, bundle = big_site
    item = bundle["items"][0]
    assert api["pm"].sync([update(item, {"status": "fail", "note": "seen broken"})],
                          device="laptop").get_json()["acks"][0]["status"] == "applied"
    taps = [update(item, {"note": "looking"}), update(item, {"status": "pass"}),
            update(item, {"status": "pass", "note": "fixed"}), update(item, {"note": "fixed, tested"}, base_rev=5)]
    acks = api["tech"].sync(taps, device="phone").get_json()["acks"]
    assert [a["status"] for a in acks] == ["conflict", "conflict", "conflict", "applied"]
    events = look(lambda session: [(e.rev, e.kind, e.device_id) for e in session.execute(
        select(ItemEvent).where(ItemEvent.item_id == item["id"]).order_by(ItemEvent.rev)).scalars()])
    assert events == [(2, "update", "laptop"), (3, "conflict", "phone"), (4, "dispute", "phone"),
                      (5, "conflict", "phone"), (6, "update", "phone")]
    row = look(lambda session: session.get(Item, item["id"]))
    assert (row.status, row.note, row.rev, row.disputed) == ("pass", "fixed, tested", 6, True)


def test_a_pull_in_the_answer_carries_the_batch_own_changes_and_a_cursor_already_committed(api, big_site, look):
    _, bundle = big_site
    item = bundle["items"][0]
    answer = api["tech"].sync([update(item, {"note": "done"})], cursor=bundle["cursor"]).get_json()
    assert [c["data"]["note"] for c in answer["changes"] if c["type"] == "item"] == ["done"]
    committed = look(lambda session: sync.current_cursor(session))
    assert answer["cursor"] == committed == bundle["cursor"] + 1
    assert api["tech"].sync([], cursor=answer["cursor"], device=str(uuid.uuid4())).get_json()["changes"] == []
