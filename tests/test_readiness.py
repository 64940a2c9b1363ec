"""The go-live readiness rules (PRODUCT.md "Readiness rules"), one story per test."""

import ast
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldkit.readiness import (
    SEVERITY_WEIGHTS,
    STATUSES,
    ItemFacts,
    SiteFacts,
    assess,
    measurement_problem,
)

MOVE_IN = date(2025, 12, 4)   # a Thursday
TODAY = date(2025, 11, 22)    # 12 days before move-in
SPEED = {"download_mbps": {"min": 500, "unit": "Mbps", "label": "Download speed"}}
RANK = {"NO_GO": 0, "AT_RISK": 1, "GO": 2}


def site(**overrides) -> SiteFacts:
    """A site moving in on Thu 4 Dec 2025, seen on Sat 22 Nov 2025."""
    return SiteFacts(**{"move_in": MOVE_IN, "today": TODAY, **overrides})


def item(item_id: int, **overrides) -> ItemFacts:
    """A passed major item unless the test says otherwise."""
    values = {"title": f"Item {item_id}", "category": "Network", "severity": "major", "status": "pass"}
    values.update(overrides)
    return ItemFacts(id=item_id, **values)


def blocker(item_id: int, **overrides) -> ItemFacts:
    return item(item_id, **{"severity": "blocker", **overrides})


def dec(day: int) -> date:
    return date(2025, 12, day)


def nov(day: int) -> date:
    return date(2025, 11, day)


# --------------------------------------------------------------------------- measurements


@pytest.mark.parametrize(
    ("value", "threshold", "expected"),
    [
        (312, {"min": 500, "unit": "Mbps", "label": "Download speed"}, "Download speed 312 Mbps is below the 500 Mbps required"),
        (500, {"min": 500, "unit": "Mbps", "label": "Download speed"}, None),
        (612.0, {"min": 500, "unit": "Mbps", "label": "Download speed"}, None),
        ("612", {"min": 500, "unit": "Mbps", "label": "Download speed"}, None),
        (312.5, {"min": 500, "unit": "Mbps", "label": "Download speed"}, "Download speed 312.5 Mbps is below the 500 Mbps required"),
        (-72, {"min": -67, "unit": "dBm", "label": "Wi-Fi signal"}, "Wi-Fi signal -72 dBm is below the -67 dBm required"),
        (-67, {"min": -67, "unit": "dBm", "label": "Wi-Fi signal"}, None),
        (80, {"max": 50, "unit": "ms", "label": "Latency"}, "Latency 80 ms is above the 50 ms allowed"),
        (50, {"max": 50, "unit": "ms", "label": "Latency"}, None),
        (10, {"min": 5, "max": 8, "label": "Temperature"}, "Temperature 10 is above the 8 allowed"),
        (47.25, {"min": 50, "unit": "%", "label": "UPS battery"}, "UPS battery 47.25% is below the 50% required"),
        (300, {"min": 500}, "Download mbps 300 is below the 500 required"),
        (None, {"min": 500, "label": "Download speed"}, "Download speed has not been measured yet"),
        ("", {"min": 500, "label": "Download speed"}, "Download speed has not been measured yet"),
        ("fast", {"min": 500, "label": "Download speed"}, 'Download speed reading "fast" is not a number'),
        (float("nan"), {"min": 500, "label": "Download speed"}, 'Download speed reading "nan" is not a number'),
        (600, {"unit": "Mbps", "label": "Download speed"}, "Download speed has no min or max limit in the checklist"),
        (600, {"min": "lots", "label": "Download speed"}, "the min limit for Download speed in the checklist is not a number"),
    ],
)
def test_measurement_problem_explains_readings_in_plain_words(value, threshold, expected):
    assert measurement_problem("download_mbps", value, threshold) == expected


# --------------------------------------------------------------------------- one item on its own


@pytest.mark.parametrize(
    ("overrides", "ready", "failed", "problems"),
    [
        pytest.param({}, True, False, [], id="passed item is ready"),
        pytest.param({"status": "todo"}, False, False, ["not checked yet"], id="todo item is not ready"),
        pytest.param({"status": "fail", "note": "port 3 dead"}, False, True, ["marked as failed: port 3 dead"],
                     id="failed item is failed"),
        pytest.param({"photos_required": 2}, False, False, ["needs 2 photos, has 0"], id="missing photos"),
        pytest.param({"photos_required": 1}, False, False, ["needs 1 photo, has 0"], id="missing single photo"),
        pytest.param({"photos_required": 2, "photos": 3}, True, False, [], id="enough photos"),
        pytest.param({"thresholds": SPEED}, False, False, ["Download speed has not been measured yet"],
                     id="missing measurement is not ready but not failed"),
        pytest.param({"thresholds": SPEED, "measurements": {"download_mbps": 612}}, True, False, [],
                     id="measurement within threshold"),
        pytest.param({"thresholds": SPEED, "measurements": {"download_mbps": 312}}, False, True,
                     ["Download speed 312 Mbps is below the 500 Mbps required"], id="measurement out of threshold"),
        pytest.param({"status": "todo", "thresholds": SPEED, "measurements": {"download_mbps": 312}}, False, True,
                     ["not checked yet", "Download speed 312 Mbps is below the 500 Mbps required"],
                     id="bad reading fails an unchecked item on its own"),
        pytest.param({"measurements": {"jitter_ms": 99}}, True, False, [], id="measurement without threshold is ignored"),
        pytest.param({"assets_required": 4, "assets": 2}, False, False, ["needs 4 assets, has 2"], id="missing assets"),
        pytest.param({"assets_required": 4, "assets": 4}, True, False, [], id="all assets present"),
        pytest.param({"assets_required": 0, "assets": 0}, True, False, [], id="assets not counted"),
        pytest.param({"disputed": True}, False, False, ["disputed: two technicians disagree"], id="disputed pass"),
        pytest.param({"status": "todo", "due": nov(20)}, False, False, ["not checked yet", "overdue since 20 Nov"],
                     id="overdue item says since when"),
        pytest.param({"status": "todo", "due": dec(6)}, False, False,
                     ["not checked yet", "due 6 Dec, 2 days after move-in"], id="item due after move-in says so"),
        pytest.param({"due": nov(1)}, True, False, [], id="ready item is never overdue"),
        pytest.param({"status": "na", "photos_required": 3}, False, False, [], id="na item is not applicable"),
    ],
)
def test_item_readiness_follows_the_evidence(overrides, ready, failed, problems):
    state = assess(site(), [item(1, **overrides)]).items[1]
    assert (state.ready, state.failed, state.problems) == (ready, failed, problems)


def test_measurement_below_threshold_fails_even_when_marked_pass():
    firewall = blocker(1, title="Firewall configured", status="pass",
                       thresholds=SPEED, measurements={"download_mbps": 312})
    verdict = assess(site(), [firewall])
    assert verdict.items[1].failed is True
    assert verdict.items[1].ready is False
    assert verdict.status == "NO_GO"
    assert verdict.reasons[0] == "Firewall configured failed: Download speed 312 Mbps is below the 500 Mbps required."
    assert verdict.blockers == [{"item_id": 1, "title": "Firewall configured",
                                 "reason": "Failed: Download speed 312 Mbps is below the 500 Mbps required."}]


# --------------------------------------------------------------------------- dependencies


def test_item_is_not_ready_while_what_it_depends_on_is_not_ready():
    verdict = assess(site(), [item(1, title="Internet circuit live", status="todo"), item(2, depends_on=(1,))])
    assert verdict.items[2].ready is False
    assert verdict.items[2].failed is False
    assert verdict.items[2].problems == ["waiting for: Internet circuit live"]


def test_dependency_readiness_is_transitive():
    # 3 waits for 2 which waits for 1; 2 and 3 are passed but 1 lacks its photo.
    items = [item(1, photos_required=1), item(2, depends_on=(1,)), item(3, depends_on=(2,))]
    states = assess(site(), items).items
    assert [states[i].ready for i in (1, 2, 3)] == [False, False, False]
    assert states[3].problems == ["waiting for: Item 2"]


def test_item_becomes_ready_once_its_dependencies_are():
    states = assess(site(), [item(1), item(2, depends_on=(1,)), item(3, depends_on=(2, 1))]).items
    assert [states[i].ready for i in (1, 2, 3)] == [True, True, True]


def test_not_applicable_dependency_counts_as_satisfied():
    states = assess(site(), [item(1, status="na"), item(2, depends_on=(1,))]).items
    assert states[2].ready is True


def test_disputed_not_applicable_dependency_holds_its_dependents_back():
    verdict = assess(site(), [item(1, status="na", disputed=True), item(2, depends_on=(1,)), item(3)])
    assert verdict.items[2].ready is False
    # The dispute keeps the "na" item in the denominator: only item 3 is ready, 2 of 6.
    assert verdict.score == 33
    undisputed = assess(site(), [item(1, status="na"), item(2, depends_on=(1,)), item(3)])
    assert undisputed.score == 100


def test_dependency_on_an_unknown_item_is_ignored():
    assert assess(site(), [item(1, depends_on=(99,))]).items[1].ready is True


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([item(1, depends_on=(2,)), item(2, depends_on=(1,))], id="two items waiting for each other"),
        pytest.param([item(1, depends_on=(2,)), item(2, depends_on=(3,)), item(3, depends_on=(1,))], id="loop of three"),
        pytest.param([item(1, depends_on=(1,)), item(2, depends_on=(1,))], id="item waiting for itself"),
    ],
)
def test_items_in_a_dependency_cycle_are_never_ready(items):
    verdict = assess(site(), [*items, item(9)])
    for state in (verdict.items[i] for i in (1, 2)):
        assert state.ready is False
    assert "part of a dependency loop in the checklist, so it can never be ready" in verdict.items[1].problems
    assert verdict.items[9].ready is True
    assert verdict.status != "GO"


def test_item_outside_a_cycle_waits_for_it_without_being_in_it():
    states = assess(site(), [item(1, depends_on=(2,)), item(2, depends_on=(1,)), item(3, depends_on=(1,))]).items
    assert states[3].ready is False
    assert states[3].problems == ["waiting for: Item 1"]


def test_cycle_through_a_not_applicable_item_does_not_block():
    states = assess(site(), [item(1, depends_on=(2,)), item(2, status="na", depends_on=(1,))]).items
    assert states[1].ready is True


def test_a_very_long_dependency_chain_is_resolved_without_recursion_limits():
    chain = [item(1)] + [item(i, depends_on=(i - 1,)) for i in range(2, 3001)]
    assert assess(site(), chain).score == 100
    broken = [replace(chain[0], status="todo"), *chain[1:]]
    assert assess(site(), broken).score == 0


# --------------------------------------------------------------------------- score


def test_not_applicable_items_leave_the_denominator():
    ready_blocker = blocker(1)
    assert assess(site(), [ready_blocker, item(2, status="na"), item(3, status="na", severity="minor")]).score == 100
    # The same major item still open counts against the score: 5 / (5 + 2) = 71.4 -> 71.
    assert assess(site(), [ready_blocker, item(2, status="todo")]).score == 71


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        pytest.param(dict(SEVERITY_WEIGHTS), 75, id="default weights: (5 + 1) / 8"),
        pytest.param({"blocker": 10, "major": 1, "minor": 1}, 91, id="overridden weights: 11 / 12"),
        pytest.param({"major": 0}, 100, id="partial override keeps the other defaults: 6 / 6"),
        pytest.param({"blocker": 1, "major": 1, "minor": 1}, 66, id="equal weights: 2 / 3"),
    ],
)
def test_score_is_weighted_by_severity(weights, expected):
    items = [blocker(1), item(2, status="todo"), item(3, severity="minor")]
    assert assess(site(weights=weights), items).score == expected


def test_decimal_weights_do_not_lose_a_point_to_floating_point():
    # 0.7 + 0.2 is 0.8999999999999999 in floats; the score must still be exactly 90.
    weights = {"blocker": 0.7, "major": 0.2, "minor": 0.1}
    items = [blocker(1), item(2), item(3, severity="minor", status="todo")]
    verdict = assess(site(weights=weights), items)
    assert verdict.score == 90
    assert verdict.status == "GO"


@pytest.mark.parametrize(
    ("ready", "total", "expected"),
    [(2, 3, 66), (199, 200, 99), (1, 3, 33), (17, 19, 89), (0, 5, 0), (4, 4, 100)],
)
def test_score_rounds_down_so_it_never_overstates(ready, total, expected):
    items = [item(i, severity="minor", status="pass" if i <= ready else "todo") for i in range(1, total + 1)]
    assert assess(site(), items).score == expected


# --------------------------------------------------------------------------- verdict


def _ninety_percent() -> list[ItemFacts]:
    # blocker 5 + major 2 + 2 minor = 9 ready of 10: exactly 90.
    return [blocker(1), item(2), item(3, severity="minor"), item(4, severity="minor"),
            item(5, severity="minor", status="todo")]


@pytest.mark.parametrize(
    ("items", "overrides", "status", "score"),
    [
        pytest.param(_ninety_percent(), {}, "GO", 90, id="threshold exactly met is GO"),
        pytest.param(_ninety_percent(), {"threshold": 91}, "AT_RISK", 90, id="one point under threshold is AT_RISK"),
        pytest.param([item(i, severity="minor", status="pass" if i <= 17 else "todo") for i in range(1, 20)], {},
                     "AT_RISK", 89, id="89.5 is not rounded up to GO"),
        pytest.param([blocker(1, status="fail"), *[blocker(i) for i in range(2, 30)]], {}, "NO_GO", 96,
                     id="failed blocker is NO_GO whatever the score"),
        pytest.param([blocker(1), blocker(2), item(3, severity="minor", status="fail")], {}, "GO", 90,
                     id="failed minor item alone does not stop GO"),
        pytest.param([blocker(1), blocker(2, status="todo", due=nov(21))], {}, "NO_GO", 50,
                     id="open blocker overdue is NO_GO"),
        pytest.param([blocker(1), blocker(2, status="todo", due=TODAY)], {}, "AT_RISK", 50,
                     id="open blocker due today is not yet overdue"),
        pytest.param([blocker(1), blocker(2, status="todo", due=MOVE_IN)], {}, "AT_RISK", 50,
                     id="open blocker due on move-in day is AT_RISK"),
        pytest.param([blocker(1), blocker(2, status="todo", due=dec(5))], {}, "NO_GO", 50,
                     id="open blocker due after move-in is NO_GO"),
        pytest.param([blocker(1), blocker(2, status="todo")], {}, "AT_RISK", 50,
                     id="open blocker without a due date is AT_RISK"),
        pytest.param([blocker(1, due=dec(10))], {}, "GO", 100, id="ready blocker due after move-in is fine"),
        pytest.param([blocker(1, status="todo", due=dec(9)), blocker(2, status="todo", depends_on=(1,), due=dec(1))],
                     {}, "NO_GO", 0, id="upstream blocker due after move-in is NO_GO"),
        pytest.param([blocker(1, status="na"), item(2)], {}, "GO", 100, id="na blocker is fine"),
        pytest.param([blocker(1, status="na", thresholds=SPEED, measurements={"download_mbps": 1}), item(2)], {},
                     "GO", 100, id="na blocker's readings do not count"),
        pytest.param([blocker(1, photos_required=1), *[blocker(i) for i in range(2, 30)]], {}, "AT_RISK", 96,
                     id="blocker lacking proof blocks GO"),
        pytest.param([*[blocker(i) for i in range(1, 5)], item(5, severity="minor", disputed=True)], {},
                     "AT_RISK", 95, id="any disputed item blocks GO"),
        pytest.param([*[blocker(i) for i in range(1, 5)], item(5, severity="minor", status="na", disputed=True)], {},
                     "AT_RISK", 95, id="disputed na item still blocks GO and counts"),
        pytest.param([blocker(1), item(2, status="todo", due=nov(1))], {"threshold": 70}, "GO", 71,
                     id="overdue minor work does not make NO_GO"),
        pytest.param([], {}, "AT_RISK", 0, id="no items is not readiness"),
        pytest.param([], {"threshold": 0}, "AT_RISK", 0, id="no items is never GO even at threshold 0"),
        pytest.param([blocker(1, status="na"), item(2, status="na")], {"threshold": 0}, "AT_RISK", 0,
                     id="all items na is never GO"),
        pytest.param([blocker(1), item(2)], {"threshold": 0, "weights": {"blocker": 0, "major": 0, "minor": 0}},
                     "AT_RISK", 0, id="no weight at all is never GO"),
    ],
)
def test_verdict_boundaries(items, overrides, status, score):
    verdict = assess(site(**overrides), items)
    assert (verdict.status, verdict.score) == (status, score)


def test_no_items_explains_that_nothing_can_be_confirmed():
    verdict = assess(site(), [])
    assert verdict.reasons[0] == "No checklist items apply to this site yet, so readiness cannot be confirmed."
    assert verdict.summary.startswith("At risk: No checklist items apply")
    assert verdict.blockers == []
    assert verdict.categories == {}


def test_blocker_that_waits_for_a_late_blocker_is_listed_with_the_late_ones():
    items = [
        blocker(1, title="Desk phones", status="todo", due=nov(30)),
        blocker(2, title="Firewall configured", status="todo", depends_on=(3,)),
        blocker(3, title="Internet circuit live", status="todo", due=dec(6)),
    ]
    verdict = assess(site(), items)
    assert verdict.status == "NO_GO"
    assert verdict.reasons == [
        ("Internet circuit live is not ready yet: it is due 6 Dec, 2 days after move-in. "
        "Firewall configured depends on it."),
        ("Firewall configured is not ready yet: it has no due date yet; "
        "it is waiting for Internet circuit live (due 6 Dec, 2 days after move-in)."),
        "Desk phones is not ready yet: it is due 30 Nov, 4 days before move-in.",
        "Only 0% of the checklist is complete, weighted by importance; 90% is needed to go live.",
    ]


# --------------------------------------------------------------------------- reasons, summary and forecast


def _circuit_site() -> list[ItemFacts]:
    circuit = blocker(1, title="Internet circuit live", status="todo", due=dec(3), category="ISP",
                      client_text="The internet connection is not live yet")
    wifi = [item(10 + n, title="Wi-Fi coverage", category="Wi-Fi", room=room, depends_on=(1,))
            for n, room in enumerate(("Boardroom", "Kitchen", "Open plan"))]
    phones = item(20, title="Desk phones", category="Phones", depends_on=(11,))
    return [circuit, *wifi, phones]


def test_reason_names_client_text_due_date_and_everything_waiting_downstream():
    verdict = assess(site(), _circuit_site())
    expected = ("The internet connection is not live yet: it is due 3 Dec, 1 day before move-in. "
                "Wi-Fi and Phones depend on it.")
    assert verdict.reasons[0] == expected
    assert verdict.blockers == [{
        "item_id": 1, "title": "Internet circuit live",
        "reason": "Not ready: it is due 3 Dec, 1 day before move-in. Wi-Fi and Phones depend on it.",
    }]
    assert verdict.status == "AT_RISK"


def test_dependent_areas_are_named_up_to_three_then_counted():
    circuit = blocker(1, title="Internet circuit live", status="todo", category="ISP")
    areas = ["Firewall", "Wi-Fi", "Phones", "Printers", "Doors"]
    downstream = [item(10 + n, title=f"{area} check", category=area, depends_on=(1,)) for n, area in enumerate(areas)]
    downstream.append(item(30, title="Wi-Fi coverage", category="Wi-Fi", room="Kitchen", depends_on=(1,)))
    reason = assess(site(), [circuit, *downstream]).reasons[0]
    assert reason.endswith(" Firewall, Wi-Fi, Phones and 2 more areas depend on it.")


def test_dependents_in_the_same_area_are_counted():
    circuit = blocker(1, title="Internet circuit live", status="todo")
    downstream = [item(10 + n, title=f"Check {n}", depends_on=(1,)) for n in range(4)]
    reason = assess(site(), [circuit, *downstream]).reasons[0]
    assert reason.endswith(" 4 other checks depend on it.")


def test_single_dependent_takes_a_singular_verb_and_na_dependents_are_left_out():
    items = [blocker(1, title="Cabling certified", status="todo"),
             item(2, title="Wi-Fi coverage", depends_on=(1,)),
             item(3, title="Fax line", status="na", depends_on=(1,))]
    assert assess(site(), items).reasons[0] == (
        "Cabling certified is not ready yet: it has no due date yet. Wi-Fi coverage depends on it."
    )


@pytest.mark.parametrize(
    ("due", "phrase"),
    [
        (dec(3), "it is due 3 Dec, 1 day before move-in"),
        (dec(1), "it is due 1 Dec, 3 days before move-in"),
        (MOVE_IN, "it is due 4 Dec, on move-in day"),
        (dec(5), "it is due 5 Dec, 1 day after move-in"),
        (dec(6), "it is due 6 Dec, 2 days after move-in"),
        (nov(17), "it was due 17 Nov (17 days before move-in) and is 5 days overdue"),
        (nov(21), "it was due 21 Nov (13 days before move-in) and is 1 day overdue"),
        (date(2026, 1, 3), "it is due 3 Jan 2026, 30 days after move-in"),
        (None, "it has no due date yet"),
    ],
)
def test_reason_dates_are_short_and_relative_to_move_in(due, phrase):
    verdict = assess(site(), [blocker(1, title="Cabling certified", status="todo", due=due)])
    assert verdict.reasons[0] == f"Cabling certified is not ready yet: {phrase}."


def test_blocker_reason_says_what_evidence_is_missing_once_work_is_reported_done():
    items = [blocker(1, title="Access control", room="Reception", photos_required=3, photos=1,
                     assets_required=2, assets=1, thresholds=SPEED)]
    assert assess(site(), items).reasons[0] == (
        "Access control (Reception) is not ready yet: it has no due date yet; it still needs 2 photos as proof; "
        "only 1 of 2 devices are recorded; Download speed has not been measured yet."
    )


def test_marked_fail_blocker_with_client_text_reads_plainly():
    items = [blocker(1, title="Door badge readers", status="fail", note="reader 2 no power",
                     client_text="The door badge readers do not work yet")]
    verdict = assess(site(), items)
    assert verdict.reasons[0] == "The door badge readers do not work yet: a technician marked it as failed."
    assert verdict.items[1].problems == ["marked as failed: reader 2 no power"]


@pytest.mark.parametrize(
    ("count", "sentence"),
    [
        (1, "1 item is disputed: two technicians reported different results and a project manager must decide."),
        (2, "2 items are disputed: two technicians reported different results and a project manager must decide."),
    ],
)
def test_disputes_are_explained_and_counted(count, sentence):
    items = [*[blocker(i) for i in range(1, 20)],
             *[item(100 + i, severity="minor", disputed=True) for i in range(count)]]
    verdict = assess(site(), items)
    assert verdict.status == "AT_RISK"
    assert verdict.disputed == count
    assert verdict.reasons == [sentence]


def test_reasons_put_failures_first_then_late_blockers_then_the_rest():
    items = [
        blocker(1, title="Alarm panel", status="todo", due=nov(28)),
        blocker(2, title="Backup verified", status="todo", due=dec(8)),
        blocker(3, title="Core switch", status="fail"),
        item(4, title="Label printer", severity="minor", status="fail"),
        item(5, title="Phone directory", status="todo", due=nov(20)),
    ]
    verdict = assess(site(), items)
    assert verdict.status == "NO_GO"
    assert verdict.reasons == [
        "Core switch failed: a technician marked it as failed.",
        "Backup verified is not ready yet: it is due 8 Dec, 4 days after move-in.",
        "Alarm panel is not ready yet: it is due 28 Nov, 6 days before move-in.",
        "Only 0% of the checklist is complete, weighted by importance; 90% is needed to go live.",
        "1 less critical item failed its check: Label printer.",
        "1 less critical item is overdue: Phone directory.",
    ]
    assert verdict.summary == (
        "Not ready to go live: Core switch failed: a technician marked it as failed. "
        "There are 5 more issues listed. "
        "Move-in is in 12 days (Thu 4 Dec). 3 blockers are still open; the last is due 8 Dec, "
        "4 days after move-in; 1 has no due date. 1 task is overdue. "
        "Readiness score: 0 out of 100."
    )


def test_blockers_are_ordered_failed_first_then_by_due_date_then_title():
    items = [
        blocker(1, title="Zebra", status="todo"),
        blocker(2, title="Bravo", status="todo", due=dec(2)),
        blocker(3, title="Alpha", status="todo", due=dec(2)),
        blocker(4, title="Charlie", status="todo", due=nov(29)),
        blocker(5, title="Yankee", status="fail", due=dec(3)),
        blocker(6, title="Xray", status="fail"),
        blocker(7, title="Ready one"),
        blocker(8, title="Not applicable", status="na"),
        item(9, title="Major open", status="todo"),
    ]
    assert [b["item_id"] for b in assess(site(), items).blockers] == [5, 6, 4, 3, 2, 1]


@pytest.mark.parametrize(
    ("status", "opening"),
    [("GO", "Ready to go live. "), ("AT_RISK", "At risk: "), ("NO_GO", "Not ready to go live: ")],
)
def test_summary_starts_with_the_verdict_in_words(status, opening):
    items = {
        "GO": [blocker(1)],
        "AT_RISK": [blocker(1, status="todo")],
        "NO_GO": [blocker(1, status="fail")],
    }[status]
    verdict = assess(site(), items)
    assert verdict.status == status
    assert verdict.summary.startswith(opening)
    assert verdict.summary.endswith(f" Readiness score: {verdict.score} out of 100.")


def test_go_summary_says_what_is_done_and_what_is_left():
    items = [*[blocker(i) for i in range(1, 5)], item(5, severity="minor", status="todo")]
    verdict = assess(site(), items)
    assert verdict.status == "GO"
    assert verdict.reasons == [
        "Every critical item is done and 95% of the checklist is complete (90% is needed to go live).",
        "1 less critical item is still open.",
    ]
    assert verdict.summary == (
        "Ready to go live. Every critical item is done and 95% of the checklist is complete "
        "(90% is needed to go live). There is 1 more issue listed. "
        "Move-in is in 12 days (Thu 4 Dec). No blockers are open. Readiness score: 95 out of 100."
    )


@pytest.mark.parametrize(
    ("today", "dues", "forecast"),
    [
        (TODAY, [nov(30), dec(1), dec(3)],
         "Move-in is in 12 days (Thu 4 Dec). 3 blockers are still open; the last is due 3 Dec, 1 day before move-in."),
        (TODAY, [dec(3)], ("Move-in is in 12 days (Thu 4 Dec). 1 blocker is still open; it is due 3 Dec, "
                          "1 day before move-in.")),
        (dec(3), [dec(3), None], ("Move-in is tomorrow (Thu 4 Dec). 2 blockers are still open; the last is due "
                                 "3 Dec, 1 day before move-in; 1 has no due date.")),
        (MOVE_IN, [None, None], "Move-in is today (Thu 4 Dec). 2 blockers are still open; none has a due date."),
        (dec(7), [dec(5)], ("Move-in was 3 days ago (Thu 4 Dec). 1 blocker is still open; it was due 5 Dec, "
                           "2 days overdue. 1 task is overdue.")),
        (TODAY, [], "Move-in is in 12 days (Thu 4 Dec). No blockers are open."),
        (date(2024, 12, 20), [], "Move-in is in 349 days (Thu 4 Dec 2025). No blockers are open."),
    ],
)
def test_forecast_talks_about_the_move_in_date(today, dues, forecast):
    items = [blocker(i, status="todo", due=due) for i, due in enumerate(dues, start=1)] or [blocker(1)]
    assert assess(site(today=today), items).forecast == forecast


# --------------------------------------------------------------------------- categories and counts


def test_categories_count_ready_applicable_failed_and_disputed():
    items = [
        item(1, category="Wi-Fi"), item(2, category="Wi-Fi"), item(3, category="Wi-Fi"),
        item(4, category="Wi-Fi", status="fail"), item(5, category="Wi-Fi", disputed=True),
        item(6, category="Wi-Fi", status="na"),
        blocker(7, category="ISP"), item(8, category="ISP", severity="minor", status="todo"),
        item(9, category="Fax", status="na"),
    ]
    assert assess(site(), items).categories == {
        "Fax": {"ready": 0, "applicable": 0, "score": 0, "failed": 0, "disputed": 0},
        "ISP": {"ready": 1, "applicable": 2, "score": 83, "failed": 0, "disputed": 0},
        "Wi-Fi": {"ready": 3, "applicable": 5, "score": 60, "failed": 1, "disputed": 1},
    }


def test_overdue_counts_only_open_applicable_items_past_their_due_date():
    items = [
        item(1, status="todo", due=nov(20)),              # overdue
        item(2, status="fail", due=nov(21)),              # overdue (failed is still open)
        item(3, due=nov(1)),                              # ready: fine
        item(4, status="na", due=nov(1)),                 # not applicable: fine
        item(5, status="todo", due=TODAY),                # due today: not yet overdue
        item(6, depends_on=(1,), due=nov(15)),            # passed but waiting: overdue
    ]
    assert assess(site(), items).overdue == 3


# --------------------------------------------------------------------------- bad input and purity


@pytest.mark.parametrize(
    ("items", "weights", "message"),
    [
        ([item(1), item(1)], None, "item id 1 appears more than once"),
        ([item(1, severity="critical")], None, "unknown severity 'critical'"),
        ([item(1, status="done")], None, "unknown status 'done'"),
        ([item(1)], {"major": -1}, "weight for severity 'major'"),
    ],
)
def test_bad_data_is_refused_rather_than_guessed(items, weights, message):
    facts = site() if weights is None else site(weights=weights)
    with pytest.raises(ValueError, match=message):
        assess(facts, items)


def _imports(module: str) -> set[str]:
    source = Path(__file__).resolve().parents[1] / "fieldkit" / f"{module}.py"
    imported = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    return imported


def test_engine_stays_pure_with_no_web_or_database_imports():
    assert _imports("readiness") <= {"math", "collections", "dataclasses", "datetime", "fractions", "dates"}
    assert _imports("dates") == {"datetime", "errors"}  # errors: the named exceptions, which import nothing


def test_assess_accepts_the_same_facts_twice_with_the_same_answer():
    items = _circuit_site()
    assert assess(site(), items) == assess(site(), list(items))


# --------------------------------------------------------------------------- property


@st.composite
def sites_with_one_item_to_break(draw):
    count = draw(st.integers(min_value=1, max_value=8))
    items = []
    for item_id in range(1, count + 1):
        photos_required = draw(st.integers(0, 2))
        has_threshold = draw(st.booleans())
        offset = draw(st.one_of(st.none(), st.integers(-20, 6)))
        items.append(ItemFacts(
            id=item_id,
            title=draw(st.sampled_from(["Circuit", "Firewall", "Wi-Fi", "Phones"])),
            category=draw(st.sampled_from(["ISP", "Network", "Wi-Fi"])),
            severity=draw(st.sampled_from(sorted(SEVERITY_WEIGHTS))),
            status=draw(st.sampled_from(STATUSES)),
            photos_required=photos_required,
            photos=draw(st.integers(0, 2)),
            thresholds=SPEED if has_threshold else {},
            measurements={"download_mbps": draw(st.sampled_from([None, 300, 700]))} if has_threshold else {},
            depends_on=tuple(draw(st.lists(st.integers(1, count + 1), max_size=3))),
            due=None if offset is None else MOVE_IN + timedelta(days=offset),
            disputed=draw(st.booleans()),
        ))
    target = draw(st.integers(0, count - 1))
    # Make the chosen item's own evidence complete, so only its dependencies can hold it back.
    items[target] = replace(items[target], status="pass", photos=items[target].photos_required, disputed=False,
                            measurements={"download_mbps": 700} if items[target].thresholds else {})
    breaking = draw(st.sampled_from(["todo", "fail", "disputed", "photo", "reading"]))
    good = items[target]
    bad = {
        "todo": replace(good, status="todo"),
        "fail": replace(good, status="fail"),
        "disputed": replace(good, disputed=True),
        "photo": replace(good, photos_required=good.photos + 1),
        "reading": replace(good, thresholds=SPEED, measurements={"download_mbps": 300}),
    }[breaking]
    threshold = draw(st.integers(0, 100))
    return threshold, items, target, bad


@settings(max_examples=300, deadline=None)
@given(sites_with_one_item_to_break())
def test_making_one_item_not_ready_never_improves_status_or_score(case):
    threshold, items, target, bad = case
    facts = site(threshold=threshold)
    before = assess(facts, items)
    broken = [*items[:target], bad, *items[target + 1:]]
    after = assess(facts, broken)
    assert after.items[bad.id].ready is False
    assert RANK[after.status] <= RANK[before.status]
    assert after.score <= before.score
    assert 0 <= after.score <= 100
    if after.status == "GO":
        assert after.blockers == [] and after.disputed == 0 and after.score >= threshold


def test_blocker_waiting_for_a_late_minor_item_is_no_go():
    # The firewall cannot be configured in time if the rack it needs arrives after move-in.
    items = [item(1, severity="minor", status="todo", due=dec(6)),
             blocker(2, status="todo", due=dec(1), depends_on=(1,))]
    assert assess(site(), items).status == "NO_GO"


def test_undated_open_blocker_is_no_go_once_move_in_has_passed():
    items = [blocker(1, status="todo")]
    assert assess(site(), items).status == "AT_RISK"
    assert assess(site(today=dec(5)), items).status == "NO_GO"


def test_headline_is_the_first_clause_of_the_most_important_reason():
    from fieldkit.readiness import headline

    verdict = assess(site(), _circuit_site())
    assert headline(verdict) == "The internet connection is not live yet: it is due 3 Dec, 1 day before move-in."
    assert headline(assess(site(), [])) == "No checklist items apply to this site yet, so readiness cannot be confirmed."


def test_old_evidence_never_proves_a_site_ready_today():
    items = [blocker(1), item(2)]
    assert assess(site(last_evidence=TODAY - timedelta(days=14)), items).status == "GO"
    stale = assess(site(last_evidence=TODAY - timedelta(days=15)), items)
    assert stale.status == "AT_RISK"
    assert "Nothing has been checked on site for 15 days" in stale.reasons[0]
