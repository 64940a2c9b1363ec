"""Readiness as the one source of item truth: what `assess` says about each item, and who reads it."""
import ast
from datetime import date, timedelta
from pathlib import Path

import pytest

from fieldkit.readiness import REASON_KINDS, ItemFacts, SiteFacts, assess
from tests.conftest import login, update

MOVE_IN, TODAY = date(2025, 12, 4), date(2025, 11, 22)
SPEED = {"download_mbps": {"min": 500, "unit": "Mbps", "label": "Download speed"}}


def site(**overrides) -> SiteFacts:
    return SiteFacts(**{"move_in": MOVE_IN, "today": TODAY, **overrides})


def item(item_id: int, **overrides) -> ItemFacts:
    return ItemFacts(**{"id": item_id, "title": f"Item {item_id}", "category": "Network", "severity": "major",
                        "status": "pass", **overrides})


def kinds(state) -> list[tuple]:
    return [(r.kind, r.count, r.ids, r.name) for r in state.reasons]


@pytest.mark.parametrize(("overrides", "applicable", "ready", "failed", "expected"), [
    ({}, True, True, False, []),
    ({"status": "todo"}, True, False, False, [("not_passed", 0, (), "")]),
    ({"status": "fail"}, True, False, True, [("failed", 0, (), "")]),
    ({"status": "na"}, False, False, False, []),
    ({"status": "na", "disputed": True}, True, False, False, [("not_passed", 0, (), ""), ("disputed", 0, (), "")]),
    ({"photos_required": 3, "photos": 1}, True, False, False, [("photos_missing", 2, (), "")]),
    ({"assets_required": 4, "assets": 1}, True, False, False, [("assets_missing", 3, (), "")]),
    ({"thresholds": SPEED}, True, False, False, [("unmeasured", 0, (), "download_mbps")]),
    ({"thresholds": SPEED, "measurements": {"download_mbps": 10}}, True, False, True,
     [("out_of_range", 0, (), "download_mbps")]),
    ({"status": "todo", "due": TODAY - timedelta(days=1)}, True, False, False,
     [("not_passed", 0, (), ""), ("overdue", 0, (), "")]),
    ({"status": "todo", "due": MOVE_IN + timedelta(days=1)}, True, False, False,
     [("not_passed", 0, (), ""), ("after_move_in", 0, (), "")]),
])
def test_each_item_says_if_it_applies_is_ready_failed_open_and_every_reason_why_not(
        overrides, applicable, ready, failed, expected):
    state = assess(site(), [item(1, **overrides)]).items[1]
    assert (state.applicable, state.ready, state.failed, state.open) == (applicable, ready, failed,
                                                                         applicable and not ready)
    assert kinds(state) == expected
    assert state.problems == [r.text for r in state.reasons] and all(r.text for r in state.reasons)


def test_every_reason_is_listed_in_the_order_of_the_kinds():
    items = [item(1, status="todo"), item(2, status="fail", disputed=True, thresholds=SPEED, photos_required=1,
                                          assets_required=1, depends_on=(1, 3), due=TODAY - timedelta(days=2)),
             item(3, depends_on=(3,))]
    state = assess(site(), items).items[2]
    found = [r.kind for r in state.reasons]
    assert found == ["failed", "unmeasured", "photos_missing", "assets_missing", "disputed", "waiting_for", "overdue"]
    assert found == sorted(found, key=REASON_KINDS.index)
    assert state.reason("waiting_for").ids == (1, 3)
    assert [r.kind for r in assess(site(), items).items[3].reasons] == ["in_cycle", "waiting_for"]


def test_item_state_as_json_carries_the_structured_reasons():
    state = assess(site(), [item(1, photos_required=2), item(2, depends_on=(1,))]).items
    assert state[1].as_json() == {"applicable": True, "ready": False, "failed": False, "open": True, "reasons": [
        {"kind": "photos_missing", "text": "needs 2 photos, has 0", "count": 2}]}
    assert state[2].as_json()["reasons"] == [{"kind": "waiting_for", "text": "waiting for: Item 1", "ids": [1]}]


def test_a_long_dependency_chain_and_a_long_loop_are_assessed_without_recursion():
    chain = [item(n, depends_on=(n + 1,)) for n in range(1, 3000)] + [item(3000, status="todo")]
    states = assess(site(), chain).items
    assert not any(state.ready for state in states.values())
    assert states[1].problems == ["waiting for: Item 2"]
    loop = [item(n, depends_on=(n % 3000 + 1,)) for n in range(1, 3001)] + [item(9999, depends_on=(1,))]
    states = assess(site(), loop).items
    assert all(states[n].reason("in_cycle") for n in range(1, 3001))
    assert kinds(states[9999]) == [("waiting_for", 0, (1,), "")]


def _imports(module: str) -> set[str]:
    """Every module the file imports, relative ones (`from . import wording`) included."""
    tree = ast.parse((Path(__file__).resolve().parents[1] / "fieldkit" / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.update([node.module.split(".")[0]] if node.module else [alias.name for alias in node.names])
    return found


def test_rules_and_words_stay_pure_and_the_words_know_no_rules():
    assert _imports("readiness") == {"math", "collections", "dataclasses", "datetime", "fractions", "wording"}
    assert _imports("wording") == {"datetime", "dates"}


# --------------------------------------------------------------------------- the pages read it


def by_key(bundle: dict, key: str) -> dict:
    return next(i for i in bundle["items"] if i["key"] == key)


def section(page: str, anchor: str) -> str:
    return page.split(f'id="{anchor}"')[1].split("</section>")[0]


def test_a_disputed_not_applicable_item_still_lacks_its_photos(client, api, site, bundle):
    rack = by_key(bundle, "comms-rack-installed")  # two photos required
    assert api["tech"].sync([update(rack, {"status": "pass"})]).get_json()["acks"][0]["status"] == "applied"
    ack = api["pm"].sync([update(rack, {"status": "na", "note": "No rack here"})], device="tablet").get_json()
    assert ack["acks"][0]["status"] == "conflict"
    login(client, "pm@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "Disputed items" in page
    evidence = section(page, "evidence")
    assert rack["title"] in evidence and "0 of 2 photos" in evidence


def test_open_work_lists_a_passed_item_that_still_lacks_its_photos(client, api, site, bundle):
    schedule, rack = by_key(bundle, "cabling-schedule-agreed"), by_key(bundle, "comms-rack-installed")
    api["tech"].sync([update(schedule, {"status": "pass"}), update(rack, {"status": "pass"})])
    login(client, "pm@example.com")
    work = section(client.get(f"/sites/{site['id']}").get_data(as_text=True), "schedule")
    assert rack["title"] in work, "passed, but without its two photos it is not done"
    assert schedule["title"] not in work, "passed with nothing missing: done"
