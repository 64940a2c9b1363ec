"""Go-live readiness: turn checklist evidence into an honest, explained verdict.

This module is the single home of the readiness rules (see PRODUCT.md, "Readiness
rules"). It is pure: plain dataclasses in, plain values out, no Flask, no database,
no clock (``SiteFacts.today`` is passed in), so the same facts always give the same
verdict and every rule can be tested in isolation.

Guiding principle: readiness never overstates. Missing measurements, missing photos,
disputed results, dependency loops and unknown data all make an item *not ready*,
and any doubt makes the verdict the worse one.
"""

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction

from .dates import day, move_in_sentence

SEVERITY_WEIGHTS = {"blocker": 5, "major": 2, "minor": 1}
STATUSES = ("todo", "pass", "fail", "na")
# Worst first, so a verdict's index is its rank (higher is better).
VERDICTS = ("NO_GO", "AT_RISK", "GO")

# Lists of names in client text stop here so a sentence stays readable.
_MAX_NAMES = 3
# The summary is one paragraph; the full list lives in Verdict.reasons.
_MAX_SUMMARY_REASONS = 1


@dataclass(frozen=True)
class ItemFacts:
    """Everything the engine needs to know about one checklist item."""

    id: int
    title: str
    category: str
    severity: str                      # blocker | major | minor
    status: str = "todo"               # todo | pass | fail | na
    note: str = ""
    measurements: dict = field(default_factory=dict)   # {"download_mbps": 612}
    thresholds: dict = field(default_factory=dict)     # {"download_mbps": {"min": 500, "unit": "Mbps", "label": "Download speed"}}
    photos_required: int = 0
    photos: int = 0                    # photos attached
    depends_on: tuple[int, ...] = ()   # item ids
    due: date | None = None
    room: str | None = None
    disputed: bool = False
    client_text: str | None = None     # plain-language phrase, e.g. "The internet connection is not live yet"
    assets_required: int = 0           # for items that count assets of a kind (0 = not counted)
    assets: int = 0


@dataclass(frozen=True)
class SiteFacts:
    """The site-wide facts: dates, the GO threshold and the severity weights."""

    move_in: date
    today: date
    threshold: int = 90                # GO threshold on the score
    weights: dict = field(default_factory=lambda: dict(SEVERITY_WEIGHTS))
    last_evidence: date | None = None  # when anything on the site was last recorded


STALE_AFTER_DAYS = 14  # evidence older than this no longer proves a site is ready today


@dataclass(frozen=True)
class ItemState:
    """The engine's view of one item."""

    ready: bool
    failed: bool          # marked fail, or a measurement out of threshold
    problems: list[str]   # plain-language reasons it is not ready


@dataclass(frozen=True)
class Verdict:
    """The go-live verdict for a site, with its explanation."""

    status: str           # "GO" | "AT_RISK" | "NO_GO"
    score: int            # 0-100 (round down, so it never overstates)
    blockers: list[dict]  # [{"item_id", "title", "reason"}] every blocker that is not ready
    categories: dict      # {"Wi-Fi": {"ready": 3, "applicable": 5, "score": 60, "failed": 1, "disputed": 0}}
    reasons: list[str]    # why this verdict, plain language, most important first
    summary: str          # one paragraph: verdict + key reasons
    items: dict[int, ItemState]
    disputed: int         # number of disputed items
    overdue: int          # number of not-ready items whose due date has passed
    forecast: str         # plain sentence about the move-in date


# --------------------------------------------------------------------------- text helpers


def _plural(n: int, word: str, plural: str | None = None) -> str:
    """'1 day', '2 days'."""
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _is_are(n: int) -> str:
    return "is" if n == 1 else "are"


def _relative_to_move_in(when: date, move_in: date) -> str:
    """'1 day before move-in', 'on move-in day', '2 days after move-in'."""
    delta = (when - move_in).days
    if delta == 0:
        return "on move-in day"
    if delta < 0:
        return f"{_plural(-delta, 'day')} before move-in"
    return f"{_plural(delta, 'day')} after move-in"


def _join_names(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C', 'A, B, C and 2 more'."""
    if len(names) > _MAX_NAMES:
        return f"{', '.join(names[:_MAX_NAMES])} and {len(names) - _MAX_NAMES} more"
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _distinct(texts: list[str]) -> list[str]:
    # Per-room repeats share a title; naming it once is enough for a client.
    return list(dict.fromkeys(texts))


def _sentence(text: str) -> str:
    """Capitalise the first letter and end with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _humanize(name: str) -> str:
    """'download_mbps' -> 'Download mbps' (used only when a threshold has no label)."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else "Measurement"


def _fmt_num(value: float) -> str:
    """312 -> '312', 612.0 -> '612', 47.25 -> '47.25'."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer():
        return str(int(value))
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    # Very small values would round to "0" and hide the real reading.
    return text if text not in ("0", "-0") else f"{value:g}"


def _with_unit(number: str, unit: str) -> str:
    if not unit:
        return number
    # "45%" and "21°C" read better without the space every other unit gets.
    return f"{number}{unit}" if unit.startswith(("%", "°")) else f"{number} {unit}"


def _to_number(value: object, allow_bool: bool) -> int | float | None:
    """A finite number from an int, float or numeric string; None otherwise."""
    if isinstance(value, bool):
        # A cable test recorded as true/false is a 1/0 reading; a limit never is.
        return int(value) if allow_bool else None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    # NaN compares false with everything and would slip through a limit check.
    return number if math.isfinite(number) else None


def _as_date(value: date | None) -> date | None:
    # A datetime cannot be compared with a date, so callers may pass either.
    return value.date() if isinstance(value, datetime) else value


# --------------------------------------------------------------------------- measurements


def _check_measurement(name: str, value: object, threshold: dict) -> tuple[str, str] | None:
    """(kind, message) where kind is 'limit', 'missing', 'invalid' or 'out_of_range'.

    Only 'out_of_range' makes an item *failed*; the other kinds make it not ready,
    because missing or unreadable data must never look like a pass.
    """
    spec = threshold if isinstance(threshold, dict) else {}
    label = str(spec.get("label") or _humanize(name))
    unit = str(spec.get("unit") or "")
    limits: dict[str, int | float | None] = {}
    for bound in ("min", "max"):
        if spec.get(bound) is None:
            continue
        limit = _to_number(spec[bound], allow_bool=False)
        if limit is None:
            return "limit", f"the {bound} limit for {label} in the checklist is not a number"
        limits[bound] = limit
    if not limits:
        return "limit", f"{label} has no min or max limit in the checklist"
    if value is None or (isinstance(value, str) and not value.strip()):
        return "missing", f"{label} has not been measured yet"
    reading = _to_number(value, allow_bool=True)
    if reading is None:
        return "invalid", f'{label} reading "{value}" is not a number'
    low, high = limits.get("min"), limits.get("max")
    if low is not None and reading < low:
        return "out_of_range", (
            f"{label} {_with_unit(_fmt_num(reading), unit)} is below the "
            f"{_with_unit(_fmt_num(low), unit)} required"
        )
    if high is not None and reading > high:
        return "out_of_range", (
            f"{label} {_with_unit(_fmt_num(reading), unit)} is above the "
            f"{_with_unit(_fmt_num(high), unit)} allowed"
        )
    return None


def measurement_problem(name: str, value: object, threshold: dict) -> str | None:
    """Explain why a measurement does not meet its threshold, or None when it does.

    ``threshold`` has ``min`` and/or ``max`` (both inclusive) and optionally ``unit``
    and ``label``. A missing value (None), an unreadable value (not a number, NaN) or
    a threshold without a usable limit is reported as a problem too: missing data is
    never treated as a pass.

    >>> measurement_problem("download_mbps", 312, {"min": 500, "unit": "Mbps", "label": "Download speed"})
    'Download speed 312 Mbps is below the 500 Mbps required'
    """
    found = _check_measurement(name, value, threshold)
    return None if found is None else found[1]


# --------------------------------------------------------------------------- evaluation


@dataclass
class _Eval:
    """Working notes about one item while the verdict is built."""

    item: ItemFacts
    weight: Fraction
    applicable: bool
    due: date | None
    own_ok: bool = False
    failed: bool = False
    in_cycle: bool = False
    ready: bool = False
    out_of_range: list[str] = field(default_factory=list)
    unmeasured: list[str] = field(default_factory=list)
    photos_missing: int = 0
    assets_missing: int = 0
    waiting_for: list[int] = field(default_factory=list)

    @property
    def open(self) -> bool:
        """Applicable and not ready: work still to do."""
        return self.applicable and not self.ready

    @property
    def label(self) -> str:
        """Title plus room, so per-room repeats can be told apart."""
        item = self.item
        return f"{item.title} ({item.room})" if item.room else item.title

    @property
    def client_label(self) -> str | None:
        item = self.item
        if not item.client_text:
            return None
        return f"{item.client_text} ({item.room})" if item.room else item.client_text


def _weights(site: SiteFacts) -> dict[str, Fraction]:
    """Severity weights as exact fractions (a template may override some of them)."""
    merged = dict(SEVERITY_WEIGHTS)
    merged.update(site.weights or {})
    weights: dict[str, Fraction] = {}
    for severity, raw in merged.items():
        number = _to_number(raw, allow_bool=False)
        if number is None or number < 0:
            raise ValueError(f"weight for severity {severity!r} must be a number >= 0, got {raw!r}")
        # Going through str() keeps 0.1 as exactly 1/10, so boundaries round as people expect.
        weights[severity] = Fraction(str(number)) if isinstance(number, float) else Fraction(number)
    return weights


def _validate(items: list[ItemFacts]) -> None:
    seen: set[int] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f"item id {item.id} appears more than once")
        seen.add(item.id)
        if item.severity not in SEVERITY_WEIGHTS:
            raise ValueError(f"item {item.id} ({item.title!r}) has unknown severity {item.severity!r}")
        if item.status not in STATUSES:
            raise ValueError(f"item {item.id} ({item.title!r}) has unknown status {item.status!r}")


def _evaluate_own(ev: _Eval) -> None:
    """Everything about an item that does not depend on other items."""
    item = ev.item
    for name, threshold in (item.thresholds or {}).items():
        found = _check_measurement(name, (item.measurements or {}).get(name), threshold)
        if found is None:
            continue
        kind, message = found
        (ev.out_of_range if kind == "out_of_range" else ev.unmeasured).append(message)
    ev.photos_missing = max(0, item.photos_required - item.photos)
    ev.assets_missing = max(0, item.assets_required - item.assets) if item.assets_required > 0 else 0
    # A reading out of threshold is a failure even when someone pressed "pass".
    ev.failed = ev.applicable and (item.status == "fail" or bool(ev.out_of_range))
    ev.own_ok = (
        ev.applicable
        and item.status == "pass"
        and not ev.failed
        and not ev.unmeasured
        and ev.photos_missing == 0
        and ev.assets_missing == 0
        and not item.disputed
    )


def _strongly_connected(order: list[int], deps: dict[int, list[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative (long dependency chains must not hit the recursion limit).

    Components come out dependencies-first, which is the order readiness must be resolved in.
    """
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    components: list[list[int]] = []
    for root in order:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(deps[root]))]
        while work:
            node, successors = work[-1]
            descended = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(deps[nxt])))
                    descended = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if descended:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[int] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _resolve_dependencies(evals: dict[int, _Eval], deps: dict[int, list[int]]) -> None:
    """Set ready, in_cycle and waiting_for on every item, dependencies first."""
    def satisfied(dep: int) -> bool:
        # A not-applicable item cannot hold anything up.
        return not evals[dep].applicable or evals[dep].ready

    for component in _strongly_connected(list(evals), deps):
        cyclic = len(component) > 1 or component[0] in deps[component[0]]
        for item_id in component:
            ev = evals[item_id]
            # An item in a loop waits for itself, so it can never honestly be ready.
            ev.in_cycle = cyclic
            ev.waiting_for = [d for d in deps[item_id] if not satisfied(d)] if ev.applicable else []
            ev.ready = ev.own_ok and not cyclic and not ev.waiting_for


def _item_problems(ev: _Eval, evals: dict[int, _Eval], site: SiteFacts) -> list[str]:
    """Short plain-language reasons an item is not ready (empty when ready or not applicable)."""
    if not ev.open:
        return []
    item = ev.item
    year = site.move_in.year
    problems: list[str] = []
    if item.status == "todo":
        problems.append("not checked yet")
    elif item.status == "fail":
        problems.append(f"marked as failed: {item.note}" if item.note.strip() else "marked as failed")
    elif item.status == "na":
        # Only a disputed "na" gets here: the dispute keeps it in the count.
        problems.append("marked not applicable, but that is disputed")
    problems.extend(ev.out_of_range)
    problems.extend(ev.unmeasured)
    if ev.photos_missing:
        problems.append(f"needs {_plural(item.photos_required, 'photo')}, has {item.photos}")
    if ev.assets_missing:
        problems.append(f"needs {_plural(item.assets_required, 'asset')}, has {item.assets}")
    if item.disputed:
        problems.append("disputed: two technicians disagree")
    if ev.in_cycle:
        problems.append("part of a dependency loop in the checklist, so it can never be ready")
    if ev.waiting_for:
        names = _distinct([evals[d].item.title for d in ev.waiting_for])
        problems.append(f"waiting for: {', '.join(names)}")
    if ev.due is not None and ev.due < site.today:
        problems.append(f"overdue since {day(ev.due, year=year)}")
    elif ev.due is not None and ev.due > site.move_in:
        problems.append(f"due {day(ev.due, year=year)}, {_relative_to_move_in(ev.due, site.move_in)}")
    return problems


def _weighted_score(ready: Fraction, applicable: Fraction) -> int:
    # Floor, never round: 89.9 must not become a GO at 90.
    return 0 if applicable <= 0 else int(ready * 100 // applicable)


def _is_late(ev: _Eval, site: SiteFacts) -> bool:
    """Open and due after move-in or already overdue; an undated item is due by move-in."""
    due = ev.due if ev.due is not None else site.move_in
    return ev.open and (due > site.move_in or due < site.today)


def _upstream_open(item_id: int, evals: dict[int, _Eval], deps: dict[int, list[int]]) -> list[int]:
    """Every open item that item_id (transitively) waits for, nearest first."""
    seen = {item_id}
    found: list[int] = []
    queue = deque([item_id])
    while queue:
        for dep in deps[queue.popleft()]:
            if dep in seen or not evals[dep].open:
                continue
            seen.add(dep)
            found.append(dep)
            queue.append(dep)
    return found


def _downstream(item_id: int, evals: dict[int, _Eval], rdeps: dict[int, list[int]]) -> list[_Eval]:
    """Every applicable item that (transitively) depends on item_id, nearest first."""
    seen = {item_id}
    found: list[_Eval] = []
    queue = deque([item_id])
    while queue:
        for child in rdeps[queue.popleft()]:
            if child in seen:
                continue
            seen.add(child)
            queue.append(child)
            if evals[child].applicable:
                found.append(evals[child])
    return found


def _due_clause(ev: _Eval, site: SiteFacts) -> str:
    year = site.move_in.year
    if ev.due is None:
        return "it has no due date yet"
    when = day(ev.due, year=year)
    relative = _relative_to_move_in(ev.due, site.move_in)
    if ev.due < site.today:
        late = _plural((site.today - ev.due).days, "day")
        return f"it was due {when} ({relative}) and is {late} overdue"
    return f"it is due {when}, {relative}"


def _client_clauses(ev: _Eval, evals: dict[int, _Eval], site: SiteFacts) -> list[str]:
    """What holds an open (not failed) item up, in words a business owner understands."""
    item = ev.item
    year = site.move_in.year
    clauses = [_due_clause(ev, site)]
    if item.disputed:
        clauses.append("technicians reported different results")
    if ev.in_cycle:
        clauses.append("the checklist makes it wait for itself, so the checklist must be fixed first")
    if ev.waiting_for:
        waited: list[str] = []
        for dep in ev.waiting_for:
            other = evals[dep]
            text = other.item.title
            # Say when the thing it waits for is itself late: that is the real risk.
            if other.due is not None and other.due < site.today and other.open:
                text += f" (was due {day(other.due, year=year)}, {_plural((site.today - other.due).days, 'day')} overdue)"
            elif other.due is not None and _is_late(other, site):
                text += f" (due {day(other.due, year=year)}, {_relative_to_move_in(other.due, site.move_in)})"
            waited.append(text)
        clauses.append(f"it is waiting for {_join_names(_distinct(waited))}")
    # Evidence gaps only matter once the work is reported done; before that "not ready" says it all.
    if item.status == "pass" and not item.disputed:
        if ev.photos_missing:
            clauses.append(f"it still needs {_plural(ev.photos_missing, 'photo')} as proof")
        if ev.assets_missing:
            clauses.append(f"only {item.assets} of {item.assets_required} devices are recorded")
        clauses.extend(ev.unmeasured)
    return clauses


def _dependents_sentence(ev: _Eval, downstream: list[_Eval]) -> str:
    """Name the other areas that wait for this item ("Wi-Fi and Phones depend on it"), as a client thinks of them."""
    if not downstream:
        return ""
    areas = _distinct([other.item.category for other in downstream if other.item.category != ev.item.category])
    if areas:
        shown = areas[:_MAX_NAMES]
        names = _join_names(shown) if len(areas) <= _MAX_NAMES else (
            f"{', '.join(shown)} and {_plural(len(areas) - len(shown), 'more area')}")
        return f" {names} {'depends' if len(areas) == 1 else 'depend'} on it."
    titles = _distinct([other.item.title for other in downstream])
    if len(titles) == 1:
        return f" {titles[0]} depends on it."
    return f" {_plural(len(titles), 'other check')} depend on it."


def _failure_detail(ev: _Eval) -> str:
    return "; ".join(ev.out_of_range) if ev.out_of_range else "a technician marked it as failed"


def _blocker_texts(ev: _Eval, evals: dict[int, _Eval], rdeps: dict[int, list[int]],
                   site: SiteFacts) -> tuple[str, str]:
    """(client reason for Verdict.reasons, short reason for the blockers list)."""
    dependents = _dependents_sentence(ev, _downstream(ev.item.id, evals, rdeps))
    if ev.failed:
        detail = _failure_detail(ev)
        head = f"{ev.client_label}: {detail}" if ev.client_label else f"{ev.label} failed: {detail}"
        return _sentence(head) + dependents, _sentence(f"failed: {detail}") + dependents
    clauses = "; ".join(_client_clauses(ev, evals, site))
    head = ev.client_label or f"{ev.label} is not ready yet"
    return _sentence(f"{head}: {clauses}") + dependents, _sentence(f"not ready: {clauses}") + dependents


def _forecast(site: SiteFacts, open_blockers: list[_Eval], overdue: int) -> str:
    move_in, today = site.move_in, site.today
    parts = [move_in_sentence(move_in, today, day(move_in, year=today.year, weekday=True))]

    count = len(open_blockers)
    if count == 0:
        parts.append("No blockers are open.")
    else:
        text = f"{_plural(count, 'blocker')} {_is_are(count)} still open"
        dated = [ev.due for ev in open_blockers if ev.due is not None]
        undated = count - len(dated)
        if dated:
            last = max(dated)
            subject = "it" if count == 1 else "the last"
            if last < today:
                late = _plural((today - last).days, "day")
                text += f"; {subject} was due {day(last, year=move_in.year)}, {late} overdue"
            else:
                text += f"; {subject} is due {day(last, year=move_in.year)}, {_relative_to_move_in(last, move_in)}"
            if undated:
                text += f"; {undated} {'has' if undated == 1 else 'have'} no due date"
        else:
            text += "; it has no due date" if count == 1 else "; none has a due date"
        parts.append(text + ".")
    if overdue:
        parts.append(f"{_plural(overdue, 'task')} {_is_are(overdue)} overdue.")
    return " ".join(parts)


def assess(site: SiteFacts, items: list[ItemFacts]) -> Verdict:
    """Compute the go-live verdict for a site from its checklist items.

    Rules (PRODUCT.md "Readiness rules"):

    * An item is ready only if it is ``pass``, has its required photos and assets, every
      thresholded measurement is present and within its limits, every item it depends on
      (transitively) is ready or ``na``, it is in no dependency loop and it is not disputed.
      Dependency ids that are not in ``items`` are ignored.
    * ``na`` items leave the denominator. A disputed item always counts as applicable and
      not ready, even when one technician said ``na``.
    * A measurement out of threshold makes an item failed, even when marked ``pass``.
    * Score = floor(weighted ready / weighted applicable x 100); 0 with nothing applicable.
    * NO_GO if a blocker failed, or an open blocker (or an open blocker it depends on) is due
      after move-in or overdue; GO if every blocker is ready or ``na``, the score is at least
      ``site.threshold``, nothing is disputed and something applicable carries weight;
      otherwise AT_RISK.

    Raises ValueError for duplicate item ids, an unknown severity or status, or a negative or
    non-numeric weight: those are data errors that must be fixed, not guessed around.
    """
    weights = _weights(site)
    _validate(items)
    site = SiteFacts(
        move_in=_as_date(site.move_in), today=_as_date(site.today),
        threshold=site.threshold, weights=site.weights, last_evidence=_as_date(site.last_evidence),
    )

    evals: dict[int, _Eval] = {}
    for item in items:
        # A dispute keeps an item in the count: "na" must not hide a disagreement.
        applicable = item.status != "na" or item.disputed
        ev = _Eval(item=item, weight=weights[item.severity], applicable=applicable, due=_as_date(item.due))
        _evaluate_own(ev)
        evals[item.id] = ev

    # Edges out of a not-applicable item are irrelevant: it is satisfied whatever it waits for.
    deps: dict[int, list[int]] = {
        item_id: ([d for d in dict.fromkeys(ev.item.depends_on) if d in evals] if ev.applicable else [])
        for item_id, ev in evals.items()
    }
    rdeps: dict[int, list[int]] = {item_id: [] for item_id in evals}
    for item_id, targets in deps.items():
        for target in targets:
            rdeps[target].append(item_id)
    _resolve_dependencies(evals, deps)

    states = {
        item_id: ItemState(ready=ev.ready, failed=ev.failed, problems=_item_problems(ev, evals, site))
        for item_id, ev in evals.items()
    }

    # Score, overall and per category.
    applicable_weight = sum((ev.weight for ev in evals.values() if ev.applicable), Fraction(0))
    ready_weight = sum((ev.weight for ev in evals.values() if ev.ready), Fraction(0))
    score = _weighted_score(ready_weight, applicable_weight)
    categories: dict[str, dict] = {}
    for name in sorted({ev.item.category for ev in evals.values()}, key=lambda c: (str(c).casefold(), str(c))):
        members = [ev for ev in evals.values() if ev.item.category == name]
        categories[name] = {
            "ready": sum(ev.ready for ev in members),
            "applicable": sum(ev.applicable for ev in members),
            "score": _weighted_score(
                sum((ev.weight for ev in members if ev.ready), Fraction(0)),
                sum((ev.weight for ev in members if ev.applicable), Fraction(0)),
            ),
            "failed": sum(ev.failed for ev in members),
            "disputed": sum(ev.item.disputed for ev in members),
        }

    disputed = sum(ev.item.disputed for ev in evals.values())
    overdue = sum(1 for ev in evals.values() if ev.open and ev.due is not None and ev.due < site.today)

    # Blockers: failed first, then by due date (undated last), then title; id settles ties.
    open_blockers = sorted(
        (ev for ev in evals.values() if ev.item.severity == "blocker" and ev.open),
        key=lambda ev: (not ev.failed, ev.due or date.max, ev.item.title, ev.item.room or "", ev.item.id),
    )
    late_ids = {
        ev.item.id for ev in open_blockers
        # A blocker waiting for anything late (whatever its severity) cannot be done in time either.
        if _is_late(ev, site) or any(_is_late(evals[up], site) for up in _upstream_open(ev.item.id, evals, deps))
    }
    failed_blocker = any(ev.failed for ev in open_blockers)
    no_data = applicable_weight <= 0

    stale_days = (site.today - site.last_evidence).days if site.last_evidence else 0
    stale = stale_days > STALE_AFTER_DAYS
    if failed_blocker or late_ids:
        status = "NO_GO"
    elif not open_blockers and not no_data and score >= site.threshold and disputed == 0 and not stale:
        status = "GO"
    else:
        status = "AT_RISK"

    blockers: list[dict] = []
    blocker_reasons: list[tuple[int, str]] = []
    for ev in open_blockers:
        client_reason, short_reason = _blocker_texts(ev, evals, rdeps, site)
        blockers.append({"item_id": ev.item.id, "title": ev.item.title, "reason": short_reason})
        # Failures first, then what makes the date impossible, then the rest.
        group = 0 if ev.failed else 1 if ev.item.id in late_ids else 2
        blocker_reasons.append((group, client_reason))

    reasons: list[str] = []
    if no_data:
        if not any(ev.applicable for ev in evals.values()):
            reasons.append("No checklist items apply to this site yet, so readiness cannot be confirmed.")
        else:
            reasons.append("None of the checklist items counts towards the score, so readiness cannot be confirmed.")
    reasons.extend(text for _, text in sorted(blocker_reasons, key=lambda pair: pair[0]))
    if stale:
        reasons.append(f"Nothing has been checked on site for {stale_days} days, so the checklist may no longer "
                       "match reality; a technician should re-check before go-live.")
    if disputed:
        reasons.append(
            f"{_plural(disputed, 'item')} {_is_are(disputed)} disputed: two technicians reported "
            "different results and a project manager must decide."
        )
    threshold_text = f"{_fmt_num(site.threshold)}%"
    if status == "GO":
        reasons.append(
            f"Every critical item is done and {score}% of the checklist is complete "
            f"({threshold_text} is needed to go live)."
        )
    elif score < site.threshold and not no_data:
        reasons.append(
            f"Only {score}% of the checklist is complete, weighted by importance; "
            f"{threshold_text} is needed to go live."
        )
    others = [ev for ev in evals.values() if ev.item.severity != "blocker"]
    failed_others = _distinct([ev.item.title for ev in others if ev.failed])
    if failed_others:
        count = sum(ev.failed for ev in others)
        reasons.append(
            f"{_plural(count, 'less critical item')} failed {'its check' if count == 1 else 'their checks'}: "
            f"{_join_names(failed_others)}."
        )
    overdue_others = [ev for ev in others if ev.open and not ev.failed and ev.due is not None and ev.due < site.today]
    if overdue_others:
        count = len(overdue_others)
        names = _join_names(_distinct([ev.item.title for ev in overdue_others]))
        reasons.append(f"{_plural(count, 'less critical item')} {_is_are(count)} overdue: {names}.")
    if status == "GO":
        still_open = sum(1 for ev in others if ev.open)
        if still_open:
            reasons.append(f"{_plural(still_open, 'less critical item')} {_is_are(still_open)} still open.")

    forecast = _forecast(site, open_blockers, overdue)
    opening = {"GO": "Ready to go live.", "AT_RISK": "At risk:", "NO_GO": "Not ready to go live:"}[status]
    key = reasons[:_MAX_SUMMARY_REASONS]
    summary_parts = [opening, *key]
    if len(reasons) > len(key):
        more = len(reasons) - len(key)
        summary_parts.append(f"There {_is_are(more)} {_plural(more, 'more issue')} listed.")
    summary_parts.append(forecast)
    summary_parts.append(f"Readiness score: {score} out of 100.")
    summary = " ".join(summary_parts)

    return Verdict(
        status=status,
        score=score,
        blockers=blockers,
        categories=categories,
        reasons=reasons,
        summary=summary,
        items=states,
        disputed=disputed,
        overdue=overdue,
        forecast=forecast,
    )


def headline(verdict: Verdict) -> str:
    """The most important reason cut to its first clause, for one line on the board."""
    if not verdict.reasons:
        return ""
    first = verdict.reasons[0].split("; ")[0].split(". ")[0].rstrip(".")
    return first + "."
