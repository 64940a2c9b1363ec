"""Stored verdicts: gather a site's readiness facts from the database, assess them, and keep the summary.

Every write that can change a verdict (a sync, an upload, an asset, a dispute decision, a sign-off) calls
`refresh` in its own transaction, so the board and the API read a stored verdict that is never older than
the data. Dates move on by themselves, so `stale` tells which stored verdicts were made on an earlier day.
"""
from collections import Counter as Tally
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, selectinload

from . import notify, readiness
from .models import Asset, Checklist, Item, Photo, Site, utcnow

INSTALLED = ("installed", "verified")


def item_counts(session: Session, site_ids: list[int]) -> tuple[Tally, Tally]:
    """Photos per item and installed assets per (site, kind, room), for many sites in two queries."""
    photos = Tally(dict(session.execute(
        select(Photo.item_id, func.count()).where(Photo.site_id.in_(site_ids), Photo.item_id.is_not(None))
        .group_by(Photo.item_id)).all()))
    assets = Tally()
    rows = session.execute(
        select(Asset.site_id, Asset.kind, Asset.room, func.count())
        .where(Asset.site_id.in_(site_ids), Asset.status.in_(INSTALLED))
        .group_by(Asset.site_id, Asset.kind, Asset.room)).all()
    for site_id, kind, room, count in rows:
        assets[(site_id, kind, None)] += count
        assets[(site_id, kind, room)] += count
    return photos, assets


FACT_COLUMNS = (Item.id, Item.site_id, Item.title, Item.room, Item.category, Item.severity, Item.status, Item.note,
                Item.measurements, Item.thresholds, Item.photos_required, Item.depends_on, Item.due, Item.disputed,
                Item.client_text, Item.assets_required, Item.asset_kind, Item.updated_at)


def facts(site: Site, items: list, photos: Tally, assets: Tally, today: date) -> tuple:
    """The readiness engine's inputs for one site, from its items (Item rows, or rows of FACT_COLUMNS)."""
    checklist = site.checklists[0] if site.checklists else None
    last = max((item.updated_at for item in items), default=None)
    site_facts = readiness.SiteFacts(
        move_in=site.move_in, today=today, last_evidence=last.date() if last else None,
        threshold=checklist.threshold if checklist else 90,
        weights=dict(checklist.weights) if checklist and checklist.weights else dict(readiness.SEVERITY_WEIGHTS),
    )
    item_facts = [
        readiness.ItemFacts(
            id=item.id, title=item.title if not item.room else f"{item.title} ({item.room})",
            category=item.category, severity=item.severity, status=item.status, note=item.note,
            measurements=dict(item.measurements), thresholds=dict(item.thresholds),
            photos_required=item.photos_required, photos=photos.get(item.id, 0),
            depends_on=tuple(item.depends_on), due=item.due, room=item.room, disputed=item.disputed,
            client_text=item.client_text, assets_required=item.assets_required,
            assets=assets.get((site.id, item.asset_kind, item.room), 0) if item.asset_kind else 0,
        )
        for item in items
    ]
    return site_facts, item_facts


def refresh(session: Session, sites: list[Site], today: date | None = None) -> dict[int, readiness.Verdict]:
    """Recompute and store the readiness summary of these sites in a fixed number of queries."""
    if not sites:
        return {}
    today = today or date.today()
    ids = [site.id for site in sites]
    session.flush()
    by_site: dict[int, list] = {site_id: [] for site_id in ids}
    # Plain rows of the columns the rules read: building 2,000 tracked Item objects would cost more than the rules.
    for item in session.execute(select(*FACT_COLUMNS).where(Item.site_id.in_(ids)).order_by(Item.position)):
        by_site[item.site_id].append(item)
    photos, assets = item_counts(session, ids)
    # The rules read each checklist's threshold and weights, never its frozen template (large, and read on its own).
    session.execute(select(Site).where(Site.id.in_(ids)).options(
        selectinload(Site.checklists).options(defer(Checklist.template)))).all()
    verdicts = {}
    for site in sites:
        verdict = readiness.assess(*facts(site, by_site[site.id], photos, assets, today))
        verdicts[site.id] = verdict
        previous = site.readiness if site.readiness_at is not None else None
        store(site, verdict)
        notify.after_refresh(session, site, previous, verdict)  # webhooks, sent later off the request path
    return verdicts


def store(site: Site, verdict: readiness.Verdict) -> None:
    """Keep the summary columns the board reads; the full explanation stays in `readiness`."""
    site.status = verdict.status
    site.score = verdict.score
    site.blocker_count = len(verdict.blockers)
    site.disputed_count = verdict.disputed
    site.overdue_count = verdict.overdue
    site.readiness = verdict_json(verdict)
    site.readiness_at = utcnow()


def verdict_json(verdict: readiness.Verdict) -> dict:
    """API.md's readiness answer, plus the reasons, the forecast and each item's state (by id, as text)."""
    return {
        "status": verdict.status,
        "score": verdict.score,
        "blockers": verdict.blockers,
        "categories": verdict.categories,
        "summary": verdict.summary,
        "reasons": verdict.reasons,
        "headline": readiness.headline(verdict),
        "forecast": verdict.forecast,
        "disputed": verdict.disputed,
        "overdue": verdict.overdue,
        "failed_blockers": notify.failed_blockers(verdict),
        "items": {str(item_id): state.as_json() for item_id, state in verdict.items.items()},
    }


def item_states(site: Site) -> dict[int, dict]:
    """Each item's state in the site's stored verdict (ItemState.as_json), by item id."""
    return {int(item_id): state for item_id, state in site.readiness.get("items", {}).items()}


def stale(sites: list[Site], today: date | None = None) -> list[Site]:
    """The sites whose stored verdict was made on an earlier day (dates have moved on since), never, or
    before verdicts kept each item's state."""
    today = today or date.today()
    return [site for site in sites
            if site.readiness_at is None or site.readiness_at.date() < today or "items" not in site.readiness]


def refresh_stale(session: Session, sites: list[Site], today: date | None = None) -> None:
    """Store today's verdict of the stale sites among `sites` (an item becomes overdue overnight).

    The stale sites are read again under the lock: two readers at the same moment refresh (and notify) once.
    """
    today = today or date.today()
    ids = [site.id for site in stale(sites, today)]
    if not ids:
        return
    rows = session.execute(select(Site).where(Site.id.in_(ids)).order_by(Site.id).with_for_update()
                           .execution_options(populate_existing=True)).scalars().all()
    refresh(session, stale(rows, today), today)
