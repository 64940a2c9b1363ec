"""What an attack and fault campaign found (issue 9): one bad value never costs the good changes beside it,
nothing stored can break a page later, every odd input is a clear 4xx, and a 404 tells nothing about sites
the caller cannot see."""
import json
import uuid

import pytest

from tests.conftest import update
from tests.evidence import encoded, photo_like, upload, upsert
from tests.test_signoff import SIGNATURE, exceptions

LONE = "\ud800"  # a lone surrogate: valid in JSON's \u escapes, not text any database can store


def raw_sync(api, who, mutations, device="phone-1"):
    """A sync whose body is sent as typed: json.dumps keeps \\ud800 and 1e400 as a phone's bug would send them."""
    body = json.dumps({"device_id": device, "cursor": 0, "mutations": mutations})
    return api[who].client.post("/api/sync", data=body, content_type="application/json",
                                headers=api[who].headers)


BAD_MUTATIONS = {
    "note with a lone surrogate": lambda item, site: update(item, {"note": f"cable {LONE} tested"}),
    "measurement named with a lone surrogate": lambda item, site: update(item, {"measurements": {LONE: 1}}),
    "asset field with a lone surrogate": lambda item, site: upsert(site["id"], kind="ap", make=f"Cisco{LONE}"),
    "base_rev of 2**70": lambda item, site: update(item, {"note": "x"}, base_rev=2**70),
    "base_rev past the 32-bit range": lambda item, site: update(item, {"note": "x"}, base_rev=2**31),
    "measurement of 10**400": lambda item, site: update(item, {"measurements": {"download_mbps": 10**400}}),
    "asset item_id of 2**70": lambda item, site: upsert(site["id"], kind="ap", item_id=2**70),
    "asset base_rev of 2**70": lambda item, site: upsert(site["id"], base_rev=2**70, kind="ap"),
}


@pytest.mark.parametrize("bad", sorted(BAD_MUTATIONS))
def test_one_bad_mutation_is_rejected_alone_and_the_good_one_applies(api, site, bundle, bad):
    item, other = bundle["items"][:2]
    good = update(other, {"note": "patch panel labelled"})
    answer = raw_sync(api, "tech", [good, BAD_MUTATIONS[bad](item, site)])
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    acks = answer.get_json()["acks"]
    assert acks[0]["status"] == "applied"
    assert acks[1]["status"] == "rejected" and acks[1]["error"]["message"]
    assert acks[1]["error"]["code"] != "server_error"  # refused as bad input, not caught as a bug of ours
    items = {i["id"]: i for i in api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()["items"]}
    assert items[other["id"]]["note"] == "patch panel labelled"
    assert items[item["id"]]["rev"] == item["rev"]


def test_a_measurement_of_1e400_written_as_a_float_is_rejected_alone(api, site, bundle):
    item, other = bundle["items"][:2]
    good, bad = update(other, {"note": "ok"}), update(item, {"measurements": {"download_mbps": 1}})
    body = json.dumps({"device_id": "phone-1", "cursor": 0, "mutations": [good, bad]}).replace(
        '"download_mbps": 1}', '"download_mbps": 1e400}')
    answer = api["tech"].client.post("/api/sync", data=body, content_type="application/json",
                                     headers=api["tech"].headers)
    assert [a["status"] for a in answer.get_json()["acks"]] == ["applied", "rejected"]


@pytest.mark.parametrize("device", [f"phone-{LONE}", "phone-\udfff-2"])
def test_a_device_id_with_a_lone_surrogate_is_a_clear_400(api, site, bundle, device):
    answer = raw_sync(api, "tech", [update(bundle["items"][0], {"note": "x"})], device=device)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "bad_device_id"


def test_a_lone_surrogate_never_reaches_storage_so_sign_off_keeps_working(api, site, bundle):
    item = bundle["items"][0]
    raw_sync(api, "tech", [update(item, {"measurements": {LONE: 1}})])
    state = exceptions(api, site)
    answer = api["client"].post(f"/api/sites/{site['id']}/signoff", {
        "name": "Helen Finch", "signature": SIGNATURE, "accept": [e["item_id"] for e in state]})
    assert answer.status_code == 201, answer.get_data(as_text=True)[:300]


@pytest.mark.parametrize("field", ["name", "client", "address"])
def test_a_lone_surrogate_in_a_new_site_is_a_clear_400(api, field):
    body = {"name": "Odd Co", "client": "Odd Co", "template": "office-move", "move_in": "2027-03-01",
            "rooms": ["Reception"], field: f"Odd {LONE} Co"}
    answer = api["pm"].client.post("/api/sites", data=json.dumps(body), content_type="application/json",
                                   headers=api["pm"].headers)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "bad_text"


def test_a_lone_surrogate_in_a_signer_name_is_a_clear_400(api, site):
    body = json.dumps({"name": f"Helen {LONE}", "signature": SIGNATURE, "accept": []})
    answer = api["client"].client.post(f"/api/sites/{site['id']}/signoff", data=body,
                                       content_type="application/json", headers=api["client"].headers)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "bad_text"


def test_measurements_are_bounded_per_item_so_a_bundle_stays_small(api, site, bundle):
    item, other = bundle["items"][:2]
    flood = update(item, {"measurements": {f"m{n}": n for n in range(5000)}})
    acks = api["tech"].sync([update(other, {"note": "fine"}), flood]).get_json()["acks"]
    assert [a["status"] for a in acks] == ["applied", "rejected"]
    assert "measurements" in acks[1]["error"]["message"]
    # Added a few at a time, the bound holds for the item's total too.
    fresh = api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()["items"][0]
    statuses = []
    for start in range(0, 100, 10):
        mutation = update(fresh, {"measurements": {f"m{n}": n for n in range(start, start + 10)}})
        ack = api["tech"].sync([mutation]).get_json()["acks"][0]
        statuses.append(ack["status"])
        fresh = next(i for i in api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()["items"]
                     if i["id"] == item["id"])
    assert "rejected" in statuses
    assert len(fresh["measurements"]) <= 40


def test_an_enormous_mutation_is_rejected_alone(api, site, bundle):
    item, other = bundle["items"][:2]
    huge = update(item, {"note": "x"})
    huge["padding"] = "y" * 300_000
    acks = api["tech"].sync([update(other, {"note": "fine"}), huge]).get_json()["acks"]
    assert [a["status"] for a in acks] == ["applied", "rejected"]


@pytest.mark.parametrize("body", ["[]", '["pass"]', '"pass"', "42", "null"])
def test_resolve_with_a_body_that_is_not_an_object_is_a_clear_400(api, site, bundle, body):
    answer = api["pm"].client.post(f"/api/items/{bundle['items'][0]['id']}/resolve", data=body,
                                   content_type="application/json", headers=api["pm"].headers)
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
    assert answer.get_json()["error"]["message"]


@pytest.mark.parametrize("url", ["/sites/{id}/labels.pdf?skip={n}", "/sites/{id}/labels.png?page={n}",
                                 "/sites/{id}/labels.png?skip={n}"])
@pytest.mark.parametrize("digits", [4000, 5000, 12])
def test_label_numbers_with_thousands_of_digits_are_a_clear_400(api, site, url, digits):
    answer = api["tech"].client.get(url.format(id=site["id"], n="9" * digits),
                                    headers={**api["tech"].headers, "Accept": "application/json"})
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
    assert answer.get_json()["error"]["code"] in ("bad_skip", "bad_page")


def test_ids_past_the_32_bit_range_are_404_on_every_method_and_405_says_allow(app, api, site):
    methods = {}
    for rule in app.url_map.iter_rules():
        if "<int:" in rule.rule:
            methods.setdefault(rule.rule, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    both = [rule for rule, m in methods.items() if {"GET", "POST"} <= m]
    assert both, "no route with both GET and POST"
    for rule in both:
        url = rule.replace("<int:", "<").split("<")[0] + "2147483648" + "".join(
            part.split(">", 1)[1] for part in rule.split("<")[1:])
        for method in ("GET", "POST"):
            answer = api["pm"].client.open(url, method=method, headers=api["pm"].headers, json={})
            assert answer.status_code == 404, (method, url, answer.status_code)
    answer = api["pm"].client.delete("/api/sync", headers=api["pm"].headers)
    assert answer.status_code == 405
    assert "POST" in answer.headers["Allow"]


def _hidden_site(api):
    """A site `tech` is not assigned to, with an item, an asset and a photo made by `tech2`."""
    answer = api["pm"].post("/api/sites", {"name": "Zenith HQ", "client": "Zenith Legal", "template": "office-move",
                                           "move_in": "2027-06-01", "rooms": ["Hall"],
                                           "technicians": ["tech2@example.com"]})
    hidden = answer.get_json()
    items = api["tech2"].get(f"/api/sites/{hidden['id']}/bundle").get_json()["items"]
    asset = upsert(hidden["id"], kind="ap")
    api["tech2"].sync([asset])
    tag = next(a["tag"] for a in api["tech2"].get(f"/api/sites/{hidden['id']}/assets").get_json())
    photo_id = str(uuid.uuid4())
    assert upload(api, "tech2", hidden["id"], encoded(photo_like(320, 240)), photo_id).status_code == 201
    return hidden, items[0], tag, photo_id


def test_a_404_for_a_hidden_site_says_the_same_as_for_a_thing_that_does_not_exist(api, site):
    hidden, item, tag, photo_id = _hidden_site(api)
    asked = {
        "item": (lambda x: api["tech"].sync([update({"id": x, "rev": 1}, {"note": "n"})]).get_json()["acks"][0]
                 ["error"]["message"], item["id"], 2**31 - 7),
        "resolve": (lambda x: api["client"].post(f"/api/items/{x}/resolve", {"status": "pass"}).get_json()
                    ["error"]["message"], item["id"], 2**31 - 7),
        "tag": (lambda x: api["tech"].get(f"/api/assets/{x}").get_json()["error"]["message"], tag, None),
        "photo": (lambda x: api["tech"].get(f"/api/photos/{x}").get_json()["error"]["message"], photo_id,
                  str(uuid.uuid4())),
        "asset on a hidden site": (lambda x: api["tech"].sync([upsert(x, kind="ap")]).get_json()["acks"][0]
                                   ["error"]["message"], hidden["id"], 2**31 - 7),
    }
    for what, (ask, real, missing) in asked.items():
        message = ask(real)
        if what != "asset on a hidden site":  # that change names the site itself; the others reach it through a thing
            assert f"site {hidden['id']}" not in message, (what, message)
        assert "Zenith" not in message, (what, message)
        if missing is not None:
            assert ask(missing).replace(str(missing), "X") == message.replace(str(real), "X"), what


def test_a_site_holds_a_bounded_number_of_assets_and_says_so(api, site, monkeypatch):
    from fieldkit import inventory

    monkeypatch.setattr(inventory, "MAX_ASSETS_PER_SITE", 3)
    acks = api["tech"].sync([upsert(site["id"], kind="ap") for _ in range(4)]).get_json()["acks"]
    assert [a["status"] for a in acks] == ["applied"] * 3 + ["rejected"]
    assert acks[3]["error"] == {"code": "too_many_assets", "message": "A site holds at most 3 assets; this one has 3."}
    report = api["pm"].client.post(f"/api/sites/{site['id']}/assets.csv", data=b"kind,serial\nap,SN-1\n",
                                   headers={**api["pm"].headers, "Content-Type": "text/csv"})
    assert report.status_code < 500
    assert "at most 3 assets" in report.get_data(as_text=True)


def test_a_lone_surrogate_kept_by_an_earlier_version_is_mended_by_the_upgrade(app, api, site, bundle):
    """Earlier versions stored {"\\ud800": 1} as measurements; `flask init-db` mends it, and sign-off works."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from fieldkit.db import db

    item = bundle["items"][0]
    with app.app_context():
        with db.engine.begin() as conn:  # as the JSON column kept it: the escape, unpaired
            conn.execute(text("UPDATE item SET measurements = :m WHERE id = :id"),
                         {"m": '{"\\ud800": 1, "ok \\ud83d\\ude00": 2}', "id": item["id"]})
        directory = app.extensions["migrate"].directory
        downgrade(directory=directory, revision="3822468b79ce")
        upgrade(directory=directory)
        db.session.remove()
    fresh = next(i for i in api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()["items"]
                 if i["id"] == item["id"])
    assert fresh["measurements"] == {"\ufffd": 1, "ok \U0001f600": 2}
    answer = api["client"].post(f"/api/sites/{site['id']}/signoff", {
        "name": "Helen Finch", "signature": SIGNATURE, "accept": [e["item_id"] for e in exceptions(api, site)]})
    assert answer.status_code == 201


def test_the_id_pattern_matches_exactly_the_ids_that_fit_a_32_bit_column():
    import re

    from fieldkit.web.extensions import _numbers_up_to

    pattern = re.compile(_numbers_up_to(2**31 - 1) + "$")
    numbers = [*range(3000), 999_999_999, 1_000_000_000, 2_147_483_599, 2**31 - 2, 2**31 - 1, 2**31, 2**31 + 1,
               2_999_999_999, 9_999_999_999, *(2**31 - 1 - 10**k for k in range(10)), *(2**31 + 10**k for k in range(10))]
    for n in numbers:
        assert bool(pattern.match(str(n))) == (1 <= n <= 2**31 - 1), n
    assert not pattern.match("0123")


def test_a_site_holds_a_bounded_number_of_photos_and_says_so(api, site, monkeypatch):
    from fieldkit import photos

    monkeypatch.setattr(photos, "MAX_PHOTOS_PER_SITE", 2)
    answers = [upload(api, "tech", site["id"], encoded(photo_like(320, 240))) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 413]
    assert answers[2].get_json()["error"] == {"code": "too_many_photos",
                                              "message": "A site holds at most 2 photos; this one has 2."}
