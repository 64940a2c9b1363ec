"""The JSON API of API.md, as scripts and phones use it."""
from datetime import date, timedelta

import pytest

from tests.conftest import update

IN_20_DAYS = (date.today() + timedelta(days=20)).isoformat()


def new_site(**overrides):
    return {"name": "Zenith Legal HQ", "client": "Zenith Legal", "move_in": IN_20_DAYS, "template": "office-move",
            "rooms": ["Reception", "Open plan"], **overrides}


def test_templates_list_every_checklist_with_its_items(api):
    templates = {t["key"]: t for t in api["tech"].get("/api/templates").get_json()}
    assert {"office-move", "server-replacement", "mfa-rollout"} <= set(templates)
    office = templates["office-move"]
    assert office["version"] >= 1 and office["title"]
    assert len(office["items"]) >= 40
    assert {"key", "title", "category", "severity", "depends_on", "thresholds"} <= set(office["items"][0])


def test_pm_creates_a_site_and_a_new_client_comes_with_it(api):
    response = api["pm"].post("/api/sites", new_site(address="9 Elm Row", technicians=["tech@example.com"]))
    assert response.status_code == 201
    site = response.get_json()
    assert site["client"] == "Zenith Legal" and site["move_in"] == IN_20_DAYS
    assert site["rooms"] == ["Reception", "Open plan"] and site["technicians"] == ["tech@example.com"]
    assert site["checklists"][0]["template"] == "office-move" and site["status"] in ("AT_RISK", "NO_GO")
    listed = [s["name"] for s in api["tech"].get("/api/sites").get_json()]
    assert listed == ["Zenith Legal HQ"]


def test_office_move_for_four_rooms_has_at_least_sixty_items(bundle):
    assert len(bundle["items"]) >= 60
    rooms = {item["room"] for item in bundle["items"]} - {None}
    assert rooms == {"Reception", "Surgery 1", "Surgery 2", "Comms room"}


def test_bundle_has_everything_a_phone_needs_in_the_documented_shape(bundle):
    assert set(bundle) >= {"site", "items", "assets", "photos", "cursor"}
    item = bundle["items"][0]
    assert set(item) >= {"id", "key", "title", "category", "severity", "status", "note", "measurements",
                         "thresholds", "photos_required", "depends_on", "due", "room", "rev"}
    measured = next(i for i in bundle["items"] if i["thresholds"])
    for rule in measured["thresholds"].values():
        assert ("min" in rule) != ("max" in rule) and "unit" in rule
    ids = {i["id"] for i in bundle["items"]}
    assert all(dep in ids for i in bundle["items"] for dep in i["depends_on"])
    assert isinstance(bundle["cursor"], int)


def test_per_room_wifi_waits_for_its_own_room_not_the_others(bundle):
    by_id = {i["id"]: i for i in bundle["items"]}
    wifi = [i for i in bundle["items"] if i["room"] == "Reception" and "wifi" in i["key"]]
    assert wifi
    for item in wifi:
        assert all(by_id[dep]["room"] in (None, "Reception") for dep in item["depends_on"])


def test_readiness_answers_in_the_documented_shape_with_plain_reasons(api, site):
    readiness = api["client"].get(f"/api/sites/{site['id']}/readiness").get_json()
    assert readiness["status"] in ("GO", "AT_RISK", "NO_GO")
    assert 0 <= readiness["score"] <= 100
    assert readiness["blockers"] and set(readiness["blockers"][0]) == {"item_id", "title", "reason"}
    assert readiness["summary"].startswith(("At risk", "Not ready"))
    assert "Wi-Fi" in readiness["categories"]


def test_tech_marks_an_item_and_readiness_moves(api, bundle, site):
    before = api["pm"].get(f"/api/sites/{site['id']}/readiness").get_json()["score"]
    free = [i for i in bundle["items"] if not i["depends_on"] and not i["photos_required"] and not i["thresholds"]]
    acks = api["tech"].sync([update(i, {"status": "pass"}) for i in free]).get_json()["acks"]
    assert {a["status"] for a in acks} == {"applied"}
    after = api["pm"].get(f"/api/sites/{site['id']}/readiness").get_json()["score"]
    assert after > before


def test_board_lists_every_site_riskiest_first_with_last_sync(api, bundle, site):
    api["pm"].post("/api/sites", new_site(move_in=(date.today() + timedelta(days=90)).isoformat()))
    api["tech"].sync([update(bundle["items"][0], {"note": "On site"})])
    board = api["pm"].get("/api/board").get_json()
    assert [row["name"] for row in board][0:2] and len(board) == 2
    row = next(r for r in board if r["site_id"] == site["id"])
    assert set(row) >= {"site_id", "name", "client", "move_in", "status", "score", "blockers", "disputed",
                        "last_sync"}
    assert "tech@example.com" in row["last_sync"]
    ranks = [{"NO_GO": 0, "AT_RISK": 1, "GO": 2}[r["status"]] for r in board]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize(("body", "code", "words"), [
    ({"template": "office-moves"}, "unknown_template", "Unknown template 'office-moves'"),
    ({"move_in": "31/12/2026"}, "bad_date", "YYYY-MM-DD"),
    ({"move_in": "2026-02-30"}, "bad_date", "YYYY-MM-DD"),
    ({"move_in": 20261231}, "bad_date", "YYYY-MM-DD"),
    ({"name": ""}, "missing_field", "'name' is required"),
    ({"name": None}, "bad_type", "'name' must be text"),
    ({"client": ["Acme"]}, "bad_type", "'client' must be text"),
    ({"rooms": "Reception"}, "bad_type", "'rooms' must be a list"),
    ({"technicians": ["nobody@example.com"]}, "unknown_technician", "nobody@example.com"),
    ({"technicians": ["pm@example.com"]}, "unknown_technician", "not a technician"),
])
def test_bad_site_input_gets_a_clear_4xx(api, body, code, words):
    response = api["pm"].post("/api/sites", new_site(**body))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code and words in error["message"]
    assert api["pm"].get("/api/sites").get_json() == []


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", "null", '"text"'])
def test_body_that_is_not_an_object_is_refused(api, payload):
    response = api["pm"].client.post("/api/sites", data=payload, content_type="application/json",
                                     headers=api["pm"].headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in ("bad_json", "bad_body")


def test_missing_fields_are_named(api):
    response = api["pm"].post("/api/sites", {"name": "X"})
    assert response.status_code == 400 and "client" in response.get_json()["error"]["message"]


def test_unknown_site_and_unknown_route_answer_json_404(api):
    for url in ("/api/sites/999999/readiness", "/api/sites/999999/bundle", "/api/nothing-here"):
        response = api["pm"].get(url)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_wrong_method_answers_json_405(api):
    response = api["pm"].client.delete("/api/board", headers=api["pm"].headers)
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"


def test_board_query_count_does_not_grow_with_the_number_of_sites(app, api, site):
    from sqlalchemy import event

    from fieldkit.db import db

    def queries_for_board() -> int:
        api["pm"].get("/api/board")  # the first read of the day may refresh stale summaries
        with app.app_context():
            seen = []

            def listener(conn, cursor, statement, *rest):
                seen.append(statement)

            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                assert api["pm"].get("/api/board").status_code == 200
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    one = queries_for_board()
    for n in range(4):
        api["pm"].post("/api/sites", new_site(name=f"Branch {n}"))
    assert 0 < one == queries_for_board()
