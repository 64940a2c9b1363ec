"""The forms of the site page, shared by the view that shows them (pages.site) and the views they post to."""
from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, NumberRange, Optional

from .. import inventory, notify, qr
from ..checklists import ASSET_KINDS
from ..models import ASSET_STATUSES, Asset, Item, Site


class AssetForm(FlaskForm):
    kind = SelectField("Kind", choices=[SelectChoice(k, inventory.kind_name(k)) for k in ASSET_KINDS])
    status = SelectField("Status", choices=[SelectChoice(s, s.capitalize()) for s in ASSET_STATUSES])
    room = SelectField("Room")
    make = StringField("Make", validators=[Length(max=120)])
    model = StringField("Model", validators=[Length(max=120)])
    serial = StringField("Serial number", validators=[Length(max=120)])
    mac = StringField("MAC address", validators=[Length(max=40)])
    tag = StringField("Tag", validators=[Length(max=40)])
    item_id = SelectField("Counts towards checklist item", validate_choice=False)  # checked by inventory.py


class ImportForm(FlaskForm):
    file = FileField("Delivery list (CSV)", validators=[FileRequired("Choose a CSV file.")])


class LabelsForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that only reads

    paper = SelectField("Label stock", choices=[SelectChoice(p.key, p.title) for p in qr.PAPERS.values()])
    skip = IntegerField("Labels already used on the first sheet", default=0,
                        validators=[Optional(), NumberRange(min=0, max=29)])
    assets = SelectMultipleField("Assets")


class WebhookForm(FlaskForm):
    site_url = StringField("Webhook URL for this site", validators=[Length(max=notify.URL_LIMIT)])
    client_url = StringField("Webhook URL for every site of this client", validators=[Length(max=notify.URL_LIMIT)])


def asset_form(site: Site, items: list[Item], asset: Asset | None = None) -> AssetForm:
    """The asset form with the site's rooms and the items that count assets; filled from `asset` on a GET."""
    form = AssetForm(obj=asset) if asset is not None and request.method == "GET" else AssetForm()
    form.room.choices = [SelectChoice("", "No room yet"), *(SelectChoice(room) for room in site.rooms)]
    form.item_id.choices = [SelectChoice("", "None")] + [
        SelectChoice(str(item.id), f"{item.title}{f' ({item.room})' if item.room else ''}")
        for item in items if item.asset_kind]
    if asset is not None and request.method == "GET":
        form.item_id.data = str(asset.item_id or "")
    return form


def labels_form(assets: list[Asset]) -> LabelsForm:
    form = LabelsForm(formdata=None)
    form.assets.choices = [SelectChoice(a.id, f"{a.tag} · {inventory.kind_name(a.kind)} · {a.room or 'no room'}")
                           for a in assets]
    return form
