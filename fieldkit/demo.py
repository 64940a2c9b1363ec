"""Demo data: one client with two sites at different stages, made through the same functions users reach."""
import uuid
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import accounts, sites, sync
from .checklists import Template
from .models import Client, Item, Site

PASSWORD = "fieldkit-demo"
CLIENT = "Harbour & Finch Accountants"
USERS = [
    ("admin@example.com", "admin", "Ada Admin"),
    ("pm@example.com", "pm", "Priya Patel"),
    ("tech@example.com", "tech", "Tom Okafor"),
    ("tech2@example.com", "tech", "Sam Reyes"),
    ("client@example.com", "client", "Helen Finch"),
]


def load(session: Session, templates: dict[str, Template], today: date | None = None) -> str:
    """Create the demo users and sites unless they exist (the caller commits); return the logins to print."""
    today = today or date.today()
    for email, role, name in USERS:
        if accounts.find_user(session, email) is None:
            accounts.create_user(session, email, role, PASSWORD, CLIENT if role == "client" else None, name)
    client = session.execute(select(Client).where(Client.name == CLIENT)).scalar_one()
    if not session.execute(select(Site.id).where(Site.client_id == client.id)).first():
        _sites(session, templates, today)
    logins = "\n".join(f"  {role:<6} {email:<20} {PASSWORD}" for email, role, _ in USERS)
    return f"FieldKit demo is ready on http://127.0.0.1:5000\nSign in as:\n{logins}"


def _sites(session: Session, templates: dict[str, Template], today: date) -> None:
    techs = ["tech@example.com", "tech2@example.com"]
    move = sites.create_site(session, {
        "name": "12 Quay Street (new office)", "client": CLIENT, "template": "office-move",
        "move_in": (today + timedelta(days=9)).isoformat(), "address": "12 Quay Street, Level 3",
        "rooms": ["Reception", "Open office", "Boardroom", "Comms room"], "technicians": techs,
    }, templates)
    server = sites.create_site(session, {
        "name": "Head office server replacement", "client": CLIENT, "template": "server-replacement",
        "move_in": (today + timedelta(days=30)).isoformat(), "address": "4 Dock Road",
        "rooms": ["Server room"], "technicians": techs[:1],
    }, templates)
    tech = accounts.find_user(session, techs[0])
    tech2 = accounts.find_user(session, techs[1])
    _work(session, tech, move, lambda item: item.due is not None and item.due <= move.move_in - timedelta(days=7))
    _work(session, tech, server, lambda item: item.due is not None and item.due <= today)
    _one_failed_and_one_disputed(session, tech, tech2, move)
    _hardware(session, tech, move)


def _work(session: Session, user, site: Site, done) -> None:
    """Mark the items that `done` picks as passed, with measurements that meet their thresholds."""
    items = session.execute(select(Item).where(Item.site_id == site.id).order_by(Item.position)).scalars()
    mutations = [_update(item, {"status": "pass", "measurements": _good(item), "note": "Checked on site."})
                 for item in items if done(item)]
    sync.apply_batch(session, user, {"device_id": "demo-phone", "mutations": mutations})


def _good(item: Item) -> dict:
    return {name: rule["min"] * 1.2 if "min" in rule and rule["min"] > 0 else rule.get("min", rule.get("max", 0))
            for name, rule in item.thresholds.items()}


def _update(item: Item, changes: dict) -> dict:
    return {"id": str(uuid.uuid4()), "type": "item.update", "item_id": item.id, "base_rev": item.rev,
            "set": changes}


def _one_failed_and_one_disputed(session: Session, tech, tech2, site: Site) -> None:
    todo = session.execute(select(Item).where(Item.site_id == site.id, Item.status == "todo")
                           .order_by(Item.position)).scalars().all()
    measured = next((item for item in todo if item.thresholds), None)
    if measured is not None:
        low = {n: (r["min"] - 10 if "min" in r else r["max"] + 3) for n, r in measured.thresholds.items()}
        sync.apply_batch(session, tech, {"device_id": "demo-phone", "mutations": [
            _update(measured, {"status": "pass", "measurements": low, "note": "Weak signal by the window."})]})
    contested = next((item for item in todo if item is not measured), None)
    if contested is not None:
        first, second = _update(contested, {"status": "pass"}), _update(contested, {"status": "fail",
                                                                                       "note": "Not working."})
        sync.apply_batch(session, tech, {"device_id": "demo-phone", "mutations": [first]})
        sync.apply_batch(session, tech2, {"device_id": "demo-tablet", "mutations": [second]})


HARDWARE = [  # kind, make, model, serial, MAC, room, status
    ("firewall", "Fortinet", "FortiGate 60F", "FGT60FTK2209A1B2", "70:4C:A5:12:34:56", "Comms room", "installed"),
    ("switch", "Cisco", "CBS350-24FP", "FOC2541L0QX", "00:1B:63:84:45:E6", "Comms room", "installed"),
    ("ups", "APC", "Smart-UPS SMT1500RMI2U", "AS2231123456", "", "Comms room", "verified"),
    ("router", "Draytek", "Vigor 2927Lac", "2927LAC0099", "00:1D:AA:0B:22:10", "Comms room", "received"),
    ("ap", "Ubiquiti", "U6-Pro", "FCECDA0A1B01", "F4:92:BF:0A:1B:01", "Reception", "installed"),
    ("ap", "Ubiquiti", "U6-Pro", "FCECDA0A1B02", "F4:92:BF:0A:1B:02", "Open office", "installed"),
    ("ap", "Ubiquiti", "U6-Pro", "FCECDA0A1B03", "F4:92:BF:0A:1B:03", "Boardroom", "received"),
    ("printer", "Brother", "MFC-L8900CDW", "E78123K0N123456", "3C:2A:F4:55:66:77", "Open office", "ordered"),
    ("display", "Samsung", "QM65C", "0CQ3HNAW500123", "", "Boardroom", "ordered"),
    ("badge-reader", "HID", "Signo 20", "HID-20-004512", "", "Reception", "received"),
]


def _hardware(session: Session, user, site: Site) -> None:
    """The delivered and installed kit of the office move, recorded as the field app records it."""
    mutations = [{"id": str(uuid.uuid4()), "type": "asset.upsert", "asset_id": str(uuid.uuid4()), "site_id": site.id,
                  "set": {"kind": kind, "make": make, "model": model, "serial": serial, "mac": mac, "room": room,
                          "status": status}}
                 for kind, make, model, serial, mac, room, status in HARDWARE]
    sync.apply_batch(session, user, {"device_id": "demo-phone", "mutations": mutations})
