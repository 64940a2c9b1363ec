"""Checklist templates: every shipped file loads, and a broken one says where and what."""
from datetime import date
from pathlib import Path

import pytest

from fieldkit import create_app
from fieldkit.checklists import expand, load_dir, load_file
from fieldkit.errors import TemplateError

SHIPPED = sorted(Path(__file__).resolve().parent.parent.joinpath("checklists").glob("*.toml"))
CATEGORIES = {"ISP circuits", "Structured cabling", "Network & firewall", "Wi-Fi", "Printers & MFPs",
              "Access control", "Workstations & accounts", "Phones & VoIP", "AV & meeting rooms",
              "Security & backup", "Move-day logistics"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_template_loads(path):
    template = load_file(path)
    assert template.key == path.stem and template.items
    assert any(spec.severity == "blocker" for spec in template.items)


def test_the_three_templates_the_product_needs_are_shipped():
    assert {"office-move", "server-replacement", "mfa-rollout"} <= set(load_dir(SHIPPED[0].parent))


def test_office_move_covers_every_area_with_dependencies_thresholds_and_photos():
    template = load_file(SHIPPED[0].parent / "office-move.toml")
    assert {spec.category for spec in template.items} == CATEGORIES
    assert len(expand(template, ["A", "B", "C", "D"], date(2026, 12, 4))) >= 60
    assert any(spec.per_room for spec in template.items)
    assert any("rssi_dbm" in spec.thresholds for spec in template.items)
    assert any(spec.photos for spec in template.items)
    assert all(spec.due_days is not None for spec in template.items if spec.severity == "blocker")


def test_expand_links_per_room_items_to_their_own_room():
    template = load_file(SHIPPED[0].parent / "office-move.toml")
    planned = expand(template, ["Reception", "Boardroom"], date(2026, 12, 4))
    for plan in planned:
        for _key, room in plan.depends_on:
            assert room in (None, plan.room) or plan.room is None


GOOD = '''key = "mini"
title = "Mini"
version = 1

[[items]]
key = "a"
title = "A"
category = "Net"
severity = "blocker"
'''


@pytest.mark.parametrize(("extra", "message"), [
    ('\n[[items]]\nkey = "b"\ntitle = "B"\ncategory = "Net"\nseverity = "fatal"\n',
     "mini.toml, item 'b': severity 'fatal' must be one of blocker, major, minor"),
    ('\n[[items]]\nkey = "b"\ntitle = "B"\ncategory = "Net"\nseverity = "minor"\ndepends_on = ["zz"]\n',
     "mini.toml, item 'b': depends on 'zz', which is not an item of this template"),
    ('\n[[items]]\nkey = "a"\ntitle = "B"\ncategory = "Net"\nseverity = "minor"\n',
     "mini.toml, item 'a': key is used twice"),
    ('\n[[items]]\nkey = "b"\ntitle = "B"\ncategory = "Net"\nseverity = "minor"\nphotoz = 1\n',
     "mini.toml, item 'b': unknown field 'photoz'"),
    (('\n[[items]]\nkey = "b"\ntitle = "B"\ncategory = "Net"\nseverity = "minor"\n'
      '[items.thresholds]\nrssi_dbm = { unit = "dBm" }\n'),
     "mini.toml, item 'b': threshold 'rssi_dbm' needs exactly one numeric min or max"),
    ('\n[[items]]\nkey = "b"\ntitle = "B"\ncategory = "Net"\nseverity = "minor"\nphotos = "two"\n',
     "mini.toml, item 'b': 'photos' must be int"),
    ('\n[[items]]\ntitle = "B"\ncategory = "Net"\nseverity = "minor"\n', "mini.toml, item '#2': missing 'key'"),
    (('\n[[items]]\nkey = "b"\ntitle = "B"\ncategory = "Net"\nseverity = "minor"\ndepends_on = ["c"]\n'
      '\n[[items]]\nkey = "c"\ntitle = "C"\ncategory = "Net"\nseverity = "minor"\ndepends_on = ["b"]\n'),
     "dependency cycle: b -> c -> b"),
    ('oops = [', "mini.toml: not valid TOML"),
])
def test_broken_template_names_file_item_and_problem(tmp_path, extra, message):
    path = tmp_path / "mini.toml"
    path.write_text(GOOD + extra)
    with pytest.raises(TemplateError) as caught:
        load_file(path)
    assert message in str(caught.value)


def test_key_must_match_the_file_name(tmp_path):
    path = tmp_path / "other.toml"
    path.write_text(GOOD)
    with pytest.raises(TemplateError, match="other.toml: key 'mini' must match the file name 'other'"):
        load_file(path)


def test_app_refuses_to_start_with_a_broken_template(tmp_path):
    (tmp_path / "mini.toml").write_text(GOOD.replace('severity = "blocker"', 'severity = "huge"'))
    with pytest.raises(TemplateError, match="mini.toml, item 'a'"):
        create_app({"TESTING": True, "CHECKLIST_DIR": str(tmp_path)})


def chain(count: int, closed: bool = False) -> str:
    """A template whose items each wait for the next one (and, closed, the last waits for the first)."""
    items = [f'\n[[items]]\nkey = "i{n}"\ntitle = "Step {n}"\ncategory = "Net"\nseverity = "minor"\n'
             + (f'depends_on = ["i{n + 1}"]\n' if n < count - 1 else ('depends_on = ["i0"]\n' if closed else ""))
             for n in range(count)]
    return 'key = "mini"\ntitle = "Mini"\nversion = 1\n' + "".join(items)


def test_a_long_dependency_chain_loads_at_start_up(tmp_path):
    (tmp_path / "mini.toml").write_text(chain(1200))
    assert load_file(tmp_path / "mini.toml").items[0].depends_on == ("i1",)
    app = create_app({"TESTING": True, "CHECKLIST_DIR": str(tmp_path)})
    assert len(app.extensions["templates"]["mini"].items) == 1200


def test_a_long_dependency_cycle_is_a_template_error_naming_it(tmp_path):
    (tmp_path / "mini.toml").write_text(chain(1200, closed=True))
    with pytest.raises(TemplateError) as caught:
        load_file(tmp_path / "mini.toml")
    message = str(caught.value)
    assert message.startswith("mini.toml, item 'i0': dependency cycle: i0 -> i1 -> i2 -> ")
    assert message.endswith(" -> i1198 -> i1199 -> i0")
