"""The field app's rules (static/field/rules.js) give the server's answers: both run on the same generated sites.

Node runs the ES module as the phone's browser would; one Node process answers every case of the module.
"""
import json
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit import readiness, wording

RULES = Path(__file__).resolve().parent.parent / "static" / "field" / "rules.js"
TODAY, MOVE_IN = date(2025, 11, 22), date(2025, 12, 4)
# Reads each line as a JSON case and answers a line of JSON: the item states, or the module's tables.
RUNNER = """
import { createInterface } from "node:readline";
const rules = await import(process.argv[1]);
for await (const line of createInterface({ input: process.stdin })) {
  const job = JSON.parse(line);
  let answer;
  if (job.tables) {
    answer = { verdicts: rules.VERDICT_LABELS, statuses: rules.STATUS_LABELS, kinds: rules.REASON_KINDS,
               installed: rules.INSTALLED };
  } else {
    const states = rules.itemStates(job.items, (item) => ({ photos: item.photos, assets: item.assets }),
                                    job.today, job.move_in);
    answer = Object.fromEntries(states);
  }
  process.stdout.write(JSON.stringify(answer) + "\\n");
}
"""

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


class Phone:
    """One Node process with a copy of the rules module (.mjs, so Node loads it as an ES module)."""

    def __init__(self, source: str, folder: Path):
        module = folder / "rules.mjs"
        module.write_text(source)
        self.node = subprocess.Popen(["node", "--input-type=module", "-e", RUNNER, module.as_uri()],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def __call__(self, job: dict) -> dict:
        self.node.stdin.write(json.dumps(job) + "\n")
        self.node.stdin.flush()
        line = self.node.stdout.readline()
        assert line, "node stopped"
        return json.loads(line)

    def close(self) -> None:
        self.node.stdin.close()
        self.node.wait(timeout=10)
        self.node.stdout.close()


@pytest.fixture(scope="module")
def phone_rules(tmp_path_factory):
    """Ask the field app's rules: a function from a case to its JSON answer."""
    phone = Phone(RULES.read_text(), tmp_path_factory.mktemp("rules"))
    yield phone
    phone.close()


def test_the_phone_has_the_servers_label_tables_and_reason_kinds(phone_rules):
    tables = phone_rules({"tables": True})
    assert tables["verdicts"] == wording.VERDICT_LABELS
    assert tables["statuses"] == wording.STATUS_LABELS
    assert tables["kinds"] == list(readiness.REASON_KINDS)
    assert tables["installed"] == ["installed", "verified"]


names = st.sampled_from(["download_mbps", "rssi_dbm", "cable_fail_count"])
# Half the limits and readings come from a few numbers, so a reading often sits exactly on its limit.
few = st.sampled_from([-1, 0, 1, 2, 2.5])
limits = st.one_of(few, st.one_of(st.floats(-3, 3, allow_nan=False), st.just("2"), st.just("oops"), st.booleans(),
                                  st.none()))
readings = st.one_of(few, st.one_of(st.none(), st.floats(-3, 3, allow_nan=False), st.booleans(),
                                    st.text(alphabet=" 012.-", max_size=4)))
thresholds = st.dictionaries(names, st.one_of(
    st.fixed_dictionaries({"min": limits}), st.fixed_dictionaries({"max": limits}),
    st.fixed_dictionaries({"min": limits, "max": limits}), st.just({"unit": "Mbps"})), max_size=2)


@st.composite
def sites(draw):
    count = draw(st.integers(1, 9))
    items = []
    for item_id in range(1, count + 1):
        wanted = draw(thresholds)
        items.append({
            "id": item_id, "severity": draw(st.sampled_from(["blocker", "major", "minor"])),
            "status": draw(st.sampled_from(readiness.STATUSES)), "disputed": draw(st.booleans()),
            "thresholds": wanted,
            "measurements": {name: draw(readings) for name in wanted if draw(st.integers(0, 4))},
            "photos_required": draw(st.integers(0, 3)), "photos": draw(st.integers(0, 3)),
            "assets_required": draw(st.integers(0, 2)), "assets": draw(st.integers(0, 3)),
            # Loops, waiting for itself and ids that are not on the site: the rules must cope as the server does.
            "depends_on": draw(st.lists(st.integers(1, count + 1), max_size=3)),
            "due": draw(st.none() | st.dates(TODAY - timedelta(days=20), MOVE_IN + timedelta(days=10))),
        })
    return items


def server_states(items: list[dict]) -> dict:
    facts = [readiness.ItemFacts(
        id=i["id"], title=f"Item {i['id']}", category="Network", severity=i["severity"], status=i["status"],
        disputed=i["disputed"], thresholds=i["thresholds"], measurements=i["measurements"],
        photos_required=i["photos_required"], photos=i["photos"], assets_required=i["assets_required"],
        assets=i["assets"], depends_on=tuple(i["depends_on"]), due=i["due"]) for i in items]
    verdict = readiness.assess(readiness.SiteFacts(move_in=MOVE_IN, today=TODAY), facts)
    answer = {}
    for item_id, state in verdict.items.items():
        shape = state.as_json()
        for reason in shape["reasons"]:
            del reason["text"]  # the words are the server's; the phone shows them while it agrees
        answer[str(item_id)] = shape
    return answer


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=sites())
def test_the_phone_and_the_server_give_every_item_the_same_state(phone_rules, items):
    case = {"items": [{**i, "due": i["due"].isoformat() if i["due"] else None} for i in items],
            "today": TODAY.isoformat(), "move_in": MOVE_IN.isoformat()}
    assert phone_rules(case) == server_states(items)


def test_the_comparison_catches_a_phone_that_forgets_a_rule(tmp_path):
    """A check that cannot fail proves nothing: a copy of the rules that forgets disputes is caught."""
    source = RULES.read_text()
    assert "\n    && !item.disputed;" in source
    forgetful = Phone(source.replace("\n    && !item.disputed;", ";"), tmp_path)
    try:
        disputed = [{"id": 1, "severity": "major", "status": "pass", "disputed": True, "thresholds": {},
                     "measurements": {}, "photos_required": 0, "photos": 0, "assets_required": 0, "assets": 0,
                     "depends_on": [], "due": None}]
        answer = forgetful({"items": disputed, "today": TODAY.isoformat(), "move_in": MOVE_IN.isoformat()})
        assert answer["1"]["ready"] is True
        assert answer != server_states(disputed)
    finally:
        forgetful.close()
