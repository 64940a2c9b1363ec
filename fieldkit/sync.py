"""Sync: the bundle a phone starts from, each device mutation applied exactly once, and what changed since."""
import hashlib
import json
import logging
import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from . import access
from .dates import parse_date
from .db import next_seq, upsert
from .errors import FieldKitError, NotFound, ValidationError, refuse_bad_text, text_problem
from .inventory import apply_asset_upsert
from .models import (
    ITEM_STATUSES,
    Asset,
    Counter,
    DeviceSync,
    Item,
    ItemEvent,
    Mutation,
    Photo,
    Site,
    User,
    utcnow,
)
from .payloads import asset_json, item_json, photo_json, site_json
from .verdicts import item_counts, refresh

MAX_BATCH = 1000  # a phone offline for a day can hold this many; it sends 100 at a time
MAX_MUTATION_BYTES = 64 * 1024  # a 5,000-character note in any script, measurements and all, fits several times
PAGE = 2000
NOTE_LIMIT = 5000
MAX_MEASUREMENTS = 40  # per item: a bundle holds every item of a site, so each stays small
MEASUREMENT_NAME_LIMIT = 60
MEASUREMENT_LIMIT = 1e12  # no reading (Mbps, dBm, seconds, metres) comes near it
MAX_SEQ = 2**63 - 1
BATCH_SITES = "fieldkit.sync.sites"
log = logging.getLogger(__name__)


def current_cursor(session: Session) -> int:
    """The sync sequence value up to which every change is committed."""
    value = session.execute(select(Counter.value).where(Counter.name == "sync")).scalar_one_or_none()
    return value or 0


def bundle(session: Session, site: Site) -> dict:
    """All a phone needs to work on the site offline, with the cursor to pull changes from."""
    cursor = current_cursor(session)
    items = session.execute(select(Item).where(Item.site_id == site.id).order_by(Item.position)).scalars().all()
    photos, assets = item_counts(session, [site.id])
    asset_rows = session.execute(select(Asset).where(Asset.site_id == site.id).order_by(Asset.tag)).scalars()
    photo_rows = session.execute(select(Photo).where(Photo.site_id == site.id).order_by(Photo.created_at)).scalars()
    return {
        "site": {**site_json(site), "readiness": site.readiness},
        "items": [
            item_json(item, photos.get(item.id, 0),
                      assets.get((site.id, item.asset_kind, item.room), 0) if item.asset_kind else None)
            for item in items
        ],
        "assets": [asset_json(a) for a in asset_rows],
        "photos": [photo_json(p) for p in photo_rows],
        "cursor": cursor,
    }


def payload_text(mutation: dict) -> str:
    """The mutation as canonical JSON (ASCII, so any text it holds, even a lone surrogate, encodes)."""
    return json.dumps(mutation, sort_keys=True, separators=(",", ":"))


def apply_batch(session: Session, user: User, body: dict) -> dict:
    """POST /api/sync: apply the mutations in order, each alone, then pull changes since the cursor.

    Returns {"acks": [{"id","status","error"?}], "changes": [...], "cursor", "more"}.
    """
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object.", "bad_body")
    access.require_role(user, access.FIELD_ROLES)
    device_id = body.get("device_id")
    if not isinstance(device_id, str) or not 0 < len(device_id) <= 100 or text_problem(device_id):
        raise ValidationError("'device_id' must be a short text naming the device.", "bad_device_id")
    cursor = body.get("cursor") or 0
    if not isinstance(cursor, int) or isinstance(cursor, bool) or not 0 <= cursor <= MAX_SEQ:
        raise ValidationError("'cursor' must be a whole number from an earlier answer.", "bad_cursor")
    mutations = body.get("mutations", [])
    if not isinstance(mutations, list):
        raise ValidationError("'mutations' must be a list.", "bad_mutations")
    if len(mutations) > MAX_BATCH:
        raise ValidationError(f"Send at most {MAX_BATCH} mutations at once.", "batch_too_large")

    acks, touched = [], set()
    # The session forgets rows nobody holds: keep each site (and its technicians) loaded for the whole batch
    # rather than reading it, with its readiness JSON, once per mutation.
    session.info[BATCH_SITES] = {}
    try:
        for mutation in mutations:
            ack, site_id = _apply_one(session, user, device_id, mutation)
            acks.append(ack)
            if site_id is not None and ack["status"] in ("applied", "conflict"):
                touched.add(site_id)
    finally:
        session.info.pop(BATCH_SITES, None)
    if touched:
        sites = session.execute(select(Site).where(Site.id.in_(touched))).scalars().all()
        refresh(session, sites)
    _record_sync(session, user, device_id, touched)
    session.commit()
    return {"acks": acks, **pull(session, user, cursor)}


def _apply_one(session: Session, user: User, device_id: str, mutation) -> tuple[dict, int | None]:
    mutation_id = mutation.get("id") if isinstance(mutation, dict) else None
    if not _is_uuid(mutation_id):
        return _rejected(mutation_id, "bad_id", "Each mutation needs an 'id' that is a UUID."), None
    text = payload_text(mutation)
    if len(text) > MAX_MUTATION_BYTES:
        return _rejected(mutation_id, "too_large", f"One change may be at most {MAX_MUTATION_BYTES // 1024} KiB "
                         "of JSON; this one is larger."), None
    digest = hashlib.sha256(text.encode()).hexdigest()
    seen = session.get(Mutation, mutation_id)
    if seen is not None:
        return _repeat(seen, digest, mutation_id), None
    kind = mutation.get("type")
    handler = HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        return _rejected(mutation_id, "unknown_type",
                         f"Unknown mutation type '{mutation.get('type')}'."), None
    next_seq(session)  # once per batch, outside the savepoints, so every change of the batch shares it
    savepoint = session.begin_nested()
    try:
        refuse_bad_text(mutation, "The change")
        status, site_id = handler(session, user, device_id, mutation)
        session.add(Mutation(id=mutation_id, payload_hash=digest, type=mutation["type"], site_id=site_id,
                             user_id=user.id, device_id=device_id, status=status))
        session.flush()
        savepoint.commit()
    except FieldKitError as exc:
        savepoint.rollback()
        return _rejected(mutation_id, exc.code, exc.message), None
    except IntegrityError:
        # Another request recorded the same id at the same moment: it won, this one is a repeat.
        savepoint.rollback()
        seen = session.get(Mutation, mutation_id)
        if seen is None:
            return _rejected(mutation_id, "conflict", "The change clashes with stored data."), None
        return _repeat(seen, digest, mutation_id), None
    except OperationalError:
        raise  # a deadlock or a lost connection ends the whole transaction: the request is retried or fails
    except Exception:
        # A bug of ours must not wedge the phone: this change is refused alone (logged), the batch goes on.
        savepoint.rollback()
        log.exception("Sync mutation %s (%s) failed", mutation_id, kind)
        return _rejected(mutation_id, "server_error", "The server could not apply this change (the error was "
                         "logged); nothing of it was stored."), None
    return {"id": mutation_id, "status": status}, site_id


def _repeat(seen: Mutation, digest: str, mutation_id: str) -> dict:
    if seen.payload_hash != digest:
        return _rejected(mutation_id, "id_reused", "This mutation id was already used for a different change.")
    return {"id": mutation_id, "status": "duplicate"}


def _rejected(mutation_id, code: str, message: str) -> dict:
    return {"id": mutation_id if isinstance(mutation_id, str) else None, "status": "rejected",
            "error": {"code": code, "message": message}}


def _is_uuid(value) -> bool:
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def apply_item_update(session: Session, user: User, device_id: str, mutation: dict) -> tuple[str, int]:
    """item.update: set status/note/measurements/due; a stale base_rev is a conflict, kept in history."""
    item_id, base_rev, changes = mutation.get("item_id"), mutation.get("base_rev"), mutation.get("set")
    if not access.is_id(item_id):
        raise ValidationError("'item_id' must be an item's id.", "bad_item_id")
    if not access.is_rev(base_rev):
        raise ValidationError("'base_rev' must be the item's revision the change was made on.", "bad_base_rev")
    if not isinstance(changes, dict) or not changes:
        raise ValidationError("'set' must name what to change.", "bad_set")
    unknown = set(changes) - {"status", "note", "measurements", "due"}
    if unknown:
        raise ValidationError(f"Cannot set {', '.join(sorted(unknown))} on an item.", "bad_set")
    missing = f"There is no item {item_id}."
    item = session.get(Item, item_id, with_for_update=True)
    if item is None:
        raise NotFound(missing)
    site = access.field_site_for(session, user, item.site_id, missing)
    session.info.get(BATCH_SITES, {})[site.id] = site
    values = _validated(item, changes)

    others = _changes_by_others(session, item, base_rev, user, device_id)
    conflict = others is not None
    diff = {name: [getattr(item, name), value] for name, value in values.items()
            if getattr(item, name) != value}
    if not diff:
        return ("conflict" if conflict else "applied"), site.id
    kind = "update"
    if conflict:
        kind = "conflict"
        if "status" in diff and any("status" in event.changes for event in others):
            # Two people reported different results: neither wins until a PM decides.
            item.disputed = True
            kind = "dispute"
    for name, (_, new) in diff.items():
        setattr(item, name, new)
    item.rev += 1
    item.updated_at = utcnow()
    item.updated_by_id = user.id
    session.add(ItemEvent(item_id=item.id, site_id=item.site_id, rev=item.rev, kind=kind,
                          changes={k: [_plain(a), _plain(b)] for k, (a, b) in diff.items()},
                          user_id=user.id, device_id=device_id, mutation_id=mutation["id"],
                          base_rev=base_rev))
    return ("conflict" if conflict else "applied"), site.id


def _changes_by_others(session: Session, item: Item, base_rev: int, user: User,
                       device_id: str) -> list[ItemEvent] | None:
    """The item's changes since `base_rev` made by someone else, or None when there is no conflict.

    A phone sends every offline edit with the revision it last pulled, so its own earlier changes
    (same person, same device) are not a conflict: a technician changing their mind is not a dispute.
    """
    if base_rev == item.rev:
        return None
    if base_rev > item.rev:
        return []  # a revision the server never made: treat as a conflict, nothing to compare
    events = session.execute(select(ItemEvent).where(ItemEvent.item_id == item.id, ItemEvent.rev > base_rev)
                             .order_by(ItemEvent.rev)).scalars().all()
    others = [event for event in events if (event.user_id, event.device_id) != (user.id, device_id)]
    return others or None


def _validated(item: Item, changes: dict) -> dict:
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
        values["measurements"] = _measurements(item, changes["measurements"])
    if "due" in changes:
        values["due"] = None if changes["due"] is None else parse_date(changes["due"], "due")
    if values.get("status", item.status) == "na" and not values.get("note", item.note):
        raise ValidationError("Marking an item n/a needs a reason in the note.", "na_needs_reason")
    return values


def _measurements(item: Item, given) -> dict:
    """Merge measurements into the item's: a number sets one, null clears it."""
    if not isinstance(given, dict):
        raise ValidationError("'measurements' must map names to numbers.", "bad_measurements")
    merged = dict(item.measurements)
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


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


def resolve_dispute(session: Session, user: User, item_id: int, status: str, note: str | None = None) -> Item:
    """A PM decides a disputed item's status; the decision is kept in the history."""
    missing = f"There is no item {item_id}."
    # Locked (after the sync counter, see db.py), so a sync of the same item in between is not overwritten.
    item = session.get(Item, item_id, with_for_update=True) if access.is_id(item_id) else None
    if item is None:
        raise NotFound(missing)
    site = access.site_for(session, user, item.site_id, missing)
    access.require_role(user, access.MANAGER_ROLES)
    if not item.disputed:
        raise ValidationError("This item is not disputed.", "not_disputed")
    values = _validated(item, {"status": status, **({"note": note} if note is not None else {})})
    diff = {k: [_plain(getattr(item, k)), _plain(v)] for k, v in values.items()}
    for name, value in values.items():
        setattr(item, name, value)
    item.disputed = False
    item.rev += 1
    item.updated_at = utcnow()
    item.updated_by_id = user.id
    session.add(ItemEvent(item_id=item.id, site_id=item.site_id, rev=item.rev, kind="resolve",
                          changes=diff, user_id=user.id))
    refresh(session, [site])
    session.commit()
    return item


def _record_sync(session: Session, user: User, device_id: str, touched: set[int]) -> None:
    """Remember when this person's device last synced each site they work on."""
    site_ids = set(touched)
    if user.role == "tech":
        site_ids |= set(session.execute(access.visible_sites(user).with_only_columns(Site.id)).scalars())
    if not site_ids:
        return
    # One upsert: two syncs from a new device at the same moment must not collide on the unique key.
    statement = upsert(session, DeviceSync).values([
        {"site_id": site_id, "user_id": user.id, "device_id": device_id, "at": utcnow()}
        for site_id in sorted(site_ids)])
    session.execute(statement.on_conflict_do_update(
        index_elements=["site_id", "user_id", "device_id"], set_={"at": statement.excluded.at}))


def pull(session: Session, user: User, cursor: int) -> dict:
    """Every row changed after `cursor` on the sites the user may see, once, in pages of about PAGE rows."""
    target = current_cursor(session)
    site_ids = select(access.visible_sites(user).with_only_columns(Site.id).subquery().c.id)
    kinds = ((Item, item_json, "item"), (Asset, asset_json, "asset"), (Photo, photo_json, "photo"),
             (Site, site_json, "site"))
    fetched, more = {}, False
    for model, _, name in kinds:
        owner = model.id if model is Site else model.site_id
        rows = session.execute(select(model).where(owner.in_(site_ids), model.seq > cursor, model.seq <= target)
                               .order_by(model.seq).limit(PAGE + 1)).scalars().all()
        if len(rows) > PAGE:
            more = True
            # Stop before the last sequence value seen, so no transaction's changes are split across pages.
            target = max(cursor + 1, min(target, rows[PAGE].seq - 1))
        fetched[name] = rows
    if more and target == cursor + 1:
        fetched = {name: session.execute(select(model).where(
            (model.id if model is Site else model.site_id).in_(site_ids), model.seq == target)).scalars().all()
            for model, _, name in kinds}
    changes = [
        {"type": name, "id": row.id, "seq": row.seq, "data": shape(row)}
        for model, shape, name in kinds for row in fetched[name] if cursor < row.seq <= target
    ]
    changes.sort(key=lambda change: change["seq"])
    return {"changes": changes, "cursor": target, "more": more}


HANDLERS = {"item.update": apply_item_update, "asset.upsert": apply_asset_upsert}
