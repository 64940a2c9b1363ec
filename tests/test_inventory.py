"""Hardware inventory: phones and PMs record assets, supplier lists come in as CSV, readiness counts them."""
import csv
import io
import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit import inventory, tags, verdicts
from fieldkit.db import db
from fieldkit.errors import ValidationError
from fieldkit.models import Asset, Site
from tests.conftest import login, update
from tests.evidence import add_asset, encoded, photo_like, upload, upsert

# --------------------------------------------------------------------------- MAC addresses


@pytest.mark.parametrize(("typed", "stored"), [
    ("aa:bb:cc:dd:ee:ff", "AA:BB:CC:DD:EE:FF"),
    ("AA-BB-CC-DD-EE-FF", "AA:BB:CC:DD:EE:FF"),
    ("aabb.ccdd.eeff", "AA:BB:CC:DD:EE:FF"),
    ("AABB-CCDD-EEFF", "AA:BB:CC:DD:EE:FF"),
    ("aabbcc-ddeeff", "AA:BB:CC:DD:EE:FF"),
    ("aabbccddeeff", "AA:BB:CC:DD:EE:FF"),
    ("AA BB CC DD EE FF", "AA:BB:CC:DD:EE:FF"),
    ("  f4:92:bf:0a:1b:2c ", "F4:92:BF:0A:1B:2C"),
    ("0:1b:63:84:45:e6", "00:1B:63:84:45:E6"),  # macOS leaves out leading zeros
    ("", ""),
])
def test_mac_addresses_in_any_usual_notation_are_stored_one_way(typed, stored):
    assert inventory.normalise_mac(typed) == stored


@pytest.mark.parametrize(("typed", "reason"), [
    ("aa:bb:cc:dd:ee", "not 12 hexadecimal digits"),
    ("aa:bb:cc:dd:ee:ff:00", "not 12 hexadecimal digits"),
    ("gg:bb:cc:dd:ee:ff", "not 12 hexadecimal digits"),
    ("aa:bb-cc:dd-ee:ff", "not 12 hexadecimal digits"),
    ("aabbccddeef", "not 12 hexadecimal digits"),
    ("serial 12345", "not 12 hexadecimal digits"),
    ("ff:ff:ff:ff:ff:ff", "broadcast, multicast or empty"),
    ("00:00:00:00:00:00", "broadcast, multicast or empty"),
    ("01:00:5e:00:00:fb", "broadcast, multicast or empty"),
])
def test_impossible_mac_addresses_are_refused_with_the_reason(typed, reason):
    with pytest.raises(ValidationError) as refused:
        inventory.normalise_mac(typed)
    assert reason in refused.value.message


# --------------------------------------------------------------------------- asset.upsert through /api/sync


def test_tech_records_an_access_point_offline_and_the_server_assigns_a_tag(api, site):
    mutation = upsert(site["id"], kind="ap", make="Ubiquiti", model="U6-Pro", serial="FCECDA123456",
                      mac="f4-92-bf-0a-1b-2c", room="surgery 1", status="received")
    answer = api["tech"].sync([mutation]).get_json()
    assert answer["acks"] == [{"id": mutation["id"], "status": "applied"}]
    asset = next(c["data"] for c in answer["changes"] if c["type"] == "asset")
    assert tags.is_valid(asset["tag"])
    assert asset | {"tag": None} == {
        "id": mutation["asset_id"], "site_id": site["id"], "tag": None, "kind": "ap", "make": "Ubiquiti",
        "model": "U6-Pro", "serial": "FCECDA123456", "mac": "F4:92:BF:0A:1B:2C", "room": "Surgery 1",
        "status": "received", "item_id": None, "rev": 1}


def test_the_same_mutation_sent_again_is_a_duplicate_and_changes_nothing(api, site):
    mutation = upsert(site["id"], kind="switch", room="Comms room")
    first = api["tech"].sync([mutation]).get_json()["acks"]
    again = api["tech"].sync([mutation], device="phone-1").get_json()["acks"]
    assert first[0]["status"] == "applied"
    assert again == [{"id": mutation["id"], "status": "duplicate"}]
    assert len(api["pm"].get(f"/api/sites/{site['id']}/assets").get_json()) == 1


def test_a_bad_mac_is_rejected_alone_and_the_rest_of_the_batch_applies(api, site):
    good, bad = upsert(site["id"], kind="printer"), upsert(site["id"], kind="printer", mac="not-a-mac")
    acks = api["tech"].sync([bad, good]).get_json()["acks"]
    assert acks[0]["status"] == "rejected"
    assert acks[0]["error"]["code"] == "bad_mac"
    assert "not-a-mac" in acks[0]["error"]["message"]
    assert acks[1]["status"] == "applied"
    assert [a["id"] for a in api["pm"].get(f"/api/sites/{site['id']}/assets").get_json()] == [good["asset_id"]]


@pytest.mark.parametrize(("changes", "code"), [
    ({"kind": "toaster"}, "bad_kind"),
    ({"make": "Cisco"}, "missing_kind"),
    ({"kind": "ap", "status": "lost"}, "bad_status"),
    ({"kind": "ap", "room": "Roof terrace"}, "bad_room"),
    ({"kind": "ap", "item_id": 999999}, "bad_item_id"),
    ({"kind": "ap", "tag": "K7MX2QQ"}, "bad_check_char"),
    ({"kind": "ap", "colour": "white"}, "bad_set"),
    ({"kind": "ap", "serial": "x" * 121}, "too_long"),
])
def test_invalid_asset_changes_are_rejected_with_a_reason(api, site, changes, code):
    if code == "bad_check_char":
        good = "K7MX2Q" + tags.check_char("K7MX2Q")
        changes = {**changes, "tag": good[:-1] + ("2" if good[-1] != "2" else "3")}
    ack = api["tech"].sync([upsert(site["id"], **changes)]).get_json()["acks"][0]
    assert (ack["status"], ack["error"]["code"]) == ("rejected", code)


def test_a_tag_printed_in_advance_is_kept_and_cannot_go_on_two_assets(api, site):
    tag = tags.random_tag()
    first = add_asset(api, site, tag=tag.lower())
    assert first["tag"] == tag
    ack = api["tech"].sync([upsert(site["id"], kind="ap", tag=tag)]).get_json()["acks"][0]
    assert ack["error"]["code"] == "tag_taken"


def test_an_asset_can_be_linked_to_an_item_of_its_own_site_only(api, site, bundle):
    other = api["pm"].post("/api/sites", {"name": "Other", "client": "Acme Dental", "template": "office-move",
                                          "move_in": site["move_in"], "technicians": ["tech@example.com"]}).get_json()
    foreign = api["tech"].get(f"/api/sites/{other['id']}/bundle").get_json()["items"][0]
    aps = next(i for i in bundle["items"] if i["key"] == "wifi-aps-mounted")
    ack = api["tech"].sync([upsert(site["id"], kind="ap", item_id=foreign["id"])]).get_json()["acks"][0]
    assert ack["error"]["code"] == "bad_item_id"
    assert add_asset(api, site, item_id=aps["id"])["item_id"] == aps["id"]


def test_two_phones_editing_one_asset_report_a_conflict_and_the_later_value_stands(api, site):
    asset = add_asset(api, site, status="received")
    first = upsert(site["id"], asset["id"], base_rev=asset["rev"], status="installed")
    second = upsert(site["id"], asset["id"], base_rev=asset["rev"], room="Reception")
    assert api["tech"].sync([first], device="phone-1").get_json()["acks"][0]["status"] == "applied"
    assert api["tech"].sync([second], device="phone-2").get_json()["acks"][0]["status"] == "conflict"
    now = api["pm"].get(f"/api/assets/{asset['tag']}").get_json()
    assert (now["status"], now["room"], now["rev"]) == ("installed", "Reception", 3)


def test_an_unassigned_technician_and_a_client_cannot_record_assets(api, site):
    ack = api["tech2"].sync([upsert(site["id"], kind="ap")]).get_json()["acks"][0]
    assert ack["error"]["code"] == "not_found"
    assert api["client"].sync([upsert(site["id"], kind="ap")]).status_code == 403


def test_another_phone_pulls_the_new_asset(api, site):
    cursor = api["pm"].sync([]).get_json()["cursor"]
    asset = add_asset(api, site, kind="firewall")
    changes = api["pm"].sync([], cursor=cursor, device="laptop").get_json()["changes"]
    assert [c["data"]["tag"] for c in changes if c["type"] == "asset"] == [asset["tag"]]


# --------------------------------------------------------------------------- readiness counts assets and photos


def _verdict_of(app, site_id: int, item_id: int):
    with app.app_context():
        site = db.session.get(Site, site_id)
        return verdicts.refresh(db.session, [site])[site_id].items[item_id]


def test_backup_router_item_needs_an_installed_router_and_its_photo(app, api, site, bundle):
    backup = next(i for i in bundle["items"] if i["key"] == "isp-backup-circuit-live")
    api["tech"].sync([update(backup, {"status": "pass", "measurements": {"download_mbps": 45}})])
    assert {"needs 1 photo, has 0", "needs 1 asset, has 0"} <= set(_verdict_of(app, site["id"], backup["id"]).problems)

    router = add_asset(api, site, kind="router", status="received", room="Comms room")
    assert "needs 1 asset, has 0" in _verdict_of(app, site["id"], backup["id"]).problems, "received is not installed"
    api["tech"].sync([upsert(site["id"], router["id"], status="installed")])
    assert upload(api, "tech", site["id"], encoded(photo_like()), item_id=backup["id"]).status_code == 201

    assert _verdict_of(app, site["id"], backup["id"]).ready is True
    items = api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()["items"]
    assert next(i for i in items if i["id"] == backup["id"])["assets"] == 1


def test_an_item_needing_two_photos_becomes_ready_with_the_second(app, api, site, bundle):
    by_key = {i["key"]: i for i in bundle["items"]}
    schedule, rack = by_key["cabling-schedule-agreed"], by_key["comms-rack-installed"]
    assert rack["photos_required"] == 2 and rack["depends_on"] == [schedule["id"]]
    api["tech"].sync([update(schedule, {"status": "pass"}), update(rack, {"status": "pass"})])
    assert upload(api, "tech", site["id"], encoded(photo_like()), item_id=rack["id"]).status_code == 201
    assert "needs 2 photos, has 1" in _verdict_of(app, site["id"], rack["id"]).problems
    assert _verdict_of(app, site["id"], rack["id"]).ready is False
    assert upload(api, "tech", site["id"], encoded(photo_like(800, 600)), item_id=rack["id"]).status_code == 201
    assert _verdict_of(app, site["id"], rack["id"]).ready is True


# --------------------------------------------------------------------------- looking an asset up by its tag


def test_a_typed_tag_finds_the_asset_whatever_the_case_and_spacing(api, site):
    asset = add_asset(api, site, kind="ups", room="Comms room")
    typed = f" {asset['tag'][:3].lower()}-{asset['tag'][3:]} "
    found = api["client"].get(f"/api/assets/{typed}")
    assert found.status_code == 200
    assert (found.get_json()["id"], found.get_json()["site_name"]) == (asset["id"], site["name"])
    assert found.get_json()["label_url"] == f"http://fieldkit.test/t/{asset['tag']}"


def test_a_mistyped_tag_answers_404_saying_the_check_character_does_not_match(api, site):
    tag = add_asset(api, site)["tag"]
    typo = tag[:2] + next(c for c in tags.ALPHABET if c != tag[2]) + tag[3:]
    answer = api["pm"].get(f"/api/assets/{typo}")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "bad_check_char"
    assert "check character" in answer.get_json()["error"]["message"]


# --------------------------------------------------------------------------- CSV import and export

DELIVERY = """Kind,Manufacturer,Model,Serial Number,MAC Address,Location,Status,Tag,PO number
ap,Ubiquiti,U6-Pro,FCE001,f4:92:bf:00:00:01,Reception,received,,PO-77
Access point,Ubiquiti,U6-Pro,FCE002,f492.bf00.0002,surgery 1,,,PO-77
ap,Ubiquiti,U6-Pro,FCE003,f4:92:bf:00:00:0g,Reception,received,,PO-77
toaster,Dualit,Classic,D1,,Kitchen,ordered,,PO-78

switch,Cisco,CBS350-24P,FOC1234,00:1b:63:84:45:e6,Comms room,delivered,,PO-79
,Cisco,CBS350-24P,FOC1235,,,,,PO-79
printer,Brother,MFC-L8900,E7777,,Reception,ordered,K7MX2Q0,PO-80
ups,APC,SMT1500,AS1,,Comms room,installed,,PO-81
ups,APC,SMT1500,AS1,,Comms room,installed,,PO-81
"""


def _import(api, site, text: str, who: str = "pm", encoding: str = "utf-8"):
    return api[who].client.post(f"/api/sites/{site['id']}/assets.csv", data=text.encode(encoding),
                                headers={**api[who].headers, "Content-Type": "text/csv"})


def test_pm_imports_a_supplier_list_and_sees_every_bad_row_with_its_reason(api, site):
    report = _import(api, site, DELIVERY).get_json()
    rows = {row["row"]: row for row in report["rows"]}
    assert (report["created"], report["updated"], report["rejected"]) == (3, 0, 6)
    assert report["ignored_columns"] == ["PO number"]
    assert sorted(rows) == [2, 3, 4, 5, 7, 8, 9, 10, 11], "every data row is reported; the blank line is not data"
    assert [rows[n]["status"] for n in (2, 3, 10)] == ["created"] * 3
    assert "f4:92:bf:00:00:0g" in rows[4]["problems"][0]
    assert "Kind 'toaster' is not one of" in rows[5]["problems"][0]
    assert any("Room 'Kitchen' is not a room of this site" in p for p in rows[5]["problems"])
    assert "Status 'delivered'" in rows[7]["problems"][0]
    assert rows[8]["problems"] == ["kind is empty"]
    assert "never use 0, O, 1, I or L" in rows[9]["problems"][0]
    assert rows[11]["problems"] == ["serial AS1 is also on row 10"]
    stored = {a["serial"]: a for a in api["pm"].get(f"/api/sites/{site['id']}/assets").get_json()}
    assert set(stored) == {"FCE001", "FCE002", "AS1"}
    assert (stored["FCE002"]["kind"], stored["FCE002"]["mac"], stored["FCE002"]["room"],
            stored["FCE002"]["status"]) == ("ap", "F4:92:BF:00:00:02", "Surgery 1", "ordered")


def test_importing_the_same_list_again_updates_instead_of_duplicating(api, site):
    _import(api, site, "kind,serial,status\nap,S1,ordered\nap,S2,ordered\n")
    again = _import(api, site, "kind,serial,status,mac\nap,S1,received,\nap,S2,,aa:bb:cc:00:00:02\n").get_json()
    assert (again["created"], again["updated"]) == (0, 2)
    stored = {a["serial"]: a for a in api["pm"].get(f"/api/sites/{site['id']}/assets").get_json()}
    assert (stored["S1"]["status"], stored["S2"]["status"], stored["S2"]["mac"]) == \
        ("received", "ordered", "AA:BB:CC:00:00:02")


def test_a_spreadsheet_saved_with_semicolons_in_windows_encoding_imports(api, site):
    report = _import(api, site, "Type;Make;Room\ndisplay;Société Écran;Reception\n", encoding="cp1252").get_json()
    assert report["created"] == 1
    assert api["pm"].get(f"/api/sites/{site['id']}/assets").get_json()[0]["make"] == "Société Écran"


@pytest.mark.parametrize(("body", "status", "code"), [
    ("make,model\nCisco,X\n", 400, "missing_kind_column"),
    ("", 400, "empty_csv"),
    ("kind\n" + "ap\n" * (inventory.MAX_CSV_ROWS + 1), 413, "too_large"),
    ("kind,make\n" + ("ap," + "x" * 100 + "\n") * 21000, 413, "too_large"),
])
def test_a_file_that_cannot_be_imported_is_refused_whole(api, site, body, status, code):
    answer = _import(api, site, body)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (status, code)
    assert api["pm"].get(f"/api/sites/{site['id']}/assets").get_json() == []


def test_export_protects_spreadsheets_from_formulas_and_imports_back(api, site):
    add_asset(api, site, kind="workstation", make="=HYPERLINK(\"http://evil\")", model="+1", serial="-2",
              room="Reception")
    exported = api["client"].get(f"/api/sites/{site['id']}/assets.csv")
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert (rows[0]["make"], rows[0]["model"], rows[0]["serial"]) == ("'=HYPERLINK(\"http://evil\")", "'+1", "'-2")
    assert rows[0]["url"] == f"http://fieldkit.test/t/{rows[0]['tag']}"
    again = _import(api, site, exported.get_data(as_text=True)).get_json()
    assert (again["updated"], again["rejected"]) == (1, 0)
    stored = api["pm"].get(f"/api/sites/{site['id']}/assets").get_json()[0]
    assert (stored["make"], stored["model"], stored["serial"]) == ("=HYPERLINK(\"http://evil\")", "+1", "-2")


# --------------------------------------------------------------------------- the site page


def test_pm_adds_an_asset_on_the_site_page_and_sees_it_by_room(client, api, site):
    login(client, "pm@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "Hardware inventory" in page and "No hardware recorded yet." in page
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    answer = client.post(f"/sites/{site['id']}/assets/new", data={
        "csrf_token": token, "kind": "badge-reader", "status": "installed", "room": "Reception", "make": "HID",
        "model": "Signo 20", "serial": "HID-1", "mac": "aabb.cc00.0001", "tag": "", "item_id": ""})
    assert answer.status_code == 302
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Added badge reader" in page
    assert "AA:BB:CC:00:00:01" in page and "HID Signo 20" in page
    assert page.index("Reception") < page.index("HID-1")


def test_pm_sees_what_is_wrong_with_a_typed_mac_and_keeps_what_was_typed(client, api, site):
    login(client, "pm@example.com")
    page = client.get(f"/sites/{site['id']}/assets/new").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    answer = client.post(f"/sites/{site['id']}/assets/new", data={
        "csrf_token": token, "kind": "ap", "status": "ordered", "room": "", "serial": "KEEP-ME", "mac": "12:34"})
    assert answer.status_code == 400
    text = answer.get_data(as_text=True)
    assert "MAC address &#39;12:34&#39; is not 12 hexadecimal digits" in text
    assert 'value="KEEP-ME"' in text


def test_pm_imports_a_csv_on_the_site_page_and_reads_the_report(client, api, site):
    login(client, "pm@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    answer = client.post(f"/sites/{site['id']}/assets/import", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(DELIVERY.encode()), "delivery.csv")})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Import of delivery.csv" in text
    assert "3 added · 0 updated · 6 need fixing" in text
    assert "Status &#39;delivered&#39;" in text and "<td>7</td>" in text


def test_site_page_lists_items_still_lacking_evidence(client, api, site, bundle):
    rack = next(i for i in bundle["items"] if i["key"] == "comms-rack-installed")
    upload(api, "tech", site["id"], encoded(photo_like()), item_id=rack["id"])
    login(client, "client@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    section = page.split('id="evidence"')[1].split("</section>")[0]
    assert rack["title"] in section
    assert "1 of 2 photos" in section
    assert "Add an asset" not in page, "a client does not get the PM's forms"


# --------------------------------------------------------------------------- who may do what, route by route

@pytest.fixture
def world(api, site):
    """The site with one asset and one photo, and another client's site with its own asset."""
    asset = add_asset(api, site, room="Reception")
    photo_id = str(uuid.uuid4())
    assert upload(api, "tech", site["id"], encoded(photo_like(400, 300)), photo_id).status_code == 201
    other = api["pm"].post("/api/sites", {"name": "Zenith office", "client": "Zenith Legal",
                                          "template": "office-move", "move_in": site["move_in"]}).get_json()
    other_asset = add_asset(api, other, who="pm")
    return {"site": site["id"], "asset": asset, "photo": photo_id, "other": other["id"], "other_asset": other_asset}


ROUTES = [
    # (method, url template, who may: statuses by role)
    ("GET", "/api/assets/{tag}", {"admin": 200, "pm": 200, "tech": 200, "tech2": 404, "client": 200,
                                  "other_client": 404, None: 401}),
    ("GET", "/api/assets/{other_tag}", {"pm": 200, "tech": 404, "client": 404, "other_client": 200, None: 401}),
    ("GET", "/api/sites/{site}/assets", {"pm": 200, "tech": 200, "tech2": 404, "client": 200, "other_client": 404,
                                         None: 401}),
    ("GET", "/api/sites/{site}/assets.csv", {"admin": 200, "pm": 200, "tech": 200, "tech2": 404, "client": 200,
                                             "other_client": 404, None: 401}),
    ("POST", "/api/sites/{site}/assets.csv", {"admin": 200, "pm": 200, "tech": 403, "tech2": 404, "client": 403,
                                              "other_client": 404, None: 401}),
    ("POST", "/api/photos", {"admin": 201, "pm": 201, "tech": 201, "tech2": 404, "client": 403,
                             "other_client": 404, None: 401}),
    ("GET", "/api/photos/{photo}", {"admin": 200, "pm": 200, "tech": 200, "tech2": 404, "client": 200,
                                    "other_client": 404, None: 401}),
    ("GET", "/api/photos/{photo}/thumb", {"pm": 200, "tech": 200, "tech2": 404, "client": 200,
                                          "other_client": 404, None: 401}),
    ("GET", "/sites/{site}/labels.pdf", {"admin": 200, "pm": 200, "tech": 200, "tech2": 404, "client": 403,
                                         "other_client": 404, None: 302}),
    ("GET", "/sites/{site}/labels.png", {"pm": 200, "tech": 200, "tech2": 404, "client": 403,
                                         "other_client": 404, None: 302}),
    ("GET", "/sites/{site}/assets/new", {"admin": 200, "pm": 200, "tech": 403, "tech2": 404, "client": 403,
                                         "other_client": 404, None: 302}),
    ("POST", "/sites/{site}/assets/new", {"pm": 302, "tech": 403, "tech2": 404, "client": 403,
                                          "other_client": 404, None: 302}),
    ("GET", "/sites/{site}/assets/{asset_id}/edit", {"pm": 200, "tech": 403, "tech2": 404, "client": 403,
                                                     "other_client": 404, None: 302}),
    ("GET", "/sites/{site}/assets/{other_asset_id}/edit", {"pm": 404, "admin": 404}),
    ("POST", "/sites/{site}/assets/import", {"pm": 200, "tech": 403, "tech2": 404, "client": 403,
                                             "other_client": 404, None: 302}),
    ("GET", "/sites/{site}", {"pm": 200, "tech": 200, "client": 200, "tech2": 404, "other_client": 404, None: 302}),
]
CASES = [pytest.param(method, url, who, status, id=f"{method} {url} as {who or 'anonymous'} -> {status}")
         for method, url, table in ROUTES for who, status in table.items()]


@pytest.mark.parametrize(("method", "url", "who", "expected"), CASES)
def test_every_inventory_route_checks_role_and_client(app, api, world, method, url, who, expected):
    client = app.test_client()
    if who is not None:
        assert login(client, f"{who}@example.com").status_code == 302
    path = url.format(site=world["site"], tag=world["asset"]["tag"], other_tag=world["other_asset"]["tag"],
                      photo=world["photo"], asset_id=world["asset"]["id"], other_asset_id=world["other_asset"]["id"])
    token = ""
    if method == "POST":  # a real browser form carries its token, signed in or not
        page = client.get("/sites" if who else "/login").get_data(as_text=True)
        token = page.split('name="csrf-token" content="')[1].split('"')[0]
    headers = {"X-CSRFToken": token} if token else {}
    data = None
    if method == "POST" and path == "/api/photos":
        data = {"id": str(uuid.uuid4()), "site_id": str(world["site"]),
                "file": (io.BytesIO(encoded(photo_like(200, 150))), "p.jpg")}
    elif method == "POST" and path.endswith("assets.csv"):
        data = {"file": (io.BytesIO(b"kind\nap\n"), "d.csv")}
    elif method == "POST" and path.endswith("/import"):
        data = {"csrf_token": token, "file": (io.BytesIO(b"kind\nap\n"), "d.csv")}
    elif method == "POST":
        data = {"csrf_token": token, "kind": "ap", "status": "ordered", "room": "", "item_id": ""}
    answer = client.open(path, method=method, data=data, headers=headers,
                         content_type="multipart/form-data" if data else None)
    body = answer.get_data()
    answer.close()
    assert answer.status_code == expected, body[:300]
    if expected == 302 and who is None:
        assert "/login" in answer.headers["Location"]
    if path.startswith("/api/") and expected >= 400:
        assert answer.get_json()["error"]["code"]


def test_pm_marks_an_asset_installed_on_its_page_and_the_item_counts_it(app, api, site, bundle):
    ap = add_asset(api, site, room="Reception", status="received")
    aps = next(i for i in bundle["items"] if i["key"] == "wifi-aps-mounted")
    browser = app.test_client()
    login(browser, "pm@example.com")
    page = browser.get(f"/sites/{site['id']}/assets/{ap['id']}/edit").get_data(as_text=True)
    assert f"Asset <span class=\"mono\">{ap['tag']}</span>" in page
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    form = {"csrf_token": token, "kind": "ap", "status": "installed", "room": "Reception", "make": "Ubiquiti",
            "model": "U6-Pro", "serial": "", "mac": "", "tag": ap["tag"], "item_id": str(aps["id"])}
    assert browser.post(f"/sites/{site['id']}/assets/{ap['id']}/edit", data=form).status_code == 302
    items = api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()["items"]
    assert next(i for i in items if i["id"] == aps["id"])["assets"] == 1
    other = add_asset(api, site)
    taken = browser.post(f"/sites/{site['id']}/assets/{other['id']}/edit", data={**form, "tag": ap["tag"]})
    assert taken.status_code == 400
    assert f"Tag {ap['tag']} is already on another asset." in taken.get_data(as_text=True)


def test_every_change_to_an_asset_is_kept_with_who_when_and_from_where(app, api, site, bundle):
    created = upsert(site["id"], kind="firewall", status="received", serial="FGT60F-1")
    assert api["tech"].sync([created], device="phone-1").get_json()["acks"][0]["status"] == "applied"
    assert api["tech"].sync([created], device="phone-1").get_json()["acks"][0]["status"] == "duplicate"
    asset_id = created["asset_id"]
    first = upsert(site["id"], asset_id, base_rev=1, status="installed", room="Comms room")
    stale = upsert(site["id"], asset_id, base_rev=1, room="Reception", serial="FGT60F-1")  # serial unchanged
    assert api["tech"].sync([first], device="phone-1").get_json()["acks"][0]["status"] == "applied"
    assert api["pm"].sync([stale], device="pm-laptop").get_json()["acks"][0]["status"] == "conflict"
    assert api["tech"].sync([upsert(site["id"], asset_id, base_rev=3, room="Reception")],
                            device="phone-1").get_json()["acks"][0]["status"] == "applied"  # nothing changes

    with app.app_context():
        asset = db.session.get(Asset, asset_id)
        tag = asset.tag  # the server's: the phone made none
        events = [(e.kind, e.rev, e.base_rev, e.changes, e.user.email, e.device_id)
                  for e in inventory.asset_history(db.session, asset)]
    assert events == [
        ("conflict", 3, 1, {"room": ["Comms room", "Reception"]}, "pm@example.com", "pm-laptop"),
        ("update", 2, 1, {"status": ["received", "installed"], "room": ["", "Comms room"]}, "tech@example.com",
         "phone-1"),
        ("create", 1, None, {"kind": [None, "firewall"], "status": [None, "received"], "serial": [None, "FGT60F-1"],
                             "tag": [None, tag]}, "tech@example.com", "phone-1")]

    browser = app.test_client()
    login(browser, "pm@example.com")
    page = browser.get(f"/sites/{site['id']}/assets/{asset_id}/edit").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    circuit = next(i for i in bundle["items"] if i["key"] == "firewall-configured")
    assert browser.post(f"/sites/{site['id']}/assets/{asset_id}/edit", data={
        "csrf_token": token, "kind": "firewall", "status": "verified", "room": "Reception", "make": "Fortinet",
        "model": "", "serial": "FGT60F-1", "mac": "", "tag": tag, "item_id": str(circuit["id"])}).status_code == 302
    page = " ".join(browser.get(f"/sites/{site['id']}/assets/{asset_id}/edit").get_data(as_text=True).split())
    assert "History" in page
    assert (f"pm (web) changed: Status Installed → <b>Verified</b>, Make <span class=\"muted\">empty</span> → "
            f"<b>Fortinet</b>, Checklist item <span class=\"muted\">empty</span> → <b>{circuit['title']}</b>") in page
    assert "pm (pm-laptop) changed <span class=\"chip warn\">at the same time as someone else</span>" in page
    assert ("tech (phone-1) added it: Status <b>Received</b>, Kind <b>Firewall</b>, Serial <b>FGT60F-1</b>, "
            f"Tag <b>{tag}</b>") in page


def test_a_long_inventory_opens_room_by_room(client, api, site):
    login(client, "pm@example.com")
    api["tech"].sync([upsert(site["id"], kind="ap", room="Reception", serial="AP-0")])
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert re.findall(r'<details class="inv-group"\s*(open)?>', page) == ["open"]  # a short list shows all
    rooms = ["Reception", "Surgery 1", "Surgery 2"]
    api["tech"].sync([upsert(site["id"], kind="workstation", room=rooms[n % 3], serial=f"WS-{n}") for n in range(30)])
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "31 assets" in page and re.findall(r'<details class="inv-group"\s*(open)?>', page) == ["", "", ""]
    assert "Surgery 1 <span class=\"muted\">· 10</span>" in page


# --------------------------------------------------------------------------- CSV files as spreadsheets really make them

FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")


def _import_on_page(client, site, raw: bytes, name="delivery.csv"):
    login(client, "pm@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    boundary = uuid.uuid4().hex  # the body is built here: werkzeug's test client leaks a temp file past 500 KB
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n").encode() + raw + f"\r\n--{boundary}--\r\n".encode()
    return client.post(f"/sites/{site['id']}/assets/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_no_exported_cell_reads_as_a_formula_under_any_separator_and_the_export_imports_back(api, site):
    values = [{"kind": "switch", "make": "Cisco;=cmd|' /C calc'!A0;", "model": 'CBS,+1;"=2', "serial": "a;@SUM(A1)",
               "room": "Reception"},
              {"kind": "ap", "make": "-3", "model": 'U6,=HYPERLINK("http://evil")', "serial": "'=already quoted"}]
    for changes in values:
        add_asset(api, site, **changes)
    text = api["pm"].get(f"/api/sites/{site['id']}/assets.csv").get_data(as_text=True)
    for delimiter in (",", ";", "\t"):
        cells = [cell for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) for cell in row]
        cells += [piece for line in text.splitlines() for piece in line.split(delimiter)]  # a reader ignoring quotes
        formulas = [cell for cell in cells if cell.lstrip(' "').startswith(FORMULA_CHARS)]
        assert formulas == [], f"read with {delimiter!r}"
    again = _import(api, site, text).get_json()
    assert (again["updated"], again["rejected"]) == (2, 0)
    stored = sorted(api["pm"].get(f"/api/sites/{site['id']}/assets").get_json(), key=lambda a: a["kind"])
    assert [{name: a[name] for name in changes} for a, changes in zip(stored, values[::-1], strict=True)] == values[::-1]


def test_cells_are_escaped_exactly_once_so_any_text_survives_the_round_trip():
    for text in ["=1", "'=1", "''=1", "a;=b", "a,'+b", "\t=x", "a\r\n@b", 'x;"=y', "plain", "it's", "-", "';-"]:
        assert inventory._unescape(inventory.safe_cell(text)) == text, text


def test_a_classic_mac_file_with_cr_line_endings_imports(api, client, site):
    body = "Kind;Make;Room\rap;Ubiquiti;Reception\rswitch;Cisco;Comms room\r"
    report = _import(api, site, body).get_json()
    assert (report["created"], report["rejected"]) == (2, 0)
    assert "2 added · 0 updated · 0 need fixing" in _import_on_page(client, site, body.encode()).get_data(as_text=True)
    assert sorted(a["make"] for a in api["pm"].get(f"/api/sites/{site['id']}/assets").get_json()) == \
        ["Cisco", "Cisco", "Ubiquiti", "Ubiquiti"]


def test_a_byte_order_mark_before_windows_text_is_not_part_of_the_first_column(api, site):
    raw = b"\xef\xbb\xbfkind;make\nap;Soci\xe9t\xe9\n"
    answer = api["pm"].client.post(f"/api/sites/{site['id']}/assets.csv", data=raw,
                                   headers={**api["pm"].headers, "Content-Type": "text/csv"})
    assert answer.get_json()["created"] == 1
    assert api["pm"].get(f"/api/sites/{site['id']}/assets").get_json()[0]["make"] == "Société"


@pytest.mark.parametrize(("body", "status", "code", "says"), [
    ("kind,make\nap," + "x" * (128 * 1024 + 1) + "\n", 400, "bad_csv", "longer than 131,072 characters"),
    ('kind,make\nap,"Cisco\n' + "ap,Ubiquiti\n" * 12000, 400, "bad_csv", "quote"),
    ("Kind,Make,Room\r\n", 400, "empty_csv", "only the header row"),
    ("\n\r\n\n", 400, "empty_csv", "empty"),
    ("kind\n" + "\n" * (2 * 1024 * 1024 - 10), 400, "empty_csv", "only the header row"),
    (",".join(f"c{n}" for n in range(5000)) + ",kind\nap\n", 400, "too_many_columns", "at most 200"),
    ("kind\n" + "ap\n" * (inventory.MAX_CSV_ROWS + 1), 413, "too_large", "at most 5000 rows"),
    ("kind,make\n" + ("ap," + "x" * 100 + "\n") * 21000, 413, "too_large", "2 MiB"),
])
def test_a_file_that_cannot_be_imported_says_why_on_the_api_and_on_the_page(api, client, site, body, status, code,
                                                                             says):
    answer = _import(api, site, body)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (status, code)
    assert says in answer.get_json()["error"]["message"]
    page = _import_on_page(client, site, body.encode())
    assert page.status_code in (400, 413) and says in page.get_data(as_text=True).replace("&#34;", '"')
    assert api["pm"].get(f"/api/sites/{site['id']}/assets").get_json() == []


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(["kind", "make", "ap", "switch", ",", ";", "\t", "\r", "\n", "\r\n", '"',
                                        "'", "=", "é", "\ufeff", " ", "Reception", "x" * 70000]), max_size=40))
def test_whatever_a_spreadsheet_saves_the_import_answers_a_report_or_a_clear_refusal(api, site, pieces):
    answer = _import(api, site, "".join(pieces))
    assert answer.status_code in (200, 400, 413), answer.get_data(as_text=True)[:300]
