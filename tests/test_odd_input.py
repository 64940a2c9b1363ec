"""Whatever JSON a script or a broken phone sends, the API answers 4xx with a clear error, never 5xx,
and changes nothing it refused."""
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.evidence import encoded, photo_like, upload, upsert

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=40)
           | st.just("a NUL \x00 inside"))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
odd = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def refused_clearly(response):
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        error = response.get_json()["error"]
        assert error["code"] and error["message"]
    return response


def with_field(base: dict, draw_value, key: str) -> dict:
    return {**base, key: draw_value}


@odd
@given(body=json_values)
def test_any_json_as_a_new_site(api, body):
    refused_clearly(api["pm"].post("/api/sites", body))


@odd
@given(data=st.data())
def test_any_value_in_any_field_of_a_new_site(api, data):
    site = {"name": "Odd Co office", "client": "Odd Co", "template": "office-move", "move_in": "2027-03-01",
            "rooms": ["Reception"], "address": "1 Odd St", "technicians": ["tech@example.com"]}
    key = data.draw(st.sampled_from(sorted(site)))
    refused_clearly(api["pm"].post("/api/sites", with_field(site, data.draw(json_values), key)))


@odd
@given(body=json_values)
def test_any_json_as_a_sync(api, site, body):
    refused_clearly(api["tech"].post("/api/sync", body))


@odd
@given(data=st.data())
def test_any_value_in_any_field_of_a_mutation_is_rejected_alone(api, bundle, data):
    item, other = api["tech"].get(f"/api/sites/{bundle['site']['id']}/bundle").get_json()["items"][:2]
    good = {"id": str(uuid.uuid4()), "type": "item.update", "item_id": other["id"], "base_rev": other["rev"],
            "set": {"note": "fine"}}
    kind = data.draw(st.sampled_from(["item.update", "asset.upsert"]))
    odd_one = {"id": str(uuid.uuid4()), "type": kind, "item_id": item["id"], "base_rev": item["rev"],
               "site_id": bundle["site"]["id"], "set": {"status": "pass"}}
    key = data.draw(st.sampled_from(["id", "type", "item_id", "asset_id", "base_rev", "set", "site_id"]))
    odd_one[key] = data.draw(json_values)
    if data.draw(st.booleans()):
        odd_one["set"] = data.draw(st.dictionaries(
            st.sampled_from(["status", "note", "measurements", "na_reason", "kind", "serial", "mac", "room",
                             "tag", "make", "model"]), json_values, max_size=3))
    answer = refused_clearly(api["tech"].sync([odd_one, good], cursor=0)).get_json()
    assert answer["acks"][1] == {"id": good["id"], "status": "applied"}


@odd
@given(body=json_values)
def test_any_json_as_a_sign_off(api, site, body):
    refused_clearly(api["client"].post(f"/api/sites/{site['id']}/signoff", body))


@odd
@given(data=st.data())
def test_any_text_in_any_field_of_a_photo_upload(api, site, data):
    fields = {"id": str(uuid.uuid4()), "site_id": str(site["id"])}
    key = data.draw(st.sampled_from(["id", "site_id", "item_id", "asset_id", "captured_at"]))
    fields[key] = data.draw(st.text(max_size=60) | st.integers(-2**70, 2**70).map(str))
    body = data.draw(st.sampled_from([encoded(photo_like(64, 48)), b"", b"GIF89a not really", b"\xff\xd8\xff"]))
    refused_clearly(upload(api, "tech", fields.pop("site_id"), body, photo_id=fields.pop("id"), **fields))


def test_numbers_past_the_database_range_or_in_other_scripts_are_refused_clearly(api, site, bundle):
    """Found by the tests above on PostgreSQL, whose integer ids stop at 2**31 - 1."""
    for item_id in ("2147483648", "²", "٣"):
        answer = refused_clearly(upload(api, "tech", site["id"], encoded(photo_like(64, 48)), item_id=item_id))
        assert answer.status_code == 400, item_id
    ack = api["tech"].sync([upsert(site["id"], kind="ap", item_id=2**40)]).get_json()["acks"][0]
    assert ack["status"] == "rejected" and ack["error"]["code"] == "bad_item_id"
    for query in ("page=²", "skip=٣"):
        assert api["pm"].get(f"/sites/{site['id']}/labels.png?{query}").status_code == 400


def test_text_holding_the_nul_character_is_refused_clearly_wherever_it_is_typed(api, client, site, bundle):
    """PostgreSQL cannot store U+0000 in text: each way in says so with a 400 and stores nothing."""
    item, other = bundle["items"][:2]
    bad = {"id": str(uuid.uuid4()), "type": "item.update", "item_id": item["id"], "base_rev": item["rev"],
           "set": {"note": "cable\x00test"}}
    good = {"id": str(uuid.uuid4()), "type": "item.update", "item_id": other["id"], "base_rev": other["rev"],
            "set": {"note": "fine"}}
    acks = api["tech"].sync([bad, good, upsert(site["id"], kind="ap", serial="SN\x00")]).get_json()["acks"]
    assert [ack["status"] for ack in acks] == ["rejected", "applied", "rejected"]
    assert acks[0]["error"]["code"] == acks[2]["error"]["code"] == "bad_text"
    assert "NUL" in acks[0]["error"]["message"]
    assert api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()["items"][0]["note"] == ""

    answers = [
        api["tech"].post("/api/sync", {"device_id": "phone\x00", "cursor": 0, "mutations": []}),
        api["pm"].post("/api/sites", {"name": "Nul\x00 office", "client": "Acme Dental", "template": "office-move",
                                      "move_in": "2027-03-01", "rooms": ["Reception"]}),
        api["client"].post(f"/api/sites/{site['id']}/signoff", {"name": "Helen\x00", "signature": "x"}),
        api["pm"].client.post(f"/api/sites/{site['id']}/assets.csv", data=b"kind,serial\nap,SN\x001\n",
                              headers={**api["pm"].headers, "Content-Type": "text/csv"}),
        api["pm"].get(f"/sites/{site['id']}/labels.pdf?paper=a4%00"),
        api["tech"].get("/t/ABC%00"),
        client.post("/login", data={"email": "pm@example.com\x00", "password": "x"}),
    ]
    for answer in answers:
        assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answers[3].get_json()["error"]["code"] == "not_csv"
    assert "NUL" in answers[1].get_json()["error"]["message"]
    assert [s["name"] for s in api["pm"].get("/api/sites").get_json()] == [site["name"]]


def test_dates_past_the_calendars_end_are_refused_clearly(api, site, bundle):
    """Found by the form test: a move-in on 31 Dec 9999 put due dates past the last day Python knows."""
    for move_in in ("9999-12-31", "2100-01-01", "1999-12-31"):
        answer = api["pm"].post("/api/sites", {"name": "Far", "client": "Acme Dental", "template": "office-move",
                                               "move_in": move_in, "rooms": ["Reception"]})
        assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "bad_date", move_in
        assert "between 2000 and 2099" in answer.get_json()["error"]["message"]
    item = bundle["items"][0]
    ack = api["tech"].sync([{"id": str(uuid.uuid4()), "type": "item.update", "item_id": item["id"],
                             "base_rev": item["rev"], "set": {"due": "9999-12-31"}}]).get_json()["acks"][0]
    assert ack["status"] == "rejected" and ack["error"]["code"] == "bad_date"


def test_json_nested_deeper_than_any_body_needs_is_refused_clearly(api, site):
    for depth in (21, 990, 100_000):
        nested = "[" * depth + "]" * depth
        for who, url, body in (("pm", "/api/sites", nested),
                               ("tech", "/api/sync", '{"device_id": "x", "mutations": [' + nested + "]}"),
                               ("client", f"/api/sites/{site['id']}/signoff", '{"name": ' + nested + "}")):
            answer = api[who].client.post(url, data=body, headers={**api[who].headers,
                                                                   "Content-Type": "application/json"})
            assert answer.status_code == 400, (url, depth)
            assert answer.get_json()["error"]["message"] == "The JSON is nested more than 20 levels deep."
