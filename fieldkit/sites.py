"""Sites: create one from a template, keep its readiness summary fresh, and bundle it for a phone."""
from collections import Counter as Tally
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, selectinload

from . import notify, readiness
from .accounts import find_user, get_or_create_client
from .checklists import Template, expand
from .db import write_transaction
from .errors import ValidationError
from .models import Asset, Checklist, Item, Photo, Site, User, utcnow
from .payloads import asset_json, item_json, photo_json, site_json

MAX_ROOMS = 60
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # of a move-in or a due date
INSTALLED = ("installed", "verified")


def parse_date(value, field: str) -> date:
    """A YYYY-MM-DD string as a date, or a ValidationError that says what was wrong."""
    if not isinstance(value, str):
        raise ValidationError(f"'{field}' must be a date written YYYY-MM-DD.", "bad_date")
    try:
        parsed = date.fromisoformat(value) if len(value) == 10 else _raise()
    except ValueError:
        raise ValidationError(f"'{field}' must be a date written YYYY-MM-DD, not '{value[:40]}'.",
                              "bad_date") from None
    if not FIRST_DAY <= parsed <= LAST_DAY:  # a typo such as 9999, and due dates past the calendar's end
        raise ValidationError(f"'{field}' must be a date between {FIRST_DAY.year} and {LAST_DAY.year}, not "
                              f"{value}.", "bad_date")
    return parsed


def _raise():
    raise ValueError


def create_site(session: Session, data: dict, templates: dict[str, Template]) -> Site:
    """Create a site from API.md's POST /api/sites body and apply its checklist template."""
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.", "bad_body")
    name = _text(data, "name", required=True, limit=200)
    client_name = _text(data, "client", required=True, limit=200)
    move_in = parse_date(data.get("move_in"), "move_in")
    key = data.get("template")
    if not isinstance(key, str) or key not in templates:
        known = ", ".join(sorted(templates))
        raise ValidationError(f"Unknown template '{key}'. Known templates: {known}.", "unknown_template")
    rooms = _rooms(data.get("rooms", []))
    address = _text(data, "address", limit=500)
    technicians = _technicians(session, data.get("technicians", []))
    site = Site(name=name, client=get_or_create_client(session, client_name), move_in=move_in,
                rooms=rooms, address=address, technicians=technicians)
    session.add(site)
    session.flush()
    apply_template(session, site, templates[key])
    refresh(session, [site])
    return site


def apply_template(session: Session, site: Site, template: Template) -> Checklist:
    """Freeze the template on the site and create its items, per-room ones once per room."""
    checklist = Checklist(site=site, template_key=template.key, template_version=template.version,
                          title=template.title, threshold=template.threshold, weights=dict(template.weights),
                          template=template.as_dict())
    session.add(checklist)
    session.flush()
    planned = expand(template, site.rooms, site.move_in)
    items = {}
    for position, plan in enumerate(planned):
        spec = plan.spec
        items[(spec.key, plan.room)] = Item(
            site_id=site.id, checklist_id=checklist.id, key=spec.key, room=plan.room, position=position,
            title=spec.title, guidance=spec.guidance, client_text=spec.client_text, category=spec.category,
            severity=spec.severity, photos_required=spec.photos, thresholds=dict(spec.thresholds),
            asset_kind=spec.asset_kind, assets_required=spec.assets, due=plan.due,
        )
    session.add_all(items.values())
    session.flush()
    for plan in planned:
        items[(plan.spec.key, plan.room)].depends_on = [items[ref].id for ref in plan.depends_on]
    session.flush()
    return checklist


def _text(data: dict, field: str, required: bool = False, limit: int = 200) -> str:
    value = data.get(field, "")
    if value is None and not required:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"'{field}' must be text.", "bad_type")
    value = value.strip()
    if required and not value:
        raise ValidationError(f"'{field}' is required.", "missing_field")
    if len(value) > limit:
        raise ValidationError(f"'{field}' is longer than {limit} characters.", "too_long")
    return value


def _rooms(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(room, str) for room in value):
        raise ValidationError("'rooms' must be a list of room names.", "bad_type")
    rooms = []
    for room in (" ".join(r.split()) for r in value):
        if room and room.casefold() not in {r.casefold() for r in rooms}:
            rooms.append(room[:120])
    if len(rooms) > MAX_ROOMS:
        raise ValidationError(f"A site can have at most {MAX_ROOMS} rooms.", "too_many_rooms")
    return rooms or ["Whole office"]


def _technicians(session: Session, emails) -> list[User]:
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise ValidationError("'technicians' must be a list of email addresses.", "bad_type")
    techs = []
    for email in emails:
        user = find_user(session, email)
        if user is None or user.role != "tech":
            raise ValidationError(f"{email} is not a technician's login.", "unknown_technician")
        if user not in techs:
            techs.append(user)
    return techs


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


def facts(site: Site, items: list[Item], photos: Tally, assets: Tally, today: date) -> tuple:
    """The readiness engine's inputs for one site."""
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
    by_site: dict[int, list[Item]] = {site_id: [] for site_id in ids}
    for item in session.execute(select(Item).where(Item.site_id.in_(ids)).order_by(Item.position)).scalars():
        by_site[item.site_id].append(item)
    photos, assets = item_counts(session, ids)
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
    """API.md's readiness answer, plus the reasons and forecast."""
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
    }


def refresh_if_stale(session: Session, sites: list[Site]) -> None:
    """Dates move on by themselves (an item becomes overdue overnight): store fresh summaries of the sites
    last refreshed on an earlier day, so the answer shows today's verdict and its webhooks go out.

    Reads call this, so it writes in a short transaction of its own (a GET must not turn into a write). The
    stale sites are read again under the lock: two readers at the same moment refresh (and notify) once.
    """
    today = date.today()
    stale = [site.id for site in sites if _stale(site, today)]
    if not stale:
        return
    with write_transaction(session):
        rows = session.execute(select(Site).where(Site.id.in_(stale)).order_by(Site.id).with_for_update()
                               .execution_options(populate_existing=True)).scalars().all()
        refresh(session, [site for site in rows if _stale(site, today)], today)


def _stale(site: Site, today: date) -> bool:
    return site.readiness_at is None or site.readiness_at.date() < today


def bundle(session: Session, site: Site) -> dict:
    """All a phone needs to work on the site offline, with the cursor to pull changes from."""
    from .sync import current_cursor

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


def load_for_board(session: Session, query) -> list[Site]:
    """Sites with what the board shows, loaded in a fixed number of queries."""
    return session.execute(
        query.options(selectinload(Site.client),
                      selectinload(Site.checklists).options(defer(Checklist.template)))
        .order_by(Site.move_in, Site.id)
    ).scalars().unique().all()


RISK_ORDER = {"NO_GO": 0, "AT_RISK": 1, "GO": 2}


def board(session: Session, today: date | None = None) -> list[dict]:
    """Every site by risk (NO_GO first, then nearest move-in) with what a PM scans for; three queries."""
    from .models import DeviceSync

    today = today or date.today()
    rows = load_for_board(session, select(Site))
    refresh_if_stale(session, rows)
    last_sync: dict[int, dict[str, str]] = {}
    for site_id, email, at in session.execute(
        select(DeviceSync.site_id, User.email, func.max(DeviceSync.at))
        .join(User, User.id == DeviceSync.user_id).group_by(DeviceSync.site_id, User.email)
    ).all():
        last_sync.setdefault(site_id, {})[email] = at.isoformat()
    entries = [
        {
            "site_id": site.id, "name": site.name, "client": site.client.name,
            "move_in": site.move_in.isoformat(), "days_to_move_in": (site.move_in - today).days,
            "status": site.status, "score": site.score, "blockers": site.blocker_count,
            "disputed": site.disputed_count, "overdue": site.overdue_count,
            "last_sync": last_sync.get(site.id, {}),
            "top_reason": site.readiness.get("headline", ""),
            "signed_off": site.signed_off_at is not None, "changed_after_signoff": site.changed_after_signoff,
        }
        for site in rows
    ]
    entries.sort(key=lambda e: (RISK_ORDER.get(e["status"], 0), e["days_to_move_in"], e["name"]))
    return entries
