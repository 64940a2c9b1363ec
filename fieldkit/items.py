"""Item edits: what a change to a checklist item may set, how measurements merge, when a change conflicts
with someone else's (or disputes their result), and the history each change leaves.

The rules take the item as anything with its columns as attributes: a row of the session, or the plain copy
a sync batch works on (`Draft`), so a phone's sync and a PM's web edit follow one rule. Nothing here commits.
"""
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import access
from .dates import parse_date
from .errors import NotFound, ValidationError
from .models import ITEM_STATUSES, Item, ItemEvent, Site, User, utcnow
from .verdicts import refresh

SETTABLE = ("status", "note", "measurements", "due")
NOTE_LIMIT = 5000
MAX_MEASUREMENTS = 40  # per item: a bundle holds every item of a site, so each stays small
MEASUREMENT_NAME_LIMIT = 60
MEASUREMENT_LIMIT = 1e12  # no reading (Mbps, dBm, seconds, metres) comes near it

# One earlier change as conflict detection reads it: (revision it made, (user id, device id), names it set).
Change = tuple[int, tuple[int | None, str | None], frozenset[str]]


@dataclass
class Draft:
    """An item's editable columns, copied from its locked row, that a sync batch edits before writing them."""

    id: int
    site_id: int
    status: str
    note: str
    measurements: dict
    due: date | None
    disputed: bool
    rev: int
    updated_at: datetime | None = None
    updated_by_id: int | None = None


@dataclass
class Edit:
    """What one change does to an item: each value it changes as [old, new] and its kind in the history
    (update, conflict, dispute or resolve)."""

    diff: dict
    kind: str


def check_update(item_id, base_rev, changes) -> None:
    """The shape of an item.update: an item id, the revision it was made on, and what to set."""
    if not access.is_id(item_id):
        raise ValidationError("'item_id' must be an item's id.", "bad_item_id")
    if not access.is_rev(base_rev):
        raise ValidationError("'base_rev' must be the item's revision the change was made on.", "bad_base_rev")
    if not isinstance(changes, dict) or not changes:
        raise ValidationError("'set' must name what to change.", "bad_set")
    unknown = set(changes) - set(SETTABLE)
    if unknown:
        raise ValidationError(f"Cannot set {', '.join(sorted(unknown))} on an item.", "bad_set")


def validated(item, changes: dict) -> dict:
    """The values `changes` sets on the item, checked (measurements merged into the item's own)."""
    values = {}
    if "status" in changes:
        if changes["status"] not in ITEM_STATUSES:
            raise ValidationError(f"Status must be one of {', '.join(ITEM_STATUSES)}.", "bad_status")
        values["status"] = changes["status"]
    if "note" in changes:
        if not isinstance(changes["note"], str) or len(changes["note"]) > NOTE_LIMIT:
            raise ValidationError(f"A note is text of at most {NOTE_LIMIT} characters.", "bad_note")
        values["note"] = changes["note"].strip()
    if "measurements" in changes:
        values["measurements"] = merged_measurements(item.measurements, changes["measurements"])
    if "due" in changes:
        values["due"] = None if changes["due"] is None else parse_date(changes["due"], "due")
    if values.get("status", item.status) == "na" and not values.get("note", item.note):
        raise ValidationError("Marking an item n/a needs a reason in the note.", "na_needs_reason")
    return values


def merged_measurements(current: dict, given) -> dict:
    """The item's measurements with `given` merged in: a number sets one, null clears it."""
    if not isinstance(given, dict):
        raise ValidationError("'measurements' must map names to numbers.", "bad_measurements")
    merged = dict(current)
    for name, value in given.items():
        if not isinstance(name, str) or not name.strip() or len(name) > MEASUREMENT_NAME_LIMIT:
            raise ValidationError(f"Measurement names are texts of 1 to {MEASUREMENT_NAME_LIMIT} characters.",
                                  "bad_measurements")
        if value is None:
            merged.pop(name, None)
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= MEASUREMENT_LIMIT:
            raise ValidationError(f"Measurement '{name}' must be a number between -{MEASUREMENT_LIMIT:,.0f} and "
                                  f"{MEASUREMENT_LIMIT:,.0f}.", "bad_measurements")
        else:
            merged[name] = value
    if len(merged) > MAX_MEASUREMENTS:
        raise ValidationError(f"An item holds at most {MAX_MEASUREMENTS} measurements; this change would make it "
                              f"{len(merged)}.", "too_many_measurements")
    return merged


def changes_by_others(item, base_rev: int, history: list[Change], who: tuple) -> list[frozenset] | None:
    """What others changed on the item since `base_rev` (the names each set), or None when there is no conflict.

    A phone sends every offline edit with the revision it last pulled, so its own earlier changes
    (same person, same device) are not a conflict: a technician changing their mind is not a dispute.
    """
    if base_rev == item.rev:
        return None
    if base_rev > item.rev:
        return []  # a revision the server never made: treat as a conflict, nothing to compare
    others = [names for rev, by, names in history if rev > base_rev and by != who]
    return others or None


def plan(item, values: dict, base_rev: int, history: list[Change], who: tuple) -> tuple[bool, Edit | None]:
    """(conflict, edit) of setting `values` on the item: a stale `base_rev` is a conflict, kept in the history;
    two people setting different results make a dispute. The edit is None when nothing changes."""
    others = changes_by_others(item, base_rev, history, who)
    conflict = others is not None
    diff = {name: [getattr(item, name), value] for name, value in values.items() if getattr(item, name) != value}
    if not diff:
        return conflict, None
    kind = "update"
    if conflict:
        # Two people reported different results: neither wins until a PM decides.
        kind = "dispute" if "status" in diff and any("status" in names for names in others) else "conflict"
    return conflict, Edit(diff, kind)


def apply(item, edit: Edit, user_id: int, now: datetime, base_rev: int | None = None,
          device_id: str | None = None, mutation_id: str | None = None) -> dict:
    """Make the edit on the item (a row or a Draft) and return the values of its history row (ItemEvent)."""
    for name, (_, new) in edit.diff.items():
        setattr(item, name, new)
    if edit.kind in ("dispute", "resolve"):
        item.disputed = edit.kind == "dispute"
    item.rev += 1
    item.updated_at = now
    item.updated_by_id = user_id
    return {"item_id": item.id, "site_id": item.site_id, "rev": item.rev, "kind": edit.kind,
            "changes": {name: [_plain(old), _plain(new)] for name, (old, new) in edit.diff.items()},
            "user_id": user_id, "device_id": device_id, "mutation_id": mutation_id, "base_rev": base_rev, "at": now}


def history(session: Session, item_ids, since: int) -> dict[int, list[Change]]:
    """The changes made to these items after revision `since`, per item, oldest first, in one query."""
    found: dict[int, list[Change]] = {}
    rows = session.execute(select(ItemEvent.item_id, ItemEvent.rev, ItemEvent.user_id, ItemEvent.device_id,
                                  ItemEvent.changes)
                           .where(ItemEvent.item_id.in_(item_ids), ItemEvent.rev > since)
                           .order_by(ItemEvent.item_id, ItemEvent.rev))
    for item_id, rev, user_id, device_id, changes in rows:
        found.setdefault(item_id, []).append((rev, (user_id, device_id), frozenset(changes)))
    return found


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


def _locked(session: Session, user: User, item_id) -> tuple[Item, Site]:
    """The item, its row locked (after the sync counter, see db.py) so a sync of it meanwhile waits, and its site;
    for PMs and admins only."""
    missing = f"There is no item {item_id}."
    item = session.get(Item, item_id, with_for_update=True) if access.is_id(item_id) else None
    if item is None:
        raise NotFound(missing)
    site = access.site_for(session, user, item.site_id, missing)
    access.require_role(user, access.MANAGER_ROLES)
    return item, site


def reschedule(session: Session, user: User, item_id: int, rev, due: date) -> Item:
    """A PM moves an item's due date (a vendor's booked day) as their own edit, kept in the history.

    Made on a revision older than the item's, the date still moves and the history keeps it as a conflict,
    as a sync does; the site's verdict follows. No device synced: the board's last syncs stay as they were.
    """
    item, site = _locked(session, user, item_id)
    if not access.is_rev(rev):
        raise ValidationError("'base_rev' must be the item's revision the change was made on.", "bad_base_rev")
    values = validated(item, {"due": due.isoformat()})
    _, edit = plan(item, values, rev, history(session, [item.id], rev).get(item.id, []), (user.id, None))
    if edit is not None:
        session.add(ItemEvent(**apply(item, edit, user.id, utcnow(), base_rev=rev)))
        refresh(session, [site])
    return item


def resolve_dispute(session: Session, user: User, item_id: int, status: str, note: str | None = None) -> Item:
    """A PM decides a disputed item's status; the decision is kept in the history."""
    item, site = _locked(session, user, item_id)
    if not item.disputed:
        raise ValidationError("This item is not disputed.", "not_disputed")
    values = validated(item, {"status": status, **({"note": note} if note is not None else {})})
    edit = Edit({name: [getattr(item, name), value] for name, value in values.items()}, "resolve")
    session.add(ItemEvent(**apply(item, edit, user.id, utcnow())))
    refresh(session, [site])
    return item
