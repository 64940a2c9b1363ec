"""Sync (API.md POST /api/sync): every change applied exactly once, acknowledged, and pulled by the others."""
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from fieldkit import sync
from fieldkit.models import DeviceSync, Item, ItemEvent, Mutation
from tests.conftest import login, update


def by_key(bundle, key, room=None):
    return next(i for i in bundle["items"] if i["key"] == key and i["room"] == room)


@pytest.fixture
def server_item(look):
    return lambda item_id: look(lambda session: session.get(Item, item_id))


@pytest.fixture
def count(look):
    return lambda model: look(lambda session: session.execute(select(func.count()).select_from(model)).scalar_one())


def test_replaying_a_batch_three_times_changes_nothing_after_the_first(api, site, bundle, server_item, count):
    order, live = by_key(bundle, "isp-order-confirmed"), by_key(bundle, "isp-circuit-live")
    batch = [update(order, {"status": "pass", "note": "Order ref 7781"}),
             update(live, {"measurements": {"download_mbps": 612, "upload_mbps": 180}})]
    first = api["tech"].sync(batch).get_json()
    assert [a["status"] for a in first["acks"]] == ["applied", "applied"]
    after_first = (server_item(order["id"]).rev, server_item(live["id"]).rev, count(ItemEvent), count(Mutation))
    readiness = api["pm"].get(f"/api/sites/{site['id']}/readiness").get_json()

    for _ in range(2):
        again = api["tech"].sync(batch, cursor=first["cursor"]).get_json()
        assert [a["status"] for a in again["acks"]] == ["duplicate", "duplicate"]
        assert (server_item(order["id"]).rev, server_item(live["id"]).rev, count(ItemEvent),
                count(Mutation)) == after_first
    assert api["pm"].get(f"/api/sites/{site['id']}/readiness").get_json()["score"] == readiness["score"]
    assert server_item(order["id"]).note == "Order ref 7781"
    assert server_item(live["id"]).measurements == {"download_mbps": 612, "upload_mbps": 180}


def test_a_batch_with_bad_mutations_applies_the_rest(api, site, bundle, server_item, count):
    good, other = by_key(bundle, "isp-order-confirmed"), by_key(bundle, "isp-survey-wayleave")
    elsewhere = api["pm"].post("/api/sites", {"name": "Other office", "client": "Acme Dental",
                                              "template": "mfa-rollout", "move_in": "2031-01-05"}).get_json()
    foreign = api["pm"].get(f"/api/sites/{elsewhere['id']}/bundle").get_json()["items"][0]
    batch = [
        {"type": "item.update", "item_id": good["id"], "base_rev": 1, "set": {"status": "pass"}},
        {**update(good, {"status": "pass"}), "type": "item.teleport"},
        {**update(good, {"status": "pass"}), "type": ["item.update"]},
        update(good, {"status": "done"}),
        update(good, {"status": "na"}),
        update(good, {"colour": "green"}),
        update(foreign, {"status": "pass"}),
        {**update(good, {"status": "pass"}), "item_id": 10**30},
        {**update(good, {"status": "pass"}), "item_id": 999999},
        update(good, {"measurements": {"download_mbps": "fast"}}),
        "not a mutation",
        update(good, {"status": "pass", "note": "Confirmed by email"}),
        update(other, {"status": "fail", "note": "Landlord has not signed"}),
    ]
    response = api["tech"].sync(batch)
    assert response.status_code == 200
    acks = response.get_json()["acks"]
    assert [(a["status"], a.get("error", {}).get("code")) for a in acks] == [
        ("rejected", "bad_id"), ("rejected", "unknown_type"), ("rejected", "unknown_type"),
        ("rejected", "bad_status"), ("rejected", "na_needs_reason"), ("rejected", "bad_set"),
        ("rejected", "not_found"), ("rejected", "bad_item_id"), ("rejected", "not_found"),
        ("rejected", "bad_measurements"), ("rejected", "bad_id"), ("applied", None), ("applied", None)]
    assert all(a["error"]["message"] for a in acks if a["status"] == "rejected")
    assert (server_item(good["id"]).status, server_item(good["id"]).note) == ("pass", "Confirmed by email")
    assert server_item(other["id"]).status == "fail"
    assert server_item(foreign["id"]).status == "todo"
    assert count(Mutation) == 2


def test_a_rejected_mutation_can_be_sent_again_once_fixed_elsewhere(api, bundle, count):
    """Rejected means nothing was recorded: the phone keeps it, and the same id still works later."""
    item = by_key(bundle, "isp-order-confirmed")
    mutation = {**update(item, {"status": "pass"}), "type": "asset.upsert.v9"}
    assert api["tech"].sync([mutation]).get_json()["acks"][0]["status"] == "rejected"
    assert api["tech"].sync([mutation]).get_json()["acks"][0]["error"]["code"] == "unknown_type"
    assert count(Mutation) == 0


def test_the_same_id_with_a_different_change_is_rejected_as_reused(api, bundle, server_item):
    item = by_key(bundle, "isp-order-confirmed")
    mutation = update(item, {"status": "pass"})
    assert api["tech"].sync([mutation]).get_json()["acks"][0]["status"] == "applied"
    rev = server_item(item["id"]).rev
    reused = {**mutation, "set": {"status": "fail", "note": "changed my mind"}}
    ack = api["tech"].sync([reused]).get_json()["acks"][0]
    assert ack == {"id": mutation["id"], "status": "rejected",
                   "error": {"code": "id_reused",
                             "message": "This mutation id was already used for a different change."}}
    assert (server_item(item["id"]).status, server_item(item["id"]).rev) == ("pass", rev)


def test_a_sync_that_fails_half_way_leaves_nothing_applied(api, bundle, monkeypatch, server_item, count):
    """The mutation ids are recorded in the same transaction as their effects: all or nothing."""
    first, second = by_key(bundle, "isp-order-confirmed"), by_key(bundle, "isp-survey-wayleave")
    batch = [update(first, {"status": "pass"}), update(second, {"status": "pass"})]

    def broken_refresh(session, sites, today=None):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(sync, "refresh", broken_refresh)
    assert api["tech"].sync(batch).status_code == 500
    assert (server_item(first["id"]).status, server_item(second["id"]).status) == ("todo", "todo")
    assert count(Mutation) == 0

    monkeypatch.undo()
    acks = api["tech"].sync(batch).get_json()["acks"]
    assert [a["status"] for a in acks] == ["applied", "applied"]


def test_a_pull_from_an_old_cursor_returns_every_change_once_page_by_page(api, site, bundle, monkeypatch):
    monkeypatch.setattr(sync, "PAGE", 4)
    start = bundle["cursor"]
    items = [i for i in bundle["items"] if i["status"] == "todo"][:12]
    for n, item in enumerate(items):
        api["tech"].sync([update(item, {"note": f"checked {n}"})], device="phone-a")
    # One change made again later must come once, with its newest state.
    api["tech"].sync([update(items[0], {"note": "checked again"}, base_rev=2)], device="phone-a")

    cursor, seen, pages = start, [], 0
    while True:
        answer = api["tech"].sync([], cursor=cursor, device="phone-b").get_json()
        seen.extend(answer["changes"])
        assert answer["cursor"] >= cursor
        cursor, pages = answer["cursor"], pages + 1
        if not answer["more"]:
            break
    assert pages > 1
    keys = [(c["type"], c["id"]) for c in seen]
    assert len(keys) == len(set(keys)), "a change came twice"
    pulled_items = {c["id"]: c["data"] for c in seen if c["type"] == "item"}
    assert set(pulled_items) == {i["id"] for i in items}
    assert pulled_items[items[0]["id"]]["note"] == "checked again"
    assert ("site", site["id"]) in keys
    assert api["tech"].sync([], cursor=cursor).get_json()["changes"] == []


def test_a_transaction_larger_than_a_page_comes_whole(api, monkeypatch, look):
    monkeypatch.setattr(sync, "PAGE", 5)
    created = api["pm"].post("/api/sites", {"name": "Big move", "client": "Acme Dental", "template": "office-move",
                                            "move_in": "2031-03-01", "rooms": ["A", "B", "C"],
                                            "technicians": ["tech@example.com"]}).get_json()
    answer = api["tech"].sync([], cursor=0).get_json()
    items = [c for c in answer["changes"] if c["type"] == "item"]
    assert len(items) == look(lambda session: session.execute(
        select(func.count()).where(Item.site_id == created["id"])).scalar_one())
    assert len(items) > 5


def test_a_conflict_keeps_both_values_in_the_history(api, site, bundle, server_item, look):
    item = by_key(bundle, "isp-order-confirmed")
    first = api["tech"].sync([update(item, {"note": "Ref 7781, install 3 Dec"})], device="phone").get_json()
    assert first["acks"][0]["status"] == "applied"
    second = api["pm"].sync([update(item, {"note": "Ref 7781, install moved to 5 Dec"})], device="laptop")
    assert second.get_json()["acks"][0]["status"] == "conflict"
    row = server_item(item["id"])
    assert row.note == "Ref 7781, install moved to 5 Dec" and not row.disputed
    events = look(lambda session: session.execute(select(ItemEvent).where(ItemEvent.item_id == item["id"])
                                                  .order_by(ItemEvent.rev)).scalars().all())
    assert [(e.kind, e.changes["note"]) for e in events] == [
        ("update", ["", "Ref 7781, install 3 Dec"]),
        ("conflict", ["Ref 7781, install 3 Dec", "Ref 7781, install moved to 5 Dec"])]
    assert [e.device_id for e in events] == ["phone", "laptop"]


def test_a_technician_changing_their_mind_offline_is_not_a_dispute(api, site, bundle, server_item):
    item = by_key(bundle, "isp-order-confirmed")
    taps = [update(item, {"status": "pass"}), update(item, {"status": "fail", "note": "No written date yet"}),
            update(item, {"status": "pass", "note": "Date confirmed by email"})]
    acks = api["tech"].sync(taps, device="phone").get_json()["acks"]
    assert [a["status"] for a in acks] == ["applied", "applied", "applied"]
    row = server_item(item["id"])
    assert (row.status, row.note, row.disputed) == ("pass", "Date confirmed by email", False)


def test_two_technicians_reporting_different_results_make_the_item_disputed(api, site, bundle, server_item):
    item = by_key(bundle, "isp-order-confirmed")
    assert api["tech"].sync([update(item, {"status": "pass"})], device="phone").get_json()["acks"][0][
        "status"] == "applied"
    ack = api["pm"].sync([update(item, {"status": "fail", "note": "No written date"})], device="laptop")
    assert ack.get_json()["acks"][0]["status"] == "conflict"
    row = server_item(item["id"])
    assert row.disputed
    readiness = api["pm"].get(f"/api/sites/{site['id']}/readiness").get_json()
    assert readiness["disputed"] == 1
    assert any("disputed" in reason for reason in readiness["reasons"])
    board = {e["site_id"]: e for e in api["pm"].get("/api/board").get_json()}
    assert board[site["id"]]["disputed"] == 1
    assert set(board[site["id"]]["last_sync"]) == {"tech@example.com", "pm@example.com"}


def test_a_note_edited_while_someone_else_set_the_status_is_a_conflict_not_a_dispute(api, bundle, server_item):
    item = by_key(bundle, "isp-order-confirmed")
    api["tech"].sync([update(item, {"note": "Chasing the ISP"})], device="phone")
    ack = api["pm"].sync([update(item, {"status": "pass"})], device="laptop").get_json()["acks"][0]
    assert ack["status"] == "conflict"
    assert not server_item(item["id"]).disputed


def test_a_pm_resolves_a_dispute_through_the_api(api, site, bundle, look):
    item = by_key(bundle, "isp-order-confirmed")
    api["tech"].sync([update(item, {"status": "pass"})], device="phone")
    api["pm"].sync([update(item, {"status": "fail", "note": "No written date"})], device="laptop")
    url = f"/api/items/{item['id']}/resolve"
    assert api["tech"].post(url, {"status": "pass"}).status_code == 403
    assert api["client"].post(url, {"status": "pass"}).status_code == 403
    assert api["other_client"].post(url, {"status": "pass"}).status_code == 404
    assert api["pm"].post(url, {"status": "maybe"}).status_code == 400
    answer = api["pm"].post(url, {"status": "pass", "note": "ISP confirmed 3 Dec in writing"})
    assert answer.status_code == 200
    assert answer.get_json()["disputed"] is False
    assert api["pm"].post(url, {"status": "pass"}).get_json()["error"]["code"] == "not_disputed"
    assert api["pm"].get(f"/api/sites/{site['id']}/readiness").get_json()["disputed"] == 0
    kinds = look(lambda session: session.execute(select(ItemEvent.kind).where(ItemEvent.item_id == item["id"])
                                                 .order_by(ItemEvent.rev)).scalars().all())
    assert kinds == ["update", "dispute", "resolve"]
    assert api["pm"].post("/api/items/99999999999999999999/resolve", {"status": "pass"}).status_code == 404


def test_a_pm_resolves_a_dispute_on_the_site_page(client, api, site, bundle, server_item):
    item = by_key(bundle, "isp-order-confirmed")
    api["tech"].sync([update(item, {"status": "pass"})], device="phone")
    api["pm"].sync([update(item, {"status": "fail", "note": "Not live"})], device="tablet")
    login(client, "pm@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "Disputed items" in page and "Internet circuit ordered" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    url = f"/sites/{site['id']}/items/{item['id']}/resolve"
    assert client.post(url, data={"status": "pass", "note": "x"}).status_code == 400  # no CSRF token
    assert server_item(item["id"]).disputed
    answer = client.post(url, data={"status": "pass", "note": "Checked the ISP email", "csrf_token": token},
                         follow_redirects=True)
    assert "resolved as pass" in answer.get_data(as_text=True)
    row = server_item(item["id"])
    assert (row.status, row.note, row.disputed) == ("pass", "Checked the ISP email", False)


@pytest.mark.parametrize(("who", "method", "url", "expected"), [
    ("client", "post", "/api/sync", 403),
    ("other_client", "post", "/api/sync", 403),
    ("tech2", "get", "/api/sites/{site}/bundle", 404),
    ("client", "get", "/api/sites/{site}/bundle", 403),
    ("other_client", "get", "/api/sites/{site}/bundle", 404),
    ("tech", "get", "/api/sites/{site}/bundle", 200),
    ("pm", "get", "/api/sites/{site}/bundle", 200),
    ("tech", "get", "/api/sites/99999999999999999999/bundle", 404),
    (None, "post", "/api/sync", 401),
    (None, "get", "/api/sites/{site}/bundle", 401),
])
def test_who_may_sync_and_download_a_bundle(client, api, site, who, method, url, expected):
    url = url.format(site=site["id"])
    body = {"device_id": "d", "mutations": []}
    if who is None:
        response = getattr(client, method)(url, json=body) if method == "post" else client.get(url)
    else:
        response = api[who].post(url, body) if method == "post" else api[who].get(url)
    assert response.status_code == expected
    if expected >= 400:
        assert set(response.get_json()["error"]) == {"code", "message"}


def test_an_unassigned_technician_cannot_change_an_item_by_its_id(api, bundle, server_item):
    item = by_key(bundle, "isp-order-confirmed")
    ack = api["tech2"].sync([update(item, {"status": "pass"})]).get_json()["acks"][0]
    assert (ack["status"], ack["error"]["code"]) == ("rejected", "not_found")
    assert server_item(item["id"]).status == "todo"


@pytest.mark.parametrize(("body", "code"), [
    ([], "bad_body"), ({"mutations": []}, "bad_device_id"), ({"device_id": "d", "cursor": -1}, "bad_cursor"),
    ({"device_id": "d", "cursor": 10**30}, "bad_cursor"), ({"device_id": "d", "cursor": True}, "bad_cursor"),
    ({"device_id": "d", "mutations": {}}, "bad_mutations"),
    ({"device_id": "d", "mutations": [{}] * 1001}, "batch_too_large"),
])
def test_a_malformed_sync_request_is_refused_with_a_reason(api, body, code):
    response = api["tech"].post("/api/sync", body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


class TestBrowserWrites:
    """Session-cookie writes need the CSRF token, or the field app's header from our own origin."""

    @pytest.fixture
    def browser(self, app, people):
        phone = app.test_client()  # its own cookie jar: a browser, not the scripts' client
        login(phone, "tech@example.com")
        return phone

    def sync(self, browser, headers):
        return browser.post("/api/sync", json={"device_id": "phone", "mutations": []}, headers=headers)

    @pytest.mark.parametrize(("headers", "expected"), [
        ({}, 400),
        ({"X-FieldKit-Client": "field"}, 400),
        ({"X-FieldKit-Client": "field", "Sec-Fetch-Site": "same-origin"}, 200),
        ({"X-FieldKit-Client": "field", "Sec-Fetch-Site": "cross-site"}, 400),
        ({"X-FieldKit-Client": "field", "Sec-Fetch-Site": "same-site"}, 400),
        ({"X-FieldKit-Client": "field", "Origin": "http://localhost"}, 200),
        ({"X-FieldKit-Client": "field", "Origin": "https://evil.example"}, 400),
        ({"Sec-Fetch-Site": "same-origin"}, 400),
        ({"X-CSRFToken": "made-up"}, 400),
    ])
    def test_which_browser_writes_are_accepted(self, browser, headers, expected):
        response = self.sync(browser, headers)
        assert response.status_code == expected
        if expected == 400:
            assert response.get_json()["error"]["code"] == "csrf"

    def test_an_offline_change_made_hours_ago_syncs_without_a_csrf_token(self, app, browser, bundle):
        """The field app's header needs no token that could expire while the phone was offline."""
        item = by_key(bundle, "isp-order-confirmed")
        response = browser.post("/api/sync", json={"device_id": "phone", "mutations": [
            update(item, {"status": "pass"})]}, headers={"X-FieldKit-Client": "field", "Sec-Fetch-Site": "same-origin"})
        assert response.get_json()["acks"][0]["status"] == "applied"

    def test_the_csrf_token_of_the_session_is_accepted(self, browser):
        token = browser.get("/api/me").get_json()["csrf_token"]
        assert self.sync(browser, {"X-CSRFToken": token}).status_code == 200


def test_each_sync_records_when_the_technician_last_synced(api, site, look):
    api["tech"].sync([], device="phone-1")
    api["tech"].sync([], device="phone-1")
    api["tech"].sync([], device="phone-2")
    rows = look(lambda session: session.execute(
        select(DeviceSync.device_id).where(DeviceSync.site_id == site["id"])).scalars().all())
    assert sorted(rows) == ["phone-1", "phone-2"]
    assert "tech@example.com" in api["pm"].get("/api/board").get_json()[0]["last_sync"]


# --------------------------------------------------------------------------- two devices, any interleaving

STATUSES = ("todo", "pass", "fail")


class Device:
    """A phone as the field app works: local copy from pulls, an outbox that empties only on acks."""

    def __init__(self, api, key, bundle):
        self.api, self.key, self.name = api, key, f"{key}-{uuid.uuid4()}"
        self.items = {i["id"]: dict(i) for i in bundle["items"]}
        self.cursor, self.outbox = bundle["cursor"], []

    def edit(self, item_id, changes):
        self.outbox.append({"id": str(uuid.uuid4()), "type": "item.update", "item_id": item_id,
                            "base_rev": self.items[item_id]["rev"], "set": changes})

    def flush(self, answer_lost, applied_log):
        sent = list(self.outbox)
        answer = self.api.sync(sent, cursor=self.cursor, device=self.name)
        assert answer.status_code == 200
        data = answer.get_json()
        for mutation, ack in zip(sent, data["acks"], strict=True):
            assert ack["id"] == mutation["id"] and ack["status"] != "rejected", ack
            if ack["status"] in ("applied", "conflict"):
                applied_log.append((self.key, mutation))
        if answer_lost:
            return  # the phone never heard back: it keeps everything and sends it again later
        acked = {ack["id"] for ack in data["acks"]}
        self.outbox = [m for m in self.outbox if m["id"] not in acked]
        for change in data["changes"]:
            if change["type"] == "item" and change["id"] in self.items:
                self.items[change["id"]] = change["data"]
        self.cursor = data["cursor"]


edits = st.tuples(st.sampled_from("ab"), st.integers(0, 2), st.one_of(
    st.builds(lambda s: {"status": s}, st.sampled_from(STATUSES)),
    st.builds(lambda n: {"note": n}, st.sampled_from(["", "cable loose", "all good", "ISP late"])),
    st.builds(lambda v: {"measurements": {"download_mbps": v}}, st.integers(0, 1000)),
))
steps = st.lists(st.one_of(
    st.tuples(st.just("edit"), edits),
    st.tuples(st.just("flush"), st.tuples(st.sampled_from("ab"), st.booleans())),
), max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_two_devices_in_any_interleaving_converge_and_lose_nothing(api, steps, server_item, look):
    site = api["pm"].post("/api/sites", {"name": "Interleaved", "client": "Acme Dental", "template": "mfa-rollout",
                                         "move_in": "2031-01-05", "technicians": ["tech@example.com"]}).get_json()
    bundle = api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()
    targets = [i["id"] for i in bundle["items"]][:3]
    devices = {"a": Device(api["tech"], "a", bundle), "b": Device(api["pm"], "b", bundle)}
    applied = []
    for step, args in steps:
        if step == "edit":
            name, index, changes = args
            devices[name].edit(targets[index], changes)
        else:
            name, lost = args
            devices[name].flush(lost, applied)
    for _ in range(2):  # both come back online for good, twice so each pulls what the other sent
        for device in devices.values():
            device.flush(False, applied)

    sent = [m["id"] for d in devices.values() for m in d.outbox]
    assert sent == [], "a mutation never left an outbox"
    ids = [m["id"] for _, m in applied]
    assert len(ids) == len(set(ids)), "a mutation was applied twice"
    for item_id in targets:
        row = server_item(item_id)
        expected = {"status": "todo", "note": "", "measurements": {}}
        for _, mutation in applied:
            if mutation["item_id"] == item_id:
                for name, value in mutation["set"].items():
                    expected[name] = {**expected[name], **value} if name == "measurements" else value
        assert (row.status, row.note, row.measurements) == (expected["status"], expected["note"],
                                                           expected["measurements"])
        for device in devices.values():
            local = device.items[item_id]
            assert (local["status"], local["note"], local["measurements"], local["rev"]) == (
                row.status, row.note, row.measurements, row.rev), "the devices did not converge"
        if row.disputed:
            setters = {key for key, m in applied if m["item_id"] == item_id and "status" in m["set"]}
            assert setters == {"a", "b"}, "disputed although only one device reported a status"
    recorded = look(lambda session: session.execute(select(Mutation.id).where(Mutation.id.in_(ids))).scalars().all())
    assert sorted(recorded) == sorted(ids)


def test_a_batch_takes_one_sequence_value_however_many_mutations_it_holds(api, bundle):
    cursor = bundle["cursor"]
    items = bundle["items"][:3]
    mutations = [update(items[0], {"status": "pass"}), update(items[1], {"status": "bogus"}),
                 update(items[2], {"note": "patch lead missing"})]
    answer = api["tech"].sync(mutations, cursor=cursor).get_json()
    assert [a["status"] for a in answer["acks"]] == ["applied", "rejected", "applied"]
    seqs = {c["seq"] for c in answer["changes"] if c["type"] == "item"}
    assert seqs == {cursor + 1} and answer["cursor"] == cursor + 1
