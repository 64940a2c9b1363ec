"""Go-live readiness: turn checklist evidence into an honest, explained verdict.

This module is the single home of the readiness rules (see PRODUCT.md, "Readiness
rules"). It is pure: plain dataclasses in, plain values out, no Flask, no database,
no clock (``SiteFacts.today`` is passed in), so the same facts always give the same
verdict and every rule can be tested in isolation. The words come from wording.py.

Guiding principle: readiness never overstates. Missing measurements, missing photos,
disputed results, dependency loops and unknown data all make an item *not ready*,
and any doubt makes the verdict the worse one.
"""

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction

from . import wording

SEVERITY_WEIGHTS = {"blocker": 5, "major": 2, "minor": 1}
STATUSES = ("todo", "pass", "fail", "na")
# Why an item is not ready, in the order its reasons are listed. The field app's rules.js has the same list.
REASON_KINDS = ("not_passed", "failed", "out_of_range", "unmeasured", "photos_missing", "assets_missing",
                "disputed", "in_cycle", "waiting_for", "overdue", "after_move_in")
STALE_AFTER_DAYS = 14  # evidence older than this no longer proves a site is ready today


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


@dataclass(frozen=True)
class Reason:
    """One thing that keeps an item from being ready: a kind of REASON_KINDS and its words."""

    kind: str
    text: str
    count: int = 0              # photos_missing, assets_missing: how many are missing
    ids: tuple[int, ...] = ()   # waiting_for: the items it waits for
    name: str = ""              # out_of_range, unmeasured: the measurement

    def as_json(self) -> dict:
        data = {"kind": self.kind, "text": self.text}
        if self.count:
            data["count"] = self.count
        if self.ids:
            data["ids"] = list(self.ids)
        if self.name:
            data["name"] = self.name
        return data


@dataclass(frozen=True)
class ItemState:
    """The engine's view of one item: all a page, a sign-off, a pack or a phone needs to know about it."""

    applicable: bool      # counts towards the score: not "na", or "na" under dispute
    ready: bool
    failed: bool          # marked fail, or a measurement out of threshold
    reasons: tuple[Reason, ...] = ()   # why it is not ready (none when ready or not applicable)

    @property
    def open(self) -> bool:
        """Applicable and not ready: work still to do, an exception a client must accept to sign."""
        return self.applicable and not self.ready

    @property
    def problems(self) -> list[str]:
        """The reasons in plain words."""
        return [reason.text for reason in self.reasons]

    def reason(self, kind: str) -> Reason | None:
        return next((reason for reason in self.reasons if reason.kind == kind), None)

    def as_json(self) -> dict:
        return {"applicable": self.applicable, "ready": self.ready, "failed": self.failed, "open": self.open,
                "reasons": [reason.as_json() for reason in self.reasons]}


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


# --------------------------------------------------------------------------- measurements


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


def check_measurement(name: str, value: object, threshold: dict) -> tuple[str, str] | None:
    """(kind, message) where kind is 'limit', 'missing', 'invalid' or 'out_of_range'; None when it meets it.

    Only 'out_of_range' makes an item *failed*; the other kinds make it not ready,
    because missing or unreadable data must never look like a pass.
    """
    spec = threshold if isinstance(threshold, dict) else {}
    label = str(spec.get("label") or wording.humanize(name))
    unit = str(spec.get("unit") or "")
    limits: dict[str, int | float] = {}
    for bound in ("min", "max"):
        if spec.get(bound) is None:
            continue
        limit = _to_number(spec[bound], allow_bool=False)
        if limit is None:
            return "limit", wording.limit_not_a_number(label, bound)
        limits[bound] = limit
    if not limits:
        return "limit", wording.no_limit(label)
    if value is None or (isinstance(value, str) and not value.strip()):
        return "missing", wording.not_measured(label)
    reading = _to_number(value, allow_bool=True)
    if reading is None:
        return "invalid", wording.not_a_number(label, value)
    if "min" in limits and reading < limits["min"]:
        return "out_of_range", wording.out_of_range(label, reading, limits["min"], unit, "min")
    if "max" in limits and reading > limits["max"]:
        return "out_of_range", wording.out_of_range(label, reading, limits["max"], unit, "max")
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
    found = check_measurement(name, value, threshold)
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
    out_of_range: list[tuple[str, str]] = field(default_factory=list)   # (measurement, message)
    unmeasured: list[tuple[str, str]] = field(default_factory=list)
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

    def overdue(self, site: SiteFacts) -> bool:
        return self.open and self.due is not None and self.due < site.today

    def late(self, site: SiteFacts) -> bool:
        """Open and due after move-in or already overdue; an undated item is due by move-in."""
        due = self.due if self.due is not None else site.move_in
        return self.open and (due > site.move_in or due < site.today)


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


def _as_date(value: date | None) -> date | None:
    # A datetime cannot be compared with a date, so callers may pass either.
    return value.date() if isinstance(value, datetime) else value


def _evaluate_own(item: ItemFacts, weight: Fraction) -> _Eval:
    """Everything about an item that does not depend on other items."""
    # A dispute keeps an item in the count: "na" must not hide a disagreement.
    ev = _Eval(item=item, weight=weight, applicable=item.status != "na" or item.disputed, due=_as_date(item.due))
    for name, threshold in (item.thresholds or {}).items():
        found = check_measurement(name, (item.measurements or {}).get(name), threshold)
        if found is not None:
            kind, message = found
            (ev.out_of_range if kind == "out_of_range" else ev.unmeasured).append((name, message))
    ev.photos_missing = max(0, item.photos_required - item.photos)
    ev.assets_missing = max(0, item.assets_required - item.assets) if item.assets_required > 0 else 0
    # A reading out of threshold is a failure even when someone pressed "pass".
    ev.failed = ev.applicable and (item.status == "fail" or bool(ev.out_of_range))
    ev.own_ok = (ev.applicable and item.status == "pass" and not ev.failed and not ev.unmeasured
                 and ev.photos_missing == 0 and ev.assets_missing == 0 and not item.disputed)
    return ev


def _dependency_order(deps: dict[int, list[int]]) -> tuple[list[int], set[int]]:
    """Every id after the ids it waits for (Kahn's order), and the ids that are in a dependency loop.

    Templates refuse loops (checklists.py) and sites are only made from templates, so a loop comes
    only from facts made by hand. Its items, and the items waiting for them, come last; none can be ready.
    """
    order, left = kahn_order(deps)
    return order + left, {item_id for item_id in left if _waits_for_itself(item_id, deps)}


def kahn_order(deps: dict) -> tuple[list, list]:
    """(every key after the keys it waits for, the keys left over: in a loop or waiting for one), iteratively,
    so a 1,200-long chain costs what a short one does. `deps` maps each key to the keys it waits for."""
    waiting = {key: len(targets) for key, targets in deps.items()}
    dependents: dict = {key: [] for key in deps}
    for key, targets in deps.items():
        for target in targets:
            dependents[target].append(key)
    order = [key for key, count in waiting.items() if count == 0]
    for key in order:  # grows as keys are freed
        for dependent in dependents[key]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                order.append(dependent)
    return order, [key for key in deps if waiting[key]]


def _waits_for_itself(start: int, deps: dict[int, list[int]]) -> bool:
    seen: set[int] = set()
    queue = deque(deps[start])
    while queue:
        item_id = queue.popleft()
        if item_id == start:
            return True
        if item_id not in seen:
            seen.add(item_id)
            queue.extend(deps[item_id])
    return False


def _resolve_dependencies(evals: dict[int, _Eval], deps: dict[int, list[int]]) -> None:
    """Set ready, in_cycle and waiting_for on every item, after the items it waits for."""
    order, looped = _dependency_order(deps)
    for item_id in order:
        ev = evals[item_id]
        # An item in a loop waits for itself, so it can never honestly be ready.
        ev.in_cycle = item_id in looped
        # A not-applicable item cannot hold anything up.
        ev.waiting_for = [d for d in deps[item_id] if evals[d].applicable and not evals[d].ready]
        ev.ready = ev.own_ok and not ev.in_cycle and not ev.waiting_for


def _reasons(ev: _Eval, evals: dict[int, _Eval], site: SiteFacts) -> tuple[Reason, ...]:
    """Why an item is not ready, in REASON_KINDS order (none when ready or not applicable)."""
    if not ev.open:
        return ()
    item = ev.item
    found: list[Reason] = []
    if item.status == "todo":
        found.append(Reason("not_passed", wording.not_checked()))
    elif item.status == "fail":
        found.append(Reason("failed", wording.marked_failed(item.note)))
    elif item.status == "na":
        # Only a disputed "na" gets here: the dispute keeps it in the count.
        found.append(Reason("not_passed", wording.disputed_not_applicable()))
    for name, message in ev.out_of_range:
        found.append(Reason("out_of_range", message, name=name))
    for name, message in ev.unmeasured:
        found.append(Reason("unmeasured", message, name=name))
    if ev.photos_missing:
        found.append(Reason("photos_missing", wording.needs(item.photos_required, item.photos, "photo"),
                            count=ev.photos_missing))
    if ev.assets_missing:
        found.append(Reason("assets_missing", wording.needs(item.assets_required, item.assets, "asset"),
                            count=ev.assets_missing))
    if item.disputed:
        found.append(Reason("disputed", wording.disputed()))
    if ev.in_cycle:
        found.append(Reason("in_cycle", wording.in_loop()))
    if ev.waiting_for:
        found.append(Reason("waiting_for", wording.waiting_for([evals[d].item.title for d in ev.waiting_for]),
                            ids=tuple(ev.waiting_for)))
    if ev.overdue(site):
        found.append(Reason("overdue", wording.overdue_since(ev.due, site.move_in)))
    elif ev.due is not None and ev.due > site.move_in:
        found.append(Reason("after_move_in", wording.due_after_move_in(ev.due, site.move_in)))
    return tuple(found)


def _total(members: list[_Eval]) -> Fraction:
    # One weight per severity: multiplying the counts is exact and far cheaper than adding thousands of fractions.
    weight = {ev.item.severity: ev.weight for ev in members}
    return sum((weight[severity] * count for severity, count in Counter(ev.item.severity for ev in members).items()),
               Fraction(0))


def _weighted_score(members: list[_Eval]) -> tuple[int, Fraction]:
    """(score, weight of the applicable items); the score is 0 when nothing applicable weighs anything."""
    applicable = _total([ev for ev in members if ev.applicable])
    ready = _total([ev for ev in members if ev.ready])
    # Floor, never round: 89.9 must not become a GO at 90.
    return (0 if applicable <= 0 else int(ready * 100 // applicable)), applicable


def _categories(evals: list[_Eval]) -> dict[str, dict]:
    by_name: dict[str, list[_Eval]] = {}
    for ev in evals:
        by_name.setdefault(ev.item.category, []).append(ev)
    return {
        name: {"ready": sum(ev.ready for ev in members), "applicable": sum(ev.applicable for ev in members),
               "score": _weighted_score(members)[0], "failed": sum(ev.failed for ev in members),
               "disputed": sum(ev.item.disputed for ev in members)}
        for name, members in sorted(by_name.items(), key=lambda pair: (str(pair[0]).casefold(), str(pair[0])))
    }


def _walk(item_id: int, edges: dict[int, list[int]]) -> list[int]:
    """Every id reachable from item_id along `edges`, nearest first."""
    seen = {item_id}
    found: list[int] = []
    queue = deque([item_id])
    while queue:
        for other in edges[queue.popleft()]:
            if other not in seen:
                seen.add(other)
                found.append(other)
                queue.append(other)
    return found


def _status(site: SiteFacts, *, failed_blocker: bool, late_blocker: bool, open_blockers: bool, no_data: bool,
            score: int, disputed: int, stale: bool) -> str:
    if failed_blocker or late_blocker:
        return "NO_GO"
    if not open_blockers and not no_data and score >= site.threshold and disputed == 0 and not stale:
        return "GO"
    return "AT_RISK"


def _blocker_entries(open_blockers: list[_Eval], late_ids: set[int], evals: dict[int, _Eval],
                     deps: dict[int, list[int]], site: SiteFacts) -> tuple[list[dict], list[str]]:
    """The blockers list and the client reasons for them: failures first, then what makes the date
    impossible, then the rest."""
    rdeps: dict[int, list[int]] = {item_id: [] for item_id in evals}
    for item_id, targets in deps.items():
        for target in targets:
            rdeps[target].append(item_id)
    blockers, ranked = [], []
    for ev in open_blockers:
        downstream = [evals[i] for i in _walk(ev.item.id, rdeps) if evals[i].applicable]
        dependents = wording.dependents(ev.item.category, [(d.item.category, d.item.title) for d in downstream])
        if ev.failed:
            failures, clauses = [message for _, message in ev.out_of_range], []
        else:
            failures, clauses = None, _hold_ups(ev, evals, site)
        client, short = wording.blocker_texts(ev.label, ev.client_label, failures=failures, clauses=clauses,
                                              downstream=dependents)
        blockers.append({"item_id": ev.item.id, "title": ev.item.title, "reason": short})
        ranked.append((0 if ev.failed else 1 if ev.item.id in late_ids else 2, client))
    return blockers, [text for _, text in sorted(ranked, key=lambda pair: pair[0])]


def _hold_ups(ev: _Eval, evals: dict[int, _Eval], site: SiteFacts) -> list[str]:
    item = ev.item
    waited = [wording.waited_item(evals[d].item.title, evals[d].due, site.today, site.move_in,
                                  overdue=evals[d].overdue(site), late=evals[d].late(site))
              for d in ev.waiting_for]
    # Evidence gaps only matter once the work is reported done; before that "not ready" says it all.
    gaps = (wording.evidence_gaps(ev.photos_missing, item.assets, item.assets_required, ev.assets_missing,
                                  [message for _, message in ev.unmeasured])
            if item.status == "pass" and not item.disputed else [])
    return wording.hold_ups(ev.due, site.today, site.move_in, disputed=item.disputed, in_cycle=ev.in_cycle,
                            waited=waited, gaps=gaps)


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
    site = SiteFacts(move_in=_as_date(site.move_in), today=_as_date(site.today), threshold=site.threshold,
                     weights=site.weights, last_evidence=_as_date(site.last_evidence))

    # 1. Each item on its own evidence, then in dependency order.
    evals = {item.id: _evaluate_own(item, weights[item.severity]) for item in items}
    # Edges out of a not-applicable item are irrelevant: it is satisfied whatever it waits for.
    deps = {item_id: ([d for d in dict.fromkeys(ev.item.depends_on) if d in evals] if ev.applicable else [])
            for item_id, ev in evals.items()}
    _resolve_dependencies(evals, deps)
    states = {item_id: ItemState(applicable=ev.applicable, ready=ev.ready, failed=ev.failed,
                                 reasons=_reasons(ev, evals, site))
              for item_id, ev in evals.items()}

    # 2. The score and the facts the verdict rests on.
    everything = list(evals.values())
    score, applicable_weight = _weighted_score(everything)
    no_data = applicable_weight <= 0
    disputed = sum(ev.item.disputed for ev in everything)
    overdue = sum(ev.overdue(site) for ev in everything)
    stale_days = (site.today - site.last_evidence).days if site.last_evidence else 0
    # Blockers: failed first, then by due date (undated last), then title; id settles ties.
    open_blockers = sorted(
        (ev for ev in everything if ev.item.severity == "blocker" and ev.open),
        key=lambda ev: (not ev.failed, ev.due or date.max, ev.item.title, ev.item.room or "", ev.item.id),
    )
    # A blocker waiting (through open items) for anything late, whatever its severity, cannot be done in time.
    open_deps = {item_id: [d for d in targets if evals[d].open] for item_id, targets in deps.items()}
    late_ids = {ev.item.id for ev in open_blockers
                if ev.late(site) or any(evals[up].late(site) for up in _walk(ev.item.id, open_deps))}

    # 3. The verdict and its explanation.
    status = _status(site, failed_blocker=any(ev.failed for ev in open_blockers), late_blocker=bool(late_ids),
                     open_blockers=bool(open_blockers), no_data=no_data, score=score, disputed=disputed,
                     stale=stale_days > STALE_AFTER_DAYS)
    blockers, blocker_reasons = _blocker_entries(open_blockers, late_ids, evals, deps, site)
    others = [ev for ev in everything if ev.item.severity != "blocker"]
    reasons = wording.reasons(
        status, nothing_applies=no_data and not any(ev.applicable for ev in everything),
        nothing_weighs=no_data and any(ev.applicable for ev in everything), blocker_reasons=blocker_reasons,
        stale_days=stale_days if stale_days > STALE_AFTER_DAYS else None, disputed_items=disputed, score=score,
        threshold=site.threshold, failed_others=[ev.item.title for ev in others if ev.failed],
        overdue_others=[ev.item.title for ev in others if ev.overdue(site) and not ev.failed],
        open_others=sum(ev.open for ev in others))
    forecast = wording.forecast(site.move_in, site.today, [ev.due for ev in open_blockers], overdue)
    return Verdict(status=status, score=score, blockers=blockers, categories=_categories(everything),
                   reasons=reasons, summary=wording.summary(status, reasons, forecast, score), items=states,
                   disputed=disputed, overdue=overdue, forecast=forecast)


def headline(verdict: Verdict) -> str:
    """The most important reason cut to its first clause, for one line on the board."""
    return wording.headline(verdict.reasons)
