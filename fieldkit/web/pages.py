"""Server-rendered pages for project managers, admins and clients."""
from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from .. import access, dates, inventory, items, notify, photos, signoff, sites, verdicts, wording
from ..db import db
from ..errors import FieldKitError
from ..models import Item, ItemEvent, User
from . import forms
from .auth import home_for
from .transactions import fresh

bp = Blueprint("pages", __name__)


# Every date and label on a page goes through these filters: dates.py spells dates out whatever the server's
# locale, wording.py holds the one table of verdict and status labels.
@bp.app_template_filter("day")
def day_filter(value, weekday: bool = True) -> str:
    """'2026-12-02' or a date -> 'Wed 2 Dec' (the year only when it is not this year; no 'Wed' without weekday)."""
    return dates.day(value, year=date.today().year, weekday=weekday)


@bp.app_template_filter("moment")
def moment_filter(value, seconds: bool = False, full: bool = False) -> str:
    """An ISO timestamp or a datetime (UTC) -> '23 Nov 13:55', '23 Nov 13:55:12' with seconds, or
    '23 Nov 2026, 13:55 UTC' in full."""
    if full:
        return dates.moment(value, seconds=seconds)
    return dates.moment(value, year=False, seconds=seconds, zone=False)


bp.add_app_template_filter(dates.first_upper, "first_upper")
bp.add_app_template_filter(wording.verdict_label, "verdict_label")
bp.add_app_template_filter(wording.status_label, "status_label")


@bp.before_request
@login_required
def require_login():
    """Every page needs a signed-in user; anonymous visitors go to the login form."""


@bp.get("/")
def home():
    return redirect(home_for(current_user))


@bp.get("/board")
def board():
    access.require_role(current_user, access.MANAGER_ROLES)
    return render_template("board.html", today=date.today(),
                           entries=sites.board(db.session, fresh(sites.load_for_board(db.session))))


@bp.get("/sites")
def sites_list():
    rows = sites.load_for_board(db.session, access.visible_sites(current_user))
    fresh(rows)
    return render_template("sites.html", sites=rows, today=date.today())


def in_our_calendar(form, field) -> None:
    if field.data and not dates.FIRST_DAY <= field.data <= dates.LAST_DAY:
        raise ValidationError(f"Choose a date between {dates.FIRST_DAY.year} and {dates.LAST_DAY.year}.")


class SiteForm(FlaskForm):
    name = StringField("Site name", validators=[DataRequired(), Length(max=200)])
    client = StringField("Client", validators=[DataRequired(), Length(max=200)])
    address = TextAreaField("Address", validators=[Length(max=500)])
    move_in = DateField("Move-in date", validators=[InputRequired(message="Enter the move-in date."), in_our_calendar],
                        render_kw={"min": dates.FIRST_DAY.isoformat(), "max": dates.LAST_DAY.isoformat()})
    template = SelectField("Checklist")
    rooms = TextAreaField("Rooms, one per line", validators=[Length(max=4000)])
    technicians = SelectMultipleField("Technicians", coerce=str)


@bp.route("/sites/new", methods=["GET", "POST"])
def new_site():
    access.require_role(current_user, access.MANAGER_ROLES)
    templates = current_app.extensions["templates"]
    form = SiteForm()
    form.template.choices = {t.key: t.title for t in templates.values()}
    if not form.is_submitted():
        form.template.data = "office-move" if "office-move" in templates else next(iter(templates))
    techs = db.session.execute(select(User).where(User.role == "tech").order_by(User.email)).scalars().all()
    form.technicians.choices = {t.email: f"{t.display_name} · {t.email}" for t in techs}
    if form.validate_on_submit():
        data = {"name": form.name.data, "client": form.client.data, "address": form.address.data or "",
                "move_in": form.move_in.data.isoformat(), "template": form.template.data,
                "rooms": (form.rooms.data or "").splitlines(), "technicians": form.technicians.data}
        try:
            site = sites.create_site(db.session, data, templates)
        except FieldKitError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(f"{site.name} is set up with {len(site.checklists[0].template['items'])} checklist lines.", "ok")
            return redirect(url_for("pages.site", site_id=site.id))
    status = 400 if request.method == "POST" else 200
    return render_template("site_new.html", form=form), status


@bp.get("/sites/<int:site_id>")
def site(site_id: int):
    """The site page. The view gathers every section (the stored verdict with each item's state, disputes,
    open work, evidence, inventory, sign-off); the templates only render what they are given."""
    row = access.site_for(db.session, current_user, site_id)
    fresh([row])
    items = db.session.execute(select(Item).where(Item.site_id == row.id).order_by(Item.position)).scalars().all()
    photo_counts, asset_counts = verdicts.item_counts(db.session, [row.id])
    truth = verdicts.item_states(row)
    states = {item.id: _item_state(row, item, photo_counts, asset_counts, truth.get(item.id)) for item in items}
    disputes = [item for item in items if item.disputed]
    history = {}
    if disputes and current_user.role in access.MANAGER_ROLES:
        for event in db.session.execute(select(ItemEvent).where(ItemEvent.item_id.in_([i.id for i in disputes]))
                                        .order_by(ItemEvent.id)).scalars():
            history.setdefault(event.item_id, []).append(event)
    categories: dict[str, list] = {}
    for item in items:
        categories.setdefault(item.category, []).append(item)
    # Open work is what readiness says is open: a passed item still short of its photos is not done.
    schedule = sorted((i for i in items if i.due and states[i.id]["open"]),
                      key=lambda i: (i.due, i.severity != "blocker", i.position))
    return render_template("site.html", site=row, readiness=row.readiness, categories=categories,
                           states=states, disputes=disputes, history=history, schedule=schedule,
                           today=date.today(), first_day=dates.FIRST_DAY, last_day=dates.LAST_DAY,
                           panel=_signoff_panel(row), **_inventory_section(row, items, truth))


def _item_state(site, item, photo_counts, asset_counts, truth: dict | None) -> dict:
    """What the checklist shows of an item: its photo and asset counts, and from the verdict whether it is
    open and short of photos (an item the verdict does not know is open)."""
    reasons = truth["reasons"] if truth else []
    return {"photos": photo_counts.get(item.id, 0),
            "assets": asset_counts.get((site.id, item.asset_kind, item.room), 0) if item.asset_kind else None,
            "open": truth["open"] if truth else True,
            "photos_missing": any(reason["kind"] == "photos_missing" for reason in reasons)}


def _inventory_section(site, items, truth: dict[int, dict]) -> dict:
    """What templates/site/_inventory.html shows: evidence still missing and the hardware, with the forms."""
    assets = inventory.site_assets(db.session, site)
    manage = current_user.role in access.MANAGER_ROLES
    return {
        "inventory": inventory.by_room(site, assets),
        "asset_total": len(assets),
        "asset_installed": sum(1 for a in assets if a.status in verdicts.INSTALLED),
        "lacking": photos.lacking_evidence(items, truth),
        "asset_form": forms.asset_form(site, items) if manage else None,
        "import_form": forms.ImportForm() if manage else None,
        "labels_form": forms.labels_form(assets) if current_user.role in access.FIELD_ROLES else None,
        "kind_name": inventory.kind_name,
    }


def _signoff_panel(site) -> dict:
    """What templates/site/_signoff.html shows: sign-off state, changes since, the status update and,
    for PMs, notification settings and deliveries."""
    latest = signoff.latest(db.session, site.id)
    changes, counts = signoff.changes_since(db.session, site, latest)
    base = current_app.config["BASE_URL"]
    update = notify.status_update(
        name=site.name, client=site.client.name, move_in=site.move_in, today=date.today(),
        readiness=site.readiness, signed_off_at=latest.created_at.date() if latest else None,
        changed_after_signoff=site.changed_after_signoff,
        signoff_url=base + url_for("signoff.page", site_id=site.id),
        handover_url=base + url_for("signoff.handover_pdf", site_id=site.id))
    manage = current_user.role in access.MANAGER_ROLES
    form = forms.WebhookForm(site_url=site.webhook_url or "", client_url=site.client.webhook_url or "") \
        if manage else None
    return {"latest": latest, "changes": changes, "counts": counts, "status_update": update, "manage": manage,
            "form": form, "deliveries": notify.deliveries_for(db.session, site.id) if manage else [],
            "max_attempts": notify.MAX_ATTEMPTS}


class DueForm(FlaskForm):
    due = DateField("New date", validators=[InputRequired(message="Choose a date."), in_our_calendar])
    rev = IntegerField(validators=[InputRequired()])


@bp.post("/sites/<int:site_id>/items/<int:item_id>/due")
def reschedule(site_id: int, item_id: int):
    """A PM records a vendor's booked date: the PM's own edit, kept in the item's history."""
    access.require_role(current_user, access.MANAGER_ROLES)
    access.site_for(db.session, current_user, site_id)
    form = DueForm()
    if not form.validate_on_submit():
        flash("Choose a valid date.", "error")
    else:
        try:
            items.reschedule(db.session, current_user, item_id, form.rev.data, form.due.data)
        except FieldKitError as exc:
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(f"Date moved to {dates.day(form.due.data, year=date.today().year)}. Readiness is updated.", "ok")
    return redirect(url_for("pages.site", site_id=site_id) + "#schedule")


class ResolveForm(FlaskForm):
    status = SelectField("Decision", choices={"pass": "Pass", "fail": "Fail", "todo": "To do", "na": "Not applicable"})
    note = TextAreaField("Note", validators=[Length(max=5000)])


@bp.post("/sites/<int:site_id>/items/<int:item_id>/resolve")
def resolve(site_id: int, item_id: int):
    form = ResolveForm()
    if not form.validate_on_submit():
        flash("Choose a decision.", "error")
    else:
        item = items.resolve_dispute(db.session, current_user, item_id, form.status.data, form.note.data or None)
        db.session.commit()
        flash(f"Dispute on “{item.title}” resolved as {item.status}.", "ok")
    return redirect(url_for("pages.site", site_id=site_id) + "#disputes")
