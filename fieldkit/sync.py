"""Sync: the bundle a phone starts from, each device mutation applied exactly once, and what changed since."""
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field, replace

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, joinedload, selectinload

from . import access, items, signoff
from .db import next_seq, upsert
from .errors import FieldKitError, NotFound, ValidationError, refuse_bad_text, text_problem
from .inventory import apply_asset_upsert
from .items import Draft
from .models import Asset, Counter, DeviceSync, Item, ItemEvent, Mutation, Photo, Site, User, utcnow
from .payloads import asset_json, item_json, photo_json, site_json
from .verdicts import item_counts, refresh

MAX_BATCH = 1000  # a phone offline for a day can hold this many; it sends 100 at a time
MAX_MUTATION_BYTES = 64 * 1024  # a 5,000-character note in any script, measurements and all, fits several times
PAGE = 2000
MAX_SEQ = 2**63 - 1
# The limits of one item change live with the item rules; the API's description reads them here too.
NOTE_LIMIT, MAX_MEASUREMENTS = items.NOTE_LIMIT, items.MAX_MEASUREMENTS
MEASUREMENT_NAME_LIMIT, MEASUREMENT_LIMIT = items.MEASUREMENT_NAME_LIMIT, items.MEASUREMENT_LIMIT
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
    states = site.readiness.get("items", {})  # each item's state in the stored verdict
    return {
        "site": {**site_json(site), "readiness": site.readiness},
        "items": [
            item_json(item, photos.get(item.id, 0),
                      assets.get((site.id, item.asset_kind, item.room), 0) if item.asset_kind else None,
                      states.get(str(item.id)))
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

    Returns {"acks": [{"id","status","error"?}], "changes": [...], "cursor", "more"}. The caller commits: the
    cursor answered is this transaction's own sequence value, so the answer must be sent after the commit.
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

    batch = Batch(session, user, device_id)
    acks, touched = batch.apply(mutations)
    if touched:
        refresh(session, [batch.sites[site_id] for site_id in sorted(touched)])
    _record_sync(session, user, device_id, touched)
    return {"acks": acks, **pull(session, user, cursor)}


@dataclass
class Screened:
    """A mutation as first read: its id, the hash of its canonical text, and its answer if refused at once."""

    id: object
    digest: str | None = None
    ack: dict | None = None


@dataclass
class Writes:
    """What one pass over a batch's item changes writes: Mutation rows, the items' new values, history rows."""

    mutations: list[dict] = field(default_factory=list)
    items: dict[int, Draft] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)


class Batch:
    """One sync request's mutations, applied in order as if one by one, in a number of queries that does not
    grow with the batch: each is checked in Python; the ids already seen, the items (locked), their sites and
    the history conflicts are judged on are read in one query each; item changes are written in bulk at the
    end. An asset upsert still runs alone in a savepoint (its tag can clash with stored data)."""

    def __init__(self, session: Session, user: User, device_id: str):
        self.session, self.user, self.device_id = session, user, device_id
        self.user_id = user.id
        self.who = (user.id, device_id)  # whose earlier changes are their own, not a conflict
        self.sites: dict[int, Site] = {}  # held here so the session keeps them loaded for the whole batch
        self.workable: dict[int, Site] = {}  # the sites the user was found to work on (asked once per site)
        self.locked: dict[int, Draft] = {}  # the batch's items as read under their row locks, before any change
        self.history: dict[int, list[items.Change]] = {}
        self.assets: dict[int, tuple[dict, int | None]] = {}  # applied at once, by position in the batch
        self.now = utcnow()

    def apply(self, mutations: list) -> tuple[list[dict], set[int]]:
        """The acks, and the sites a change was recorded on."""
        screened = [_screen(mutation) for mutation in mutations]
        seen = _seen(self.session, [s.id for s in screened if s.ack is None])
        self._prefetch(mutations, screened, seen)
        while True:
            acks, touched, writes = self._pass(mutations, screened, seen)
            taken = self._write(writes)
            if not taken:
                return acks, touched
            # Another request recorded some of these ids meanwhile: they are repeats now, and the rest is
            # worked out again without them (nothing of this pass's item changes was kept).
            seen.update(taken)

    def _prefetch(self, mutations: list, screened: list[Screened], seen: dict) -> None:
        """Lock the batch's items and read their sites and history, if anything may be applied."""
        item_ids, site_ids, base_revs = set(), set(), {}
        for mutation, s in zip(mutations, screened, strict=True):
            if s.ack is not None or s.id in seen:
                continue
            kind = mutation.get("type")
            if kind == "item.update" and access.is_id(mutation.get("item_id")):
                item_id, base_rev = mutation["item_id"], mutation.get("base_rev")
                item_ids.add(item_id)
                if access.is_rev(base_rev):
                    base_revs[item_id] = min(base_rev, base_revs.get(item_id, base_rev))
            elif kind == "asset.upsert" and access.is_id(mutation.get("site_id")):
                site_ids.add(mutation["site_id"])
        if not item_ids and not site_ids:
            return
        next_seq(self.session)  # the one lock order (see db.py): the sync counter first, then the rows
        if item_ids:
            rows = self.session.execute(select(*DRAFT_COLUMNS).where(Item.id.in_(item_ids)).order_by(Item.id)
                                        .with_for_update())
            self.locked = {row.id: Draft(*row) for row in rows}
            site_ids |= {item.site_id for item in self.locked.values()}
            stale = [item_id for item_id, rev in base_revs.items()
                     if item_id in self.locked and rev < self.locked[item_id].rev]
            if stale:
                self.history = items.history(self.session, stale, min(base_revs[i] for i in stale))
        self.sites = {site.id: site for site in self.session.execute(
            select(Site).where(Site.id.in_(site_ids))
            .options(selectinload(Site.technicians), selectinload(Site.checklists), joinedload(Site.client))
        ).scalars()}

    def _pass(self, mutations: list, screened: list[Screened], seen: dict) -> tuple[list[dict], set[int], Writes]:
        recorded: dict[str, str] = {}  # id -> hash of the changes recorded earlier in this batch
        drafts = {item_id: replace(item) for item_id, item in self.locked.items()}
        history = {item_id: list(changes) for item_id, changes in self.history.items()}
        acks, touched, writes = [], set(), Writes()
        for index, (mutation, s) in enumerate(zip(mutations, screened, strict=True)):
            if s.ack is not None:
                acks.append(s.ack)
                continue
            earlier = recorded.get(s.id) or seen.get(s.id)
            if earlier is not None:
                acks.append(_repeat(earlier, s.digest, s.id))
                continue
            kind = mutation.get("type")
            if kind == "item.update":
                ack, site_id = self._item_update(mutation, s, drafts, history, writes)
            elif kind == "asset.upsert":
                if index not in self.assets:
                    self.assets[index] = self._asset_upsert(mutation, s)
                ack, site_id = self.assets[index]
            else:
                ack, site_id = _rejected(s.id, "unknown_type", f"Unknown mutation type '{kind}'."), None
            if ack["status"] in ("applied", "conflict"):
                recorded[s.id] = s.digest
                touched.add(site_id)
            acks.append(ack)
        return acks, touched, writes

    def _item_update(self, mutation: dict, s: Screened, drafts: dict[int, Draft],
                     history: dict[int, list[items.Change]], writes: Writes) -> tuple[dict, int | None]:
        """item.update on the batch's copy of the item: set status/note/measurements/due; a stale base_rev is
        a conflict, kept in history."""
        who = self.who
        try:
            refuse_bad_text(mutation, "The change")
            item_id, base_rev, changes = mutation.get("item_id"), mutation.get("base_rev"), mutation.get("set")
            items.check_update(item_id, base_rev, changes)
            missing = f"There is no item {item_id}."
            item = drafts.get(item_id)
            if item is None:
                raise NotFound(missing)
            site = self.workable.get(item.site_id)
            if site is None:
                site = self.workable[item.site_id] = access.field_site_for(self.session, self.user, item.site_id,
                                                                          missing)
            values = items.validated(item, changes)
            conflict, edit = items.plan(item, values, base_rev, history.get(item_id, []), who)
        except FieldKitError as exc:
            return _rejected(s.id, exc.code, exc.message), None
        except Exception:
            # A bug of ours must not wedge the phone: this change is refused alone (logged), the batch goes on.
            log.exception("Sync mutation %s (item.update) failed", s.id)
            return _rejected(s.id, "server_error", SERVER_ERROR), None
        if edit is not None:
            writes.events.append(items.apply(item, edit, self.user_id, self.now, base_rev, self.device_id, s.id))
            writes.items[item.id] = item
            history.setdefault(item.id, []).append((item.rev, who, frozenset(edit.diff)))
        status = "conflict" if conflict else "applied"
        writes.mutations.append({"id": s.id, "payload_hash": s.digest, "type": "item.update", "site_id": site.id,
                                 "user_id": self.user_id, "device_id": self.device_id, "status": status,
                                 "received_at": self.now})
        return {"id": s.id, "status": status}, site.id

    def _asset_upsert(self, mutation: dict, s: Screened) -> tuple[dict, int | None]:
        session = self.session
        savepoint = session.begin_nested()
        try:
            refuse_bad_text(mutation, "The change")
            status, site_id = apply_asset_upsert(session, self.user, self.device_id, mutation)
            session.add(Mutation(id=s.id, payload_hash=s.digest, type="asset.upsert", site_id=site_id,
                                 user_id=self.user_id, device_id=self.device_id, status=status))
            session.flush()
            savepoint.commit()
        except FieldKitError as exc:
            savepoint.rollback()
            return _rejected(s.id, exc.code, exc.message), None
        except IntegrityError:
            # Another request recorded the same id at the same moment: it won, this one is a repeat.
            savepoint.rollback()
            seen = session.get(Mutation, s.id)
            if seen is None:
                return _rejected(s.id, "conflict", "The change clashes with stored data."), None
            return _repeat(seen.payload_hash, s.digest, s.id), None
        except OperationalError:
            raise  # a deadlock or a lost connection ends the whole transaction: the request is retried or fails
        except Exception:
            savepoint.rollback()
            log.exception("Sync mutation %s (asset.upsert) failed", s.id)
            return _rejected(s.id, "server_error", SERVER_ERROR), None
        return {"id": s.id, "status": status}, site_id

    def _write(self, writes: Writes) -> dict[str, str]:
        """Write a pass's item changes in three statements; {} when done, or the ids another request recorded
        since they were looked up (then nothing was written)."""
        if not writes.mutations:
            return {}
        session = self.session
        # The one place a database error can still happen: a mutation id recorded by a request that did not
        # wait for the sync counter (every request of ours does, so this is a guard, not a path).
        savepoint = session.begin_nested()
        try:
            session.execute(insert(MUTATIONS), writes.mutations)
            if writes.items:
                seq = next_seq(session)
                session.execute(update(ITEMS).where(ITEMS.c.id == bindparam("item_id")), [
                    {"item_id": item.id, "status": item.status, "note": item.note, "measurements": item.measurements,
                     "due": item.due, "disputed": item.disputed, "rev": item.rev, "seq": seq,
                     "updated_at": item.updated_at, "updated_by_id": item.updated_by_id}
                    for item in writes.items.values()])
            if writes.events:
                session.execute(insert(EVENTS), writes.events)
            savepoint.commit()
        except IntegrityError:
            savepoint.rollback()
            taken = _seen(session, [row["id"] for row in writes.mutations])
            if not taken:
                raise
            return taken
        signoff.mark_changed(session, {item.site_id for item in writes.items.values()})
        for item_id in writes.items:  # a row the session loaded earlier (a demo, a test) is read again
            loaded = session.identity_map.get(session.identity_key(Item, item_id))
            if loaded is not None:
                session.expire(loaded)
        return {}


# Written as plain tables (one executemany each), not through the ORM's bookkeeping for every row.
ITEMS, EVENTS, MUTATIONS = Item.__table__, ItemEvent.__table__, Mutation.__table__
DRAFT_COLUMNS = (Item.id, Item.site_id, Item.status, Item.note, Item.measurements, Item.due, Item.disputed,
                 Item.rev)
SERVER_ERROR = "The server could not apply this change (the error was logged); nothing of it was stored."


def _screen(mutation) -> Screened:
    mutation_id = mutation.get("id") if isinstance(mutation, dict) else None
    if not _is_uuid(mutation_id):
        return Screened(mutation_id, ack=_rejected(mutation_id, "bad_id", "Each mutation needs an 'id' that is a UUID."))
    text = payload_text(mutation)
    if len(text) > MAX_MUTATION_BYTES:
        return Screened(mutation_id, ack=_rejected(mutation_id, "too_large", f"One change may be at most "
                        f"{MAX_MUTATION_BYTES // 1024} KiB of JSON; this one is larger."))
    return Screened(mutation_id, hashlib.sha256(text.encode()).hexdigest())


def _seen(session: Session, ids: list[str]) -> dict[str, str]:
    """The payload hash of each of these mutation ids already recorded, in one query."""
    if not ids:
        return {}
    return dict(session.execute(select(Mutation.id, Mutation.payload_hash).where(Mutation.id.in_(ids))).all())


def _repeat(payload_hash: str, digest: str, mutation_id: str) -> dict:
    if payload_hash != digest:
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

