"""Checklist templates: load and validate `checklists/*.toml`, expand per-room items for a site."""
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from .errors import TemplateError
from .readiness import kahn_order

SEVERITIES = ("blocker", "major", "minor")
ASSET_KINDS = ("switch", "firewall", "router", "ap", "printer", "workstation", "laptop", "phone",
               "badge-reader", "ups", "server", "nas", "display", "camera", "other")
KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
MEASURE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
TOP_FIELDS = {"key": str, "title": str, "version": int, "description": str, "threshold": int,
              "weights": dict, "items": list}
ITEM_FIELDS = {"key": str, "title": str, "category": str, "severity": str, "guidance": str,
               "client_text": str, "photos": int, "due_days": int, "depends_on": list, "per_room": bool,
               "asset_kind": str, "assets": int, "thresholds": dict}


@dataclass(frozen=True)
class ItemSpec:
    key: str
    title: str
    category: str
    severity: str
    guidance: str = ""
    client_text: str | None = None
    photos: int = 0
    due_days: int | None = None
    depends_on: tuple[str, ...] = ()
    per_room: bool = False
    asset_kind: str | None = None
    assets: int = 0
    thresholds: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    key: str
    title: str
    version: int
    description: str
    threshold: int
    weights: dict
    items: tuple[ItemSpec, ...]

    def as_dict(self) -> dict:
        """The template as plain JSON-ready data (frozen into a checklist when applied)."""
        return {
            "key": self.key, "title": self.title, "version": self.version,
            "description": self.description, "threshold": self.threshold, "weights": self.weights,
            "items": [{**spec.__dict__, "depends_on": list(spec.depends_on)} for spec in self.items],
        }


def load_dir(folder: Path) -> dict[str, Template]:
    """Load every `*.toml` in `folder`, keyed by template key; raise TemplateError on the first broken file."""
    templates = {}
    for path in sorted(Path(folder).glob("*.toml")):
        template = load_file(path)
        templates[template.key] = template
    return templates


def load_file(path: Path) -> Template:
    """Read and validate one template file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path.name}: not valid TOML: {exc}") from exc
    return parse(data, path.name, expected_key=path.stem)


def parse(data: dict, source: str, expected_key: str | None = None) -> Template:
    """Validate template data; `source` names the file in every error message."""

    def fail(problem: str, item: str | None = None):
        where = f"{source}, item '{item}'" if item else source
        raise TemplateError(f"{where}: {problem}")

    _check_fields(data, TOP_FIELDS, fail, None)
    for required in ("key", "title", "version", "items"):
        if required not in data:
            fail(f"missing '{required}'")
    if expected_key and data["key"] != expected_key:
        fail(f"key '{data['key']}' must match the file name '{expected_key}'")
    threshold = data.get("threshold", 90)
    if not 0 <= threshold <= 100:
        fail("threshold must be between 0 and 100")
    weights = {"blocker": 5, "major": 2, "minor": 1, **data.get("weights", {})}
    if set(weights) != set(SEVERITIES) or not all(isinstance(w, int) and w >= 0 for w in weights.values()):
        fail("weights may only set blocker, major and minor to whole numbers >= 0")
    if not data["items"]:
        fail("has no items")
    items, seen = [], set()
    for n, raw in enumerate(data["items"], 1):
        if not isinstance(raw, dict):
            fail(f"item {n} is not a table")
        label = raw.get("key") if isinstance(raw.get("key"), str) else f"#{n}"
        items.append(_parse_item(raw, lambda problem, label=label: fail(problem, label)))
        if items[-1].key in seen:
            fail("key is used twice", label)
        seen.add(items[-1].key)
    for spec in items:
        for dep in spec.depends_on:
            if dep not in seen:
                fail(f"depends on '{dep}', which is not an item of this template", spec.key)
            if dep == spec.key:
                fail("depends on itself", spec.key)
    _check_acyclic(items, fail)
    return Template(key=data["key"], title=data["title"], version=data["version"],
                    description=data.get("description", ""), threshold=threshold, weights=weights,
                    items=tuple(items))


def _parse_item(raw: dict, fail) -> ItemSpec:
    _check_fields(raw, ITEM_FIELDS, lambda problem, _item=None: fail(problem), None)
    for required in ("key", "title", "category", "severity"):
        if required not in raw:
            fail(f"missing '{required}'")
    if not KEY.match(raw["key"]):
        fail("key must be lowercase letters, digits and '-'")
    if raw["severity"] not in SEVERITIES:
        fail(f"severity '{raw['severity']}' must be one of {', '.join(SEVERITIES)}")
    if raw.get("photos", 0) < 0 or raw.get("assets", 0) < 0:
        fail("photos and assets must be 0 or more")
    if "asset_kind" in raw and raw["asset_kind"] not in ASSET_KINDS:
        fail(f"asset_kind '{raw['asset_kind']}' must be one of {', '.join(ASSET_KINDS)}")
    if not all(isinstance(dep, str) for dep in raw.get("depends_on", [])):
        fail("depends_on must list item keys")
    thresholds = {}
    for name, rule in raw.get("thresholds", {}).items():
        if not MEASURE.match(name):
            fail(f"measurement '{name}' must be lowercase snake_case")
        if not isinstance(rule, dict) or set(rule) - {"min", "max", "unit", "label"}:
            fail(f"threshold '{name}' may only have min or max, unit and label")
        bounds = [b for b in ("min", "max") if b in rule]
        if len(bounds) != 1 or isinstance(rule[bounds[0]], bool) or not isinstance(rule[bounds[0]], (int, float)):
            fail(f"threshold '{name}' needs exactly one numeric min or max")
        thresholds[name] = {bounds[0]: rule[bounds[0]], "unit": str(rule.get("unit", "")),
                            "label": str(rule.get("label", name.replace("_", " ")))}
    return ItemSpec(
        key=raw["key"], title=raw["title"], category=raw["category"], severity=raw["severity"],
        guidance=raw.get("guidance", ""), client_text=raw.get("client_text"), photos=raw.get("photos", 0),
        due_days=raw.get("due_days"), depends_on=tuple(raw.get("depends_on", ())),
        per_room=raw.get("per_room", False), asset_kind=raw.get("asset_kind"),
        assets=raw.get("assets", 1 if "asset_kind" in raw else 0), thresholds=thresholds,
    )


def _check_fields(data: dict, allowed: dict, fail, item) -> None:
    for name, value in data.items():
        if name not in allowed:
            fail(f"unknown field '{name}'", item)
        kind = allowed[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            fail(f"'{name}' must be {kind.__name__.replace('str', 'text').replace('dict', 'a table')}", item)


def _check_acyclic(items: list[ItemSpec], fail) -> None:
    """Refuse a dependency cycle, naming it (a long chain loads like a short one: see readiness.kahn_order)."""
    deps = {spec.key: tuple(dict.fromkeys(spec.depends_on)) for spec in items}
    _, left = kahn_order(deps)
    if not left:
        return
    # Every item left waits for another one left, so walking from the first one must come back round.
    stuck = set(left)
    path, key = [], left[0]
    while key not in path:
        path.append(key)
        key = next(dep for dep in deps[key] if dep in stuck)
    fail("dependency cycle: " + " -> ".join([*path[path.index(key):], key]), key)


@dataclass(frozen=True)
class PlannedItem:
    """One item to create on a site: a spec in a room (or site-wide), its due date and dependency refs."""

    spec: ItemSpec
    room: str | None
    due: date | None
    depends_on: tuple[tuple[str, str | None], ...]  # (key, room) pairs of the items it waits for


def expand(template: Template, rooms: list[str], move_in: date) -> list[PlannedItem]:
    """Expand a template for a site: per-room items once per room, dependencies resolved to rooms.

    A per-room item waits for the same room's instance of a per-room dependency; a site-wide item
    waiting on a per-room one waits for every room's instance.
    """
    per_room = {spec.key: spec.per_room for spec in template.items}
    planned = []
    for spec in template.items:
        for room in (rooms if spec.per_room else [None]):
            refs: list[tuple[str, str | None]] = []
            for dep in spec.depends_on:
                if not per_room[dep]:
                    refs.append((dep, None))
                elif room is not None:
                    refs.append((dep, room))
                else:
                    refs.extend((dep, r) for r in rooms)
            due = move_in + timedelta(days=spec.due_days) if spec.due_days is not None else None
            planned.append(PlannedItem(spec=spec, room=room, due=due, depends_on=tuple(refs)))
    return planned

