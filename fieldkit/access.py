"""Who may see and work on which site: one place for every role and client check."""
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from .errors import Forbidden, NotFound
from .models import Site, User, site_technician

MAX_ID = 2**31 - 1  # integer primary keys are 32-bit on PostgreSQL: a larger id names nothing
FIELD_ROLES = ("tech", "pm", "admin")
MANAGER_ROLES = ("pm", "admin")


def visible_sites(user: User) -> Select:
    """A select of the sites the user may see."""
    query = select(Site)
    if user.role == "tech":
        query = query.join(site_technician, site_technician.c.site_id == Site.id).where(
            site_technician.c.user_id == user.id)
    elif user.role == "client":
        query = query.where(Site.client_id == user.client_id)
    elif user.role not in MANAGER_ROLES:
        query = query.where(False)
    return query


def may_see(user: User, site: Site) -> bool:
    if user.role in MANAGER_ROLES:
        return True
    if user.role == "client":
        return site.client_id == user.client_id
    if user.role == "tech":
        return any(tech.id == user.id for tech in site.technicians)
    return False


def is_id(value) -> bool:
    """Whether a JSON value can be a row's id: a whole number (not a bool) within the 32-bit columns."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def is_rev(value) -> bool:
    """Whether a JSON value can be a revision a device saw: a whole number from 0 within the 32-bit columns."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


def site_for(session: Session, user: User, site_id: int, missing: str | None = None) -> Site:
    """The site if the user may see it; another client's or unassigned site is NotFound (404).

    Reached through something on the site (an item, a tag, a photo), pass `missing`: the message for that
    thing not existing, so a hidden site answers exactly as a thing that never was and names no site.
    """
    site = session.get(Site, site_id) if 0 < site_id <= MAX_ID else None
    if site is None or not may_see(user, site):
        raise NotFound(missing or f"There is no site {site_id}.")
    return site


def field_site_for(session: Session, user: User, site_id: int, missing: str | None = None) -> Site:
    """The site if the user may do field work on it (technicians, PMs, admins)."""
    site = site_for(session, user, site_id, missing)
    require_role(user, FIELD_ROLES)
    return site


def require_role(user: User, roles: tuple[str, ...]) -> None:
    if user.role not in roles:
        raise Forbidden("Your role does not allow this.")
