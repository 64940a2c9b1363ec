"""The words of readiness: every sentence a client or a project manager reads about a verdict.

Pure and free of rules: readiness.py decides what is ready, late or most important and hands plain values
here; this module only phrases them. The tables of verdict and status labels are the only ones: pages use
them through Jinja filters, the PDF and the messages directly, and the field app through
static/field/rules.js, which a test keeps equal to them.
"""
from datetime import date

from .dates import day, move_in_sentence

# short: a chip on the board or a phone; long: the words of a sentence or a heading.
VERDICT_LABELS = {
    "GO": {"short": "Go", "long": "Ready to go live"},
    "AT_RISK": {"short": "At risk", "long": "At risk"},
    "NO_GO": {"short": "No go", "long": "Not ready to go live"},
}
STATUS_LABELS = {"todo": "to do", "pass": "pass", "fail": "fail", "na": "n/a"}

# Lists of names in client text stop here so a sentence stays readable.
MAX_NAMES = 3
# The summary is one paragraph; the full list lives in Verdict.reasons.
MAX_SUMMARY_REASONS = 1


def verdict_label(status: str, form: str = "short") -> str:
    """'Go', 'At risk', 'No go' (or the long form, 'Ready to go live'); an unknown status as it is."""
    labels = VERDICT_LABELS.get(status)
    return labels[form] if labels else str(status)


def status_label(status: str, disputed: bool = False) -> str:
    """'to do', 'pass', 'fail', 'n/a', or 'disputed' whatever was reported."""
    return "disputed" if disputed else STATUS_LABELS.get(status, str(status))


# --------------------------------------------------------------------------- small pieces


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 day', '2 days'."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def is_are(n: int) -> str:
    return "is" if n == 1 else "are"


def relative_to_move_in(when: date, move_in: date) -> str:
    """'1 day before move-in', 'on move-in day', '2 days after move-in'."""
    delta = (when - move_in).days
    if delta == 0:
        return "on move-in day"
    if delta < 0:
        return f"{plural(-delta, 'day')} before move-in"
    return f"{plural(delta, 'day')} after move-in"


def join_names(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C', 'A, B, C and 2 more'."""
    if len(names) > MAX_NAMES:
        return f"{', '.join(names[:MAX_NAMES])} and {len(names) - MAX_NAMES} more"
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def distinct(texts: list[str]) -> list[str]:
    # Per-room repeats share a title; naming it once is enough for a client.
    return list(dict.fromkeys(texts))


def sentence(text: str) -> str:
    """Capitalise the first letter and end with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def humanize(name: str) -> str:
    """'download_mbps' -> 'Download mbps' (used only when a threshold has no label)."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else "Measurement"


def number(value: float) -> str:
    """312 -> '312', 612.0 -> '612', 47.25 -> '47.25'."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer():
        return str(int(value))
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    # Very small values would round to "0" and hide the real reading.
    return text if text not in ("0", "-0") else f"{value:g}"


def with_unit(text: str, unit: str) -> str:
    if not unit:
        return text
    # "45%" and "21°C" read better without the space every other unit gets.
    return f"{text}{unit}" if unit.startswith(("%", "°")) else f"{text} {unit}"


# --------------------------------------------------------------------------- measurements


def limit_not_a_number(label: str, bound: str) -> str:
    return f"the {bound} limit for {label} in the checklist is not a number"


def no_limit(label: str) -> str:
    return f"{label} has no min or max limit in the checklist"


def not_measured(label: str) -> str:
    return f"{label} has not been measured yet"


def not_a_number(label: str, value: object) -> str:
    return f'{label} reading "{value}" is not a number'


def out_of_range(label: str, reading: float, limit: float, unit: str, bound: str) -> str:
    """'Download speed 312 Mbps is below the 500 Mbps required' (bound 'min'), or '... above ... allowed'."""
    side, need = ("below", "required") if bound == "min" else ("above", "allowed")
    return f"{label} {with_unit(number(reading), unit)} is {side} the {with_unit(number(limit), unit)} {need}"


# --------------------------------------------------------------------------- one item's reasons


def not_checked() -> str:
    return "not checked yet"


def marked_failed(note: str) -> str:
    return f"marked as failed: {note}" if note.strip() else "marked as failed"


def disputed_not_applicable() -> str:
    return "marked not applicable, but that is disputed"


def needs(required: int, have: int, word: str) -> str:
    """'needs 2 photos, has 1'."""
    return f"needs {plural(required, word)}, has {have}"


def disputed() -> str:
    return "disputed: two technicians disagree"


def in_loop() -> str:
    return "part of a dependency loop in the checklist, so it can never be ready"


def waiting_for(titles: list[str]) -> str:
    return f"waiting for: {', '.join(distinct(titles))}"


def overdue_since(due: date, move_in: date) -> str:
    return f"overdue since {day(due, year=move_in.year)}"


def due_after_move_in(due: date, move_in: date) -> str:
    return f"due {day(due, year=move_in.year)}, {relative_to_move_in(due, move_in)}"


# --------------------------------------------------------------------------- a blocker, for the client


def due_clause(due: date | None, today: date, move_in: date) -> str:
    if due is None:
        return "it has no due date yet"
    when = day(due, year=move_in.year)
    relative = relative_to_move_in(due, move_in)
    if due < today:
        return f"it was due {when} ({relative}) and is {plural((today - due).days, 'day')} overdue"
    return f"it is due {when}, {relative}"


def waited_item(title: str, due: date | None, today: date, move_in: date, *, overdue: bool, late: bool) -> str:
    """The title of an item a blocker waits for, saying when that one is itself late: that is the real risk."""
    if due is not None and overdue:
        return f"{title} (was due {day(due, year=move_in.year)}, {plural((today - due).days, 'day')} overdue)"
    if due is not None and late:
        return f"{title} (due {day(due, year=move_in.year)}, {relative_to_move_in(due, move_in)})"
    return title


def evidence_gaps(photos_missing: int, assets: int, assets_required: int, assets_missing: int,
                  unmeasured: list[str]) -> list[str]:
    """What a check reported done still lacks as proof."""
    clauses = []
    if photos_missing:
        clauses.append(f"it still needs {plural(photos_missing, 'photo')} as proof")
    if assets_missing:
        clauses.append(f"only {assets} of {assets_required} devices are recorded")
    return clauses + unmeasured


def hold_ups(due: date | None, today: date, move_in: date, *, disputed: bool, in_cycle: bool,
             waited: list[str], gaps: list[str]) -> list[str]:
    """What holds an open (not failed) blocker up, in words a business owner understands."""
    clauses = [due_clause(due, today, move_in)]
    if disputed:
        clauses.append("technicians reported different results")
    if in_cycle:
        clauses.append("the checklist makes it wait for itself, so the checklist must be fixed first")
    if waited:
        clauses.append(f"it is waiting for {join_names(distinct(waited))}")
    return clauses + gaps


def dependents(category: str, downstream: list[tuple[str, str]]) -> str:
    """Name the other areas that wait for an item (" Wi-Fi and Phones depend on it."), as a client thinks of
    them; `downstream` is (category, title) of each item that waits for it."""
    if not downstream:
        return ""
    areas = distinct([area for area, _ in downstream if area != category])
    if areas:
        shown = areas[:MAX_NAMES]
        names = join_names(shown) if len(areas) <= MAX_NAMES else (
            f"{', '.join(shown)} and {plural(len(areas) - len(shown), 'more area')}")
        return f" {names} {'depends' if len(areas) == 1 else 'depend'} on it."
    titles = distinct([title for _, title in downstream])
    if len(titles) == 1:
        return f" {titles[0]} depends on it."
    return f" {plural(len(titles), 'other check')} depend on it."


def blocker_texts(label: str, client_label: str | None, *, failures: list[str] | None, clauses: list[str],
                  downstream: str) -> tuple[str, str]:
    """(client reason for the verdict's reasons, short reason for its blockers list). `failures` is None when
    the blocker is open but not failed; [] when a technician marked it failed without a reading."""
    if failures is not None:
        detail = "; ".join(failures) if failures else "a technician marked it as failed"
        head = f"{client_label}: {detail}" if client_label else f"{label} failed: {detail}"
        return sentence(head) + downstream, sentence(f"failed: {detail}") + downstream
    joined = "; ".join(clauses)
    head = client_label or f"{label} is not ready yet"
    return sentence(f"{head}: {joined}") + downstream, sentence(f"not ready: {joined}") + downstream


# --------------------------------------------------------------------------- the verdict


def forecast(move_in: date, today: date, open_blocker_dues: list[date | None], overdue: int) -> str:
    """The move-in date, how many blockers are open and when the last is due, and how much is overdue."""
    parts = [move_in_sentence(move_in, today, day(move_in, year=today.year, weekday=True))]
    count = len(open_blocker_dues)
    if count == 0:
        parts.append("No blockers are open.")
    else:
        text = f"{plural(count, 'blocker')} {is_are(count)} still open"
        dated = [due for due in open_blocker_dues if due is not None]
        undated = count - len(dated)
        if dated:
            last = max(dated)
            subject = "it" if count == 1 else "the last"
            if last < today:
                text += f"; {subject} was due {day(last, year=move_in.year)}, {plural((today - last).days, 'day')} overdue"
            else:
                text += f"; {subject} is due {day(last, year=move_in.year)}, {relative_to_move_in(last, move_in)}"
            if undated:
                text += f"; {undated} {'has' if undated == 1 else 'have'} no due date"
        else:
            text += "; it has no due date" if count == 1 else "; none has a due date"
        parts.append(text + ".")
    if overdue:
        parts.append(f"{plural(overdue, 'task')} {is_are(overdue)} overdue.")
    return " ".join(parts)


def reasons(status: str, *, nothing_applies: bool, nothing_weighs: bool, blocker_reasons: list[str],
            stale_days: int | None, disputed_items: int, score: int, threshold: float,
            failed_others: list[str], overdue_others: list[str], open_others: int) -> list[str]:
    """Why this verdict, most important first. `failed_others` and `overdue_others` are the titles of the
    less critical items concerned (one per item); `stale_days` is set when the evidence is too old."""
    found: list[str] = []
    if nothing_applies:
        found.append("No checklist items apply to this site yet, so readiness cannot be confirmed.")
    elif nothing_weighs:
        found.append("None of the checklist items counts towards the score, so readiness cannot be confirmed.")
    found.extend(blocker_reasons)
    if stale_days is not None:
        found.append(f"Nothing has been checked on site for {stale_days} days, so the checklist may no longer "
                     "match reality; a technician should re-check before go-live.")
    if disputed_items:
        found.append(f"{plural(disputed_items, 'item')} {is_are(disputed_items)} disputed: two technicians "
                     "reported different results and a project manager must decide.")
    needed = f"{number(threshold)}%"
    if status == "GO":
        found.append(f"Every critical item is done and {score}% of the checklist is complete "
                     f"({needed} is needed to go live).")
    elif score < threshold and not (nothing_applies or nothing_weighs):
        found.append(f"Only {score}% of the checklist is complete, weighted by importance; "
                     f"{needed} is needed to go live.")
    if failed_others:
        count = len(failed_others)
        found.append(f"{plural(count, 'less critical item')} failed {'its check' if count == 1 else 'their checks'}: "
                     f"{join_names(distinct(failed_others))}.")
    if overdue_others:
        count = len(overdue_others)
        found.append(f"{plural(count, 'less critical item')} {is_are(count)} overdue: "
                     f"{join_names(distinct(overdue_others))}.")
    if status == "GO" and open_others:
        found.append(f"{plural(open_others, 'less critical item')} {is_are(open_others)} still open.")
    return found


def summary(status: str, reasons: list[str], forecast: str, score: int) -> str:
    """One paragraph: the verdict, the key reason, how many more, the forecast and the score."""
    opening = verdict_label(status, "long") + ("." if status == "GO" else ":")
    key = reasons[:MAX_SUMMARY_REASONS]
    parts = [opening, *key]
    if len(reasons) > len(key):
        more = len(reasons) - len(key)
        parts.append(f"There {is_are(more)} {plural(more, 'more issue')} listed.")
    parts.append(forecast)
    parts.append(f"Readiness score: {score} out of 100.")
    return " ".join(parts)


def headline(reasons: list[str]) -> str:
    """The most important reason cut to its first clause, for one line on the board."""
    if not reasons:
        return ""
    return reasons[0].split("; ")[0].split(". ")[0].rstrip(".") + "."
