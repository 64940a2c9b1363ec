"""Sites: create one from a template, and the board that lists them by risk."""
from datetime import date

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, defer, selectinload

from .accounts import find_user, get_or_create_client
from .checklists import Template, expand
from .dates import parse_date
from .errors import ValidationError
from .models import Checklist, DeviceSync, Item, Site, User
from .verdicts import refresh

MAX_ROOMS = 60


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
    for room in (" ".join(r.split())[:120] for r in value):
        if room and room.casefold() not in {r.casefold() for r in rooms}:
            rooms.append(room)
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


def load_for_board(session: Session, query: Select | None = None) -> list[Site]:
    """The sites of `query` (every site without one) with what the board shows, in a fixed number of queries."""
    return session.execute(
        (select(Site) if query is None else query).options(selectinload(Site.client),
                      selectinload(Site.checklists).options(defer(Checklist.template)))
        .order_by(Site.move_in, Site.id)
    ).scalars().unique().all()


RISK_ORDER = {"NO_GO": 0, "AT_RISK": 1, "GO": 2}


def board(session: Session, rows: list[Site], today: date | None = None) -> list[dict]:
    """These sites (from `load_for_board`) by risk (NO_GO first, then nearest move-in) with what a PM scans
    for, in one more query."""
    today = today or date.today()
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
