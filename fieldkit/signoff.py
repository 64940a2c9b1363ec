"""Client sign-off: an immutable snapshot of a site as the client accepted it, with its SHA-256.

Decisions (see also the report on issue 6):
- Only users of the site's own client sign (another client's site is NotFound, every other role Forbidden).
- `accept` must name exactly the site's open items (applicable and not ready) at the moment of signing:
  an open item left out is refused, naming it; an id that is not an open item of this site is refused too.
  A client therefore accepts every exception explicitly, one by one; nothing is accepted by default.
- A site may be signed again (after further work, or after changes made since the last sign-off). Each
  sign-off is a new version whose snapshot names the previous one's SHA-256; the latest one counts
  (`Site.signed_off_at`), and signing resets `Site.changed_after_signoff`.
- The snapshot is canonical JSON (sorted keys, no whitespace, UTF-8) and includes the SHA-256 of the
  signature PNG, so neither the snapshot, the typed name nor the signature image can change unnoticed.
"""
import base64
import binascii
import hashlib
import hmac
import io
import json
import unicodedata
import warnings
from datetime import date

from PIL import Image
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from . import access, readiness, verdicts
from .db import next_seq
from .errors import NotFound, ValidationError
from .models import Asset, Item, ItemEvent, Photo, Signoff, Site, User, utcnow
from .payloads import asset_json

FORMAT = "fieldkit.signoff/1"
SIGNER_ROLES = ("client",)
NAME_LIMIT = 200
MAX_ACCEPT = 10_000
SIGNATURE_PREFIX = "data:image/png;base64,"
SIGNATURE_MAX_BYTES = 500 * 1024
SIGNATURE_MIN_SIZE = (100, 40)
SIGNATURE_MAX_SIZE = (3000, 3000)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A pixel is ink when it differs this much (0-255 grey levels) from the image's background colour.
INK_CONTRAST = 64
MIN_INK_PIXELS = 30


def canonical(snapshot: dict) -> str:
    """The one text form of a snapshot: sorted keys, no whitespace, non-ASCII kept as UTF-8."""
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


# --------------------------------------------------------------------------- validation


def clean_name(value) -> str:
    """The typed name, trimmed and with runs of spaces collapsed; 1-200 characters, no control characters."""
    if not isinstance(value, str):
        raise ValidationError("'name' must be your name, typed as text.", "bad_name")
    name = " ".join(value.split())
    if not name:
        raise ValidationError("Type your name to sign.", "missing_name")
    if len(name) > NAME_LIMIT:
        raise ValidationError(f"The name is longer than {NAME_LIMIT} characters.", "name_too_long")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise ValidationError("The name contains invisible control characters.", "bad_name")
    return name


def parse_signature(value) -> bytes:
    """The PNG bytes of a `data:image/png;base64,...` signature, checked to be a real, sensibly sized,
    non-blank PNG; a ValidationError saying what is wrong otherwise."""
    if not isinstance(value, str) or not value.startswith(SIGNATURE_PREFIX):
        raise ValidationError("'signature' must be a PNG image as a data URL (data:image/png;base64,...).",
                              "bad_signature")
    encoded = value[len(SIGNATURE_PREFIX):]
    limit_kb = SIGNATURE_MAX_BYTES // 1024
    if len(encoded) > (SIGNATURE_MAX_BYTES + 2) // 3 * 4:
        raise ValidationError(f"The signature image is larger than {limit_kb} KB.", "signature_too_large")
    try:
        png = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("The signature data URL is not valid base64.", "bad_signature") from None
    if len(png) > SIGNATURE_MAX_BYTES:
        raise ValidationError(f"The signature image is larger than {limit_kb} KB.", "signature_too_large")
    if not png.startswith(PNG_MAGIC):
        raise ValidationError("The signature is not a PNG image.", "bad_signature")
    (min_w, min_h), (max_w, max_h) = SIGNATURE_MIN_SIZE, SIGNATURE_MAX_SIZE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
                width, height = image.size
                if not (min_w <= width <= max_w and min_h <= height <= max_h):
                    raise ValidationError(
                        f"The signature image is {width}x{height} pixels; it must be between "
                        f"{min_w}x{min_h} and {max_w}x{max_h}.", "bad_signature_size")
                image.load()
                ink = _ink_pixels(image)
    except ValidationError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError("The signature PNG is damaged and cannot be read.", "bad_signature") from None
    if ink < MIN_INK_PIXELS:
        raise ValidationError("The signature is blank: sign with your finger or mouse first.", "blank_signature")
    return png


def _ink_pixels(image: Image.Image) -> int:
    """How many pixels stand out from the background (transparent counts as white paper)."""
    rgba = image.convert("RGBA")
    grey = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("L")
    histogram = grey.histogram()
    background = max(range(256), key=histogram.__getitem__)
    return sum(count for level, count in enumerate(histogram) if abs(level - background) > INK_CONTRAST)


def _accepted_ids(value) -> set[int]:
    if value is None:
        return set()
    if not isinstance(value, list) or len(value) > MAX_ACCEPT or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationError("'accept' must be a list of the item ids you accept as exceptions.", "bad_accept")
    return set(value)


# --------------------------------------------------------------------------- what is open


def is_open(item: Item, verdict) -> bool:
    """Applicable and not ready (readiness says which): an exception the client must accept to sign. An item
    the verdict does not know is open, so nothing is signed away unseen."""
    state = verdict.items.get(item.id)
    return state is None or state.open


def _label(item: Item) -> str:
    return f"{item.title} ({item.room})" if item.room else item.title


def open_items(session: Session, site: Site, today: date | None = None) -> list[dict]:
    """The site's open items as the sign-off page lists them, with the plain-language problems of each."""
    verdict, items = _assess(session, site, today)
    return [_exception(item, verdict) for item in items if is_open(item, verdict)]


def _assess(session: Session, site: Site, today: date | None) -> tuple:
    """The verdict as of now and the items, computed without storing anything (for reads)."""
    items = _items(session, site)
    photos, assets = verdicts.item_counts(session, [site.id])
    return readiness.assess(*verdicts.facts(site, items, photos, assets, today or date.today())), items


def _items(session: Session, site: Site) -> list[Item]:
    return session.execute(select(Item).where(Item.site_id == site.id).order_by(Item.position, Item.id)).scalars().all()


def _exception(item: Item, verdict) -> dict:
    state = verdict.items.get(item.id)
    return {"item_id": item.id, "title": item.title, "room": item.room, "category": item.category,
            "severity": item.severity, "status": "disputed" if item.disputed else item.status,
            "problems": list(state.problems) if state else []}


# --------------------------------------------------------------------------- signing


def sign(session: Session, user: User, site_id: int, data, today: date | None = None) -> Signoff:
    """POST /api/sites/{id}/signoff: check the request, freeze the snapshot, store it; the caller commits."""
    site = access.site_for(session, user, site_id)
    access.require_role(user, SIGNER_ROLES)
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.", "bad_body")
    name = clean_name(data.get("name"))
    png = parse_signature(data.get("signature"))
    accepted = _accepted_ids(data.get("accept"))
    # One sign-off of a site at a time, so versions stay in order. The lock takes the sync counter first, as
    # every writer does (db.py): locking the site before the counter deadlocked against sync.
    session.refresh(site, with_for_update=True)

    verdict = verdicts.refresh(session, [site], today)[site.id]
    items = _items(session, site)
    open_by_id = {item.id: item for item in items if is_open(item, verdict)}
    missing = [open_by_id[i] for i in open_by_id if i not in accepted]
    if missing:
        names = ", ".join(_label(item) for item in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ValidationError(f"Accept each open item before signing. Not accepted yet: {names}{more}.",
                              "exceptions_not_accepted")
    unknown = sorted(accepted - set(open_by_id))
    if unknown:
        listed = ", ".join(str(i) for i in unknown[:10])
        raise ValidationError(f"These are not open items of this site, so they cannot be accepted: {listed}.",
                              "not_an_exception")

    previous = latest(session, site.id)
    version = 1 + (session.execute(select(func.count()).select_from(Signoff)
                                   .where(Signoff.site_id == site.id)).scalar_one())
    signed_at = utcnow()
    snapshot = build_snapshot(session, site, verdict, items, accepted, user=user, name=name,
                              signed_at=signed_at.isoformat(), signature_sha256=digest(png),
                              version=version, previous_sha256=previous.sha256 if previous else None)
    text = canonical(snapshot)
    row = Signoff(site_id=site.id, user_id=user.id, name=name, signature_png=png, snapshot=text,
                  sha256=digest(text), created_at=signed_at)
    session.add(row)
    site.signed_off_at = signed_at
    site.changed_after_signoff = False
    session.flush()
    return row


def build_snapshot(session: Session, site: Site, verdict, items: list[Item], accepted: set[int], *,
                   user: User | None, name: str | None, signed_at: str | None, signature_sha256: str | None,
                   version: int | None = None, previous_sha256: str | None = None) -> dict:
    """Everything the client signs for, as plain JSON values: site, verdict, every item's state, the
    accepted exceptions, the assets, the photo evidence (by content hash), who and when."""
    photos_by_item: dict[int, list[str]] = {}
    photo_rows = session.execute(
        select(Photo.id, Photo.sha256, Photo.item_id, Photo.asset_id, Photo.captured_at)
        .where(Photo.site_id == site.id).order_by(Photo.created_at, Photo.id)).all()
    for photo in photo_rows:
        if photo.item_id is not None:
            photos_by_item.setdefault(photo.item_id, []).append(photo.sha256)
    assets = session.execute(select(Asset).where(Asset.site_id == site.id)
                             .order_by(Asset.room, Asset.kind, Asset.tag)).scalars()
    return {
        "format": FORMAT,
        "version": version,
        "previous_sha256": previous_sha256,
        "site": {
            "id": site.id, "name": site.name, "client": site.client.name, "address": site.address,
            "move_in": site.move_in.isoformat(), "rooms": list(site.rooms),
            "checklists": [{"template": c.template_key, "version": c.template_version, "title": c.title,
                            "threshold": c.threshold} for c in site.checklists],
        },
        "verdict": {
            "status": verdict.status, "score": verdict.score, "summary": verdict.summary,
            "reasons": list(verdict.reasons), "forecast": verdict.forecast, "blockers": list(verdict.blockers),
            "categories": verdict.categories,
        },
        "items": [_item_state(item, verdict, photos_by_item.get(item.id, [])) for item in items],
        "accepted_exceptions": [_exception(item, verdict) for item in items if item.id in accepted],
        "assets": [asset_json(asset) for asset in assets],
        "photos": [{"id": p.id, "sha256": p.sha256, "item_id": p.item_id, "asset_id": p.asset_id,
                    "captured_at": p.captured_at.isoformat() if p.captured_at else None} for p in photo_rows],
        "signed_by": None if user is None else {"user_id": user.id, "email": user.email, "name": name},
        "signed_at": signed_at,
        "signature_sha256": signature_sha256,
    }


def _item_state(item: Item, verdict, photos: list[str]) -> dict:
    state = verdict.items.get(item.id)
    return {
        "id": item.id, "key": item.key, "title": item.title, "category": item.category,
        "severity": item.severity, "room": item.room, "status": item.status, "disputed": item.disputed,
        "ready": bool(state and state.ready), "failed": bool(state and state.failed),
        "problems": list(state.problems) if state else [], "note": item.note,
        "measurements": dict(item.measurements), "thresholds": dict(item.thresholds),
        "photos_required": item.photos_required, "photos": photos,
        "due": item.due.isoformat() if item.due else None, "rev": item.rev,
    }


def current_snapshot(session: Session, site: Site, today: date | None = None) -> dict:
    """The site as it stands now, in the snapshot shape but unsigned (for a handover pack before sign-off)."""
    verdict, items = _assess(session, site, today)
    return build_snapshot(session, site, verdict, items, set(), user=None, name=None,
                          signed_at=None, signature_sha256=None)


# --------------------------------------------------------------------------- reading and verifying


def latest(session: Session, site_id: int) -> Signoff | None:
    """The sign-off that counts: the newest one of the site."""
    return session.execute(select(Signoff).where(Signoff.site_id == site_id)
                           .order_by(Signoff.created_at.desc(), Signoff.id.desc()).limit(1)).scalar_one_or_none()


def history(session: Session, site_id: int) -> list[Signoff]:
    return session.execute(select(Signoff).where(Signoff.site_id == site_id)
                           .order_by(Signoff.created_at.desc(), Signoff.id.desc())).scalars().all()


def changes_since(session: Session, site: Site, row: Signoff | None) -> tuple[list, dict[str, int]]:
    """What changed on a site after its sign-off `row`: the ten latest item changes as (event, title, room),
    and how many devices and photos were added or changed. Nothing while the site is unchanged."""
    if row is None or not site.changed_after_signoff:
        return [], {}
    changes = session.execute(
        select(ItemEvent, Item.title, Item.room).join(Item, Item.id == ItemEvent.item_id)
        .where(ItemEvent.site_id == site.id, ItemEvent.at > row.created_at)
        .order_by(ItemEvent.id.desc()).limit(10)).all()
    counts = {label: session.execute(select(func.count()).select_from(model).where(
                  model.site_id == site.id, stamp > row.created_at)).scalar_one()
              for model, stamp, label in ((Asset, Asset.updated_at, "devices"), (Photo, Photo.created_at, "photos"))}
    return changes, counts


def signoff_for(session: Session, user: User, signoff_id: int) -> Signoff:
    """The sign-off if the user may see its site; NotFound otherwise."""
    missing = f"There is no sign-off {signoff_id}."
    row = session.get(Signoff, signoff_id)
    if row is None:
        raise NotFound(missing)
    access.site_for(session, user, row.site_id, missing)
    return row


def is_valid(row: Signoff) -> bool:
    """Recompute the hash from the stored snapshot and check that the snapshot still describes this row:
    canonical text, the same site, the same typed name and the same signature image."""
    if not hmac.compare_digest(digest(row.snapshot), row.sha256):
        return False
    try:
        snapshot = json.loads(row.snapshot)
        return (canonical(snapshot) == row.snapshot
                and snapshot.get("format") == FORMAT
                and snapshot["site"]["id"] == row.site_id
                and snapshot["signed_by"]["name"] == row.name
                and hmac.compare_digest(snapshot["signature_sha256"], digest(row.signature_png)))
    except (ValueError, KeyError, TypeError):
        return False


def verify(row: Signoff) -> dict:
    """GET /api/signoffs/{id}/verify."""
    return {"valid": is_valid(row), "sha256": row.sha256, "id": row.id, "site_id": row.site_id,
            "signed_at": row.created_at.isoformat(), "name": row.name}


def snapshot_of(row: Signoff) -> dict:
    return json.loads(row.snapshot)


# --------------------------------------------------------------------------- changes after sign-off


@event.listens_for(Session, "before_flush")
def _mark_changes_after_signoff(session: Session, flush_context, instances) -> None:
    """Any change to a signed-off site's items, assets or photos marks the site as changed after sign-off,
    wherever the change is made (sync, dispute resolution, uploads, imports)."""
    # session.dirty builds a fresh set on every access: read it once (a new site flushes 2,000 items).
    changed = [*session.new, *session.deleted, *(obj for obj in session.dirty if session.is_modified(obj))]
    site_ids = {obj.site_id for obj in changed if isinstance(obj, (Item, Asset, Photo)) and obj.site_id is not None}
    mark_changed(session, site_ids)


def mark_changed(session: Session, site_ids: set[int]) -> None:
    """Mark the signed-off sites among these as changed after sign-off; a write that bypasses the ORM (the
    sync's bulk item update) calls this itself."""
    with session.no_autoflush:
        for site_id in site_ids:
            site = session.get(Site, site_id)
            if site is not None and site.signed_off_at is not None and not site.changed_after_signoff:
                site.changed_after_signoff = True
                site.seq = next_seq(session)  # phones pull the flag like any other site change
