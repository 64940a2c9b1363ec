"""The JSON shapes of API.md, made from rows in one place."""
from .models import Asset, Item, Photo, Site


def site_json(site: Site) -> dict:
    return {
        "id": site.id,
        "name": site.name,
        "client": site.client.name,
        "address": site.address,
        "move_in": site.move_in.isoformat(),
        "rooms": list(site.rooms),
        "technicians": [tech.email for tech in site.technicians],
        "checklists": [
            {"id": c.id, "template": c.template_key, "version": c.template_version, "title": c.title}
            for c in site.checklists
        ],
        "status": site.status,
        "score": site.score,
        "blockers": site.blocker_count,
        "disputed": site.disputed_count,
        "summary": site.readiness.get("summary", ""),
        "signed_off_at": site.signed_off_at.isoformat() if site.signed_off_at else None,
        "changed_after_signoff": site.changed_after_signoff,
        "seq": site.seq,
    }


def item_json(item: Item, photos: int | None = None, assets: int | None = None, state: dict | None = None) -> dict:
    """An item; in a bundle also its photo and asset counts and, from `state` (its entry in the stored verdict),
    API.md's "state" word and "reasons" sentences."""
    data = {
        "id": item.id,
        "site_id": item.site_id,
        "key": item.key,
        "title": item.title,
        "guidance": item.guidance,
        "category": item.category,
        "severity": item.severity,
        "status": item.status,
        "note": item.note,
        "measurements": dict(item.measurements),
        "thresholds": dict(item.thresholds),
        "photos_required": item.photos_required,
        "depends_on": list(item.depends_on),
        "due": item.due.isoformat() if item.due else None,
        "room": item.room,
        "rev": item.rev,
        "disputed": item.disputed,
        "asset_kind": item.asset_kind,
        "assets_required": item.assets_required,
        "position": item.position,
        "updated_at": item.updated_at.isoformat(),
    }
    if photos is not None:
        data["photos"] = photos
    if assets is not None:
        data["assets"] = assets
    if state is not None:
        data["state"] = state_word(state)
        data["reasons"] = [reason["text"] for reason in state["reasons"]]
    return data


def state_word(state: dict) -> str:
    """ready, not_ready, failed, disputed or na, for an item's state as the stored verdict keeps it."""
    if not state["applicable"]:
        return "na"
    if any(reason["kind"] == "disputed" for reason in state["reasons"]):
        return "disputed"
    return "failed" if state["failed"] else "ready" if state["ready"] else "not_ready"


def asset_json(asset: Asset) -> dict:
    return {
        "id": asset.id, "site_id": asset.site_id, "tag": asset.tag, "kind": asset.kind, "make": asset.make,
        "model": asset.model, "serial": asset.serial, "mac": asset.mac, "room": asset.room,
        "status": asset.status, "item_id": asset.item_id, "rev": asset.rev,
    }


def photo_json(photo: Photo) -> dict:
    return {
        "id": photo.id, "site_id": photo.site_id, "item_id": photo.item_id, "asset_id": photo.asset_id,
        "sha256": photo.sha256, "width": photo.width, "height": photo.height,
        "captured_at": photo.captured_at.isoformat() if photo.captured_at else None,
        "url": f"/api/photos/{photo.id}", "thumb_url": f"/api/photos/{photo.id}/thumb",
    }
