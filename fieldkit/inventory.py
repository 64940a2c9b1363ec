"""Hardware inventory: assets on a site, the asset.upsert mutation, a supplier's CSV in and a CSV out."""
import csv
import io
import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import access, tags
from .checklists import ASSET_KINDS
from .errors import Conflict, NotFound, TooLarge, ValidationError
from .models import ASSET_STATUSES, Asset, AssetEvent, Item, Site, User, utcnow
from .verdicts import refresh

TEXT_LIMIT = 120
MAX_ASSETS_PER_SITE = 10_000  # a site's whole inventory travels in every phone's bundle: far past any office
SETTABLE = ("kind", "tag", "make", "model", "serial", "mac", "room", "status", "item_id")
FIELD_LABELS = {"kind": "Kind", "tag": "Tag", "make": "Make", "model": "Model", "serial": "Serial", "mac": "MAC",
                "room": "Room", "status": "Status", "item_id": "Checklist item"}
KIND_ALIASES = {"access-point": "ap", "wap": "ap", "wifi-ap": "ap", "badge": "badge-reader",
                "card-reader": "badge-reader", "desktop": "workstation", "pc": "workstation",
                "mfp": "printer", "monitor": "display", "tv": "display", "voip-phone": "phone"}
KIND_NAMES = {"ap": "Access point", "ups": "UPS", "nas": "NAS", "badge-reader": "Badge reader"}
MAC_SHAPES = (
    re.compile(r"^[0-9A-F]{1,2}([:-])(?:[0-9A-F]{1,2}\1){4}[0-9A-F]{1,2}$"),  # AA:BB:.. / aa-bb-.. / 0:1b:..
    re.compile(r"^[0-9A-F]{2}(?: [0-9A-F]{2}){5}$"),                          # AA BB CC DD EE FF
    re.compile(r"^[0-9A-F]{4}([.:-])[0-9A-F]{4}\1[0-9A-F]{4}$"),              # aabb.ccdd.eeff (Cisco)
    re.compile(r"^[0-9A-F]{6}-[0-9A-F]{6}$"),                                 # aabbcc-ddeeff
    re.compile(r"^[0-9A-F]{12}$"),                                            # aabbccddeeff
)


# --------------------------------------------------------------------------- field rules


def normalise_mac(value: str) -> str:
    """A MAC address in any common notation as AA:BB:CC:DD:EE:FF; '' for blank; ValidationError otherwise."""
    text = value.strip().upper()
    if not text:
        return ""
    if not any(shape.match(text) for shape in MAC_SHAPES):
        raise ValidationError(f"MAC address '{value.strip()[:40]}' is not 12 hexadecimal digits in a usual "
                              "notation such as AA:BB:CC:DD:EE:FF.", "bad_mac")
    groups = re.split(r"[:. -]", text)
    if len(groups) == 6:
        digits = "".join(group.rjust(2, "0") for group in groups)
    else:
        digits = "".join(groups)
    octets = [digits[i:i + 2] for i in range(0, 12, 2)]
    if digits in ("000000000000", "FFFFFFFFFFFF") or int(octets[0], 16) & 1:
        raise ValidationError(f"MAC address '{value.strip()[:40]}' is a broadcast, multicast or empty address, "
                              "not a device's own address.", "bad_mac")
    return ":".join(octets)


def kind_name(kind: str) -> str:
    """How people write a kind: 'ap' is an 'Access point', 'ups' a 'UPS'."""
    return KIND_NAMES.get(kind, kind.replace("-", " ").capitalize())


def normalise_kind(value) -> str:
    if not isinstance(value, str):
        raise ValidationError("'kind' must be text.", "bad_kind")
    kind = "-".join(value.strip().lower().replace("_", " ").split())
    kind = KIND_ALIASES.get(kind, kind)
    if kind not in ASSET_KINDS:
        raise ValidationError(f"Kind '{value.strip()[:40]}' is not one of {', '.join(ASSET_KINDS)}.", "bad_kind")
    return kind


def _status(value) -> str:
    status = value.strip().lower() if isinstance(value, str) else value
    if status not in ASSET_STATUSES:
        raise ValidationError(f"Status '{str(value)[:40]}' is not one of {' → '.join(ASSET_STATUSES)}.",
                              "bad_status")
    return status


def _room(site: Site, value) -> str:
    if not isinstance(value, str):
        raise ValidationError("'room' must be text.", "bad_room")
    wanted = " ".join(value.split()).casefold()
    if not wanted:
        return ""
    for room in site.rooms:
        if room.casefold() == wanted:
            return room
    raise ValidationError(f"Room '{value.strip()[:60]}' is not a room of this site "
                          f"({', '.join(site.rooms)}).", "bad_room")


def _text(name: str, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"'{name}' must be text.", "bad_type")
    value = " ".join(value.split())
    if len(value) > TEXT_LIMIT:
        raise ValidationError(f"'{name}' is longer than {TEXT_LIMIT} characters.", "too_long")
    return value


def _item_id(session: Session, site: Site, value) -> int | None:
    if value is None or value == "":
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError("'item_id' must be the id of a checklist item.", "bad_item_id")
    item = session.get(Item, value) if access.is_id(value) else None
    if item is None or item.site_id != site.id:
        raise ValidationError(f"Item {value} is not a checklist item of this site.", "bad_item_id")
    return value


def _tag(session: Session, value, asset_id: str | None) -> str:
    tag = tags.parse(value)
    holder = session.execute(select(Asset.id).where(Asset.tag == tag)).scalar_one_or_none()
    if holder is not None and holder != asset_id:
        raise Conflict(f"Tag {tag} is already on another asset.", "tag_taken")
    return tag


def clean_field(session: Session, site: Site, name: str, value, asset_id: str | None = None):
    """One settable field checked and normalised, or a ValidationError/Conflict naming the problem."""
    if name == "kind":
        return normalise_kind(value)
    if name == "tag":
        return _tag(session, value, asset_id)
    if name == "mac":
        if value is not None and not isinstance(value, str):
            raise ValidationError("'mac' must be text.", "bad_mac")
        return normalise_mac(value or "")
    if name == "room":
        return _room(site, "" if value is None else value)
    if name == "status":
        return _status(value)
    if name == "item_id":
        return _item_id(session, site, value)
    return _text(name, value)


def require_uuid(value, name: str) -> str:
    """The value if it is a UUID as text (as phones make them), else a ValidationError."""
    try:
        if isinstance(value, str) and len(value) == 36:
            uuid.UUID(value)
            return value
    except ValueError:
        pass
    raise ValidationError(f"'{name}' must be a UUID.", f"bad_{name}")


# --------------------------------------------------------------------------- writing assets


def upsert_asset(session: Session, user: User, site: Site, asset_id: str, changes: dict,
                 base_rev: int | None = None, device_id: str | None = None) -> tuple[Asset, str]:
    """Create or change one asset of `site`; returns (asset, "applied" | "conflict").

    The caller has checked that `user` may work on `site`. A new asset needs a kind and gets a fresh tag
    unless one is given. `base_rev` older than the asset's revision means someone else changed it since
    the device last saw it: the change still applies (last writer wins field by field) and is reported
    as a conflict, as item updates are. Every creation and every real change is kept in the asset's
    history (AssetEvent) with who, when and from which device.
    """
    unknown = set(changes) - set(SETTABLE)
    if unknown:
        raise ValidationError(f"Cannot set {', '.join(sorted(unknown))} on an asset.", "bad_set")
    asset = session.get(Asset, asset_id, with_for_update=True)
    if asset is not None and asset.site_id != site.id:
        raise ValidationError("This asset belongs to another site.", "wrong_site")
    values = {name: clean_field(session, site, name, value, asset_id) for name, value in changes.items()}
    if asset is None:
        if "kind" not in values:
            raise ValidationError("A new asset needs a 'kind'.", "missing_kind")
        count = session.scalar(select(func.count()).select_from(Asset).where(Asset.site_id == site.id))
        if count >= MAX_ASSETS_PER_SITE:
            raise TooLarge(f"A site holds at most {MAX_ASSETS_PER_SITE:,} assets; this one has {count:,}.",
                           "too_many_assets")
        values.setdefault("tag", tags.new_tag(session))
        asset = Asset(id=asset_id, site_id=site.id, rev=1, **{"status": "ordered", **values})
        session.add(asset)
        created = {name: [None, value] for name, value in {"status": "ordered", **values}.items() if value}
        session.add(AssetEvent(asset_id=asset_id, rev=1, base_rev=base_rev, kind="create", changes=created,
                               user_id=user.id, device_id=device_id))
        return asset, "applied"
    conflict = base_rev is not None and base_rev != asset.rev
    diff = {name: [getattr(asset, name), value] for name, value in values.items() if getattr(asset, name) != value}
    if diff:
        for name, (_, value) in diff.items():
            setattr(asset, name, value)
        asset.rev += 1
        asset.updated_at = utcnow()
        session.add(AssetEvent(asset_id=asset.id, rev=asset.rev, base_rev=base_rev,
                               kind="conflict" if conflict else "update", changes=diff, user_id=user.id,
                               device_id=device_id))
    return asset, "conflict" if conflict else "applied"


def asset_history(session: Session, asset: Asset, limit: int = 50) -> list[AssetEvent]:
    """The asset's latest changes, newest first."""
    return session.execute(select(AssetEvent).where(AssetEvent.asset_id == asset.id)
                           .order_by(AssetEvent.id.desc()).limit(limit)).scalars().all()


def apply_asset_upsert(session: Session, user: User, device_id: str, mutation: dict) -> tuple[str, int]:
    """A sync's asset.upsert: {"asset_id","site_id","base_rev"?,"set":{...}} → (status, site id)."""
    asset_id = require_uuid(mutation.get("asset_id"), "asset_id")
    site_id, changes, base_rev = mutation.get("site_id"), mutation.get("set"), mutation.get("base_rev")
    if not access.is_id(site_id):
        raise ValidationError("'site_id' must be a site's id.", "bad_site_id")
    if not isinstance(changes, dict) or not changes:
        raise ValidationError("'set' must name what to change.", "bad_set")
    if base_rev is not None and not access.is_rev(base_rev):
        raise ValidationError("'base_rev' must be the asset's revision the change was made on.", "bad_base_rev")
    site = access.field_site_for(session, user, site_id)
    _, status = upsert_asset(session, user, site, asset_id, changes, base_rev, device_id)
    return status, site.id


# --------------------------------------------------------------------------- reading assets


def find_by_tag(session: Session, user: User, typed: str) -> Asset:
    """The asset a typed or scanned tag names, if the user may see its site; NotFound says why not."""
    try:
        tag = tags.parse(typed)
    except ValidationError as exc:
        raise NotFound(exc.message, exc.code) from None
    missing = f"No asset has the tag {tag}."
    asset = session.execute(select(Asset).where(Asset.tag == tag)).scalar_one_or_none()
    if asset is None:
        raise NotFound(missing)
    access.site_for(session, user, asset.site_id, missing)
    return asset


def site_assets(session: Session, site: Site, ids: list[str] | None = None) -> list[Asset]:
    """The site's assets in the site's room order, then kind and tag; only `ids` when given."""
    query = select(Asset).where(Asset.site_id == site.id)
    if ids is not None:
        query = query.where(Asset.id.in_(ids))
    order = {room: n for n, room in enumerate(site.rooms)}
    rows = session.execute(query).scalars().all()
    return sorted(rows, key=lambda a: (order.get(a.room, len(order)), a.kind, a.tag))


def by_room(site: Site, assets: list[Asset]) -> list[tuple[str, list[Asset]]]:
    """[(room, assets)] in the site's room order; assets without a room come last as 'No room yet'."""
    groups: dict[str, list[Asset]] = {}
    for asset in assets:
        groups.setdefault(asset.room or "", []).append(asset)
    ordered = [room for room in site.rooms if room in groups] + [r for r in groups if r not in site.rooms]
    return [(room or "No room yet", groups[room]) for room in ordered]


# --------------------------------------------------------------------------- CSV in and out

MiB = 1024 * 1024
MAX_CSV_BYTES = 2 * MiB
MAX_CSV_ROWS = 5000
MAX_CSV_COLUMNS = 200
CSV_CELL_LIMIT = csv.field_size_limit()  # the csv module's longest cell (128 Ki characters)
CSV_COLUMNS = ("kind", "make", "model", "serial", "mac", "room", "status", "tag")
COLUMN_ALIASES = {"type": "kind", "asset type": "kind", "device type": "kind", "manufacturer": "make",
                  "vendor": "make", "brand": "make", "model number": "model", "serial number": "serial",
                  "serial no": "serial", "s/n": "serial", "sn": "serial", "mac address": "mac",
                  "location": "room", "area": "room", "state": "status", "asset tag": "tag", "qr tag": "tag"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A spreadsheet may start a cell at the text's start or after any separator or line break (when it splits
# with another separator than ours, or ignores quotes); spaces, quotes or apostrophes before a formula
# character still make a formula. One apostrophe goes in at each such place, and one comes out on import.
CELL_START = r"(?:^|(?<=[,;\t\r\n]))"
FORMULA_AHEAD = "(?=[ \"']*[" + re.escape("".join(FORMULA_START)) + "])"
ESCAPE = re.compile(CELL_START + FORMULA_AHEAD)
UNESCAPE = re.compile(CELL_START + "'" + FORMULA_AHEAD)
EXPORT_COLUMNS = ("tag", "kind", "make", "model", "serial", "mac", "room", "status", "item", "url")


@dataclass
class RowResult:
    """What became of one data row: created, updated or rejected with its problems."""

    row: int
    status: str
    tag: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: list[RowResult]
    ignored_columns: list[str]

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    def as_json(self) -> dict:
        return {"created": self.count("created"), "updated": self.count("updated"),
                "rejected": self.count("rejected"), "ignored_columns": self.ignored_columns,
                "rows": [row.__dict__ for row in self.rows]}


def import_csv(session: Session, user: User, site: Site, raw: bytes) -> ImportReport:
    """Import a supplier's delivery list: good rows become (or update) assets, bad ones are reported.

    A row whose tag, or else whose serial, matches an asset of the site updates it, so importing the
    same list twice changes nothing. Blank cells never erase what is stored. The caller commits.
    """
    access.require_role(user, access.MANAGER_ROLES)
    if len(raw) > MAX_CSV_BYTES:
        raise TooLarge(f"The CSV file is larger than {MAX_CSV_BYTES // MiB} MiB; split it into smaller files.")
    if b"\x00" in raw:  # a spreadsheet's own format, or "Unicode text" (UTF-16), not a CSV file
        raise ValidationError("This file is not a CSV text file. In Excel, use Save As and choose "
                              "'CSV UTF-8 (comma delimited)', then import that file.", "not_csv")
    columns, ignored, data = _read(_decode(raw))
    existing = {a.tag: a for a in session.execute(select(Asset).where(Asset.site_id == site.id)).scalars()}
    by_serial = {(a.serial.casefold()): a for a in existing.values() if a.serial}
    seen_tags: dict[str, int] = {}
    seen_serials: dict[str, int] = {}
    results = []
    for number, cells in data:
        result = _import_row(session, user, site, number, cells, columns, existing, by_serial,
                             seen_tags, seen_serials)
        results.append(result)
    refresh(session, [site])
    return ImportReport(rows=results, ignored_columns=ignored)


def _read(text: str) -> tuple[dict[str, int], list[str], list[tuple[int, list[str]]]]:
    """The header's columns, the titles ignored, and the numbered data rows (blank ones skipped).

    A file that cannot be read whole is refused, saying why and on which row."""
    # newline="" lets csv see every line ending (CR alone, from classic Mac Excel, too) and quoted line breaks
    reader = csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=_delimiter(text))
    columns, ignored, data, number = None, [], [], 0
    try:
        for number, cells in enumerate(reader, 1):
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                columns, ignored = _columns(cells)
            elif len(data) == MAX_CSV_ROWS:
                raise TooLarge(f"The CSV file has more than {MAX_CSV_ROWS} rows; import at most {MAX_CSV_ROWS} "
                               "rows at a time.")
            else:
                data.append((number, cells))
    except csv.Error:  # with this dialect on text without NUL, only a cell over the csv module's limit
        raise ValidationError(
            f"Row {number + 1} of the CSV file cannot be read: a cell is longer than {CSV_CELL_LIMIT:,} "
            f"characters, often because a quote (\") is never closed. FieldKit's fields hold at most "
            f"{TEXT_LIMIT} characters.", "bad_csv") from None
    if columns is None:
        raise ValidationError("The CSV file is empty.", "empty_csv")
    if not data:
        raise ValidationError("The CSV file has only the header row; add one row per device below it.",
                              "empty_csv")
    return columns, ignored, data


def _decode(raw: bytes) -> str:
    # Excel on Windows still saves "CSV" as cp1252 unless told otherwise.
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.removeprefix(b"\xef\xbb\xbf").decode("cp1252", errors="replace")  # a BOM is not text


def _delimiter(text: str) -> str:
    """The delimiter the header row uses: ',' or, as many European locales save, ';' (or a tab)."""
    header = next((line for line in text[:4096].splitlines() if line.strip()), "")
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t").delimiter
    except csv.Error:  # one column: nothing to tell by
        return ","


def _columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    if len(header) > MAX_CSV_COLUMNS:
        raise ValidationError(f"The first row has {len(header)} columns; FieldKit reads at most {MAX_CSV_COLUMNS} "
                              f"(and uses these: {', '.join(CSV_COLUMNS)}).", "too_many_columns")
    columns, ignored = {}, []
    for index, title in enumerate(header):
        title = title.replace("\ufeff", "")  # a byte order mark left inside by joined files
        name = " ".join(title.strip().lower().replace("_", " ").split())
        name = COLUMN_ALIASES.get(name, name)
        if name in CSV_COLUMNS and name not in columns:
            columns[name] = index
        elif title.strip():
            ignored.append(title.strip())
    if "kind" not in columns:
        raise ValidationError("The first row must name the columns, and one of them must be 'kind' "
                              f"(columns FieldKit reads: {', '.join(CSV_COLUMNS)}).", "missing_kind_column")
    return columns, ignored


def _import_row(session, user, site, number, cells, columns, existing, by_serial, seen_tags,
                seen_serials) -> RowResult:
    given = {name: _unescape(cells[index].strip()) for name, index in columns.items()
             if index < len(cells) and cells[index].strip()}
    problems = []
    if len(cells) > len(columns) + 20:
        problems.append(f"has {len(cells)} cells, far more than the header names")
    target = None
    if "tag" in given:
        try:
            tag = tags.parse(given["tag"])
        except ValidationError as exc:
            problems.append(exc.message)
        else:
            target = existing.get(tag)
            if tag in seen_tags:
                problems.append(f"tag {tag} is also on row {seen_tags[tag]}")
            seen_tags.setdefault(tag, number)
    serial = given.get("serial", "").casefold()
    if serial:
        if serial in seen_serials:
            problems.append(f"serial {given['serial']} is also on row {seen_serials[serial]}")
        seen_serials.setdefault(serial, number)
        target = target or by_serial.get(serial)
    values = {}
    for name, value in given.items():
        try:
            values[name] = clean_field(session, site, name, value, target.id if target else None)
        except (ValidationError, Conflict) as exc:
            problems.append(exc.message)
    if target is None and "kind" not in given:
        problems.append("kind is empty")
    if problems:
        return RowResult(row=number, status="rejected", tag=given.get("tag"), problems=problems)
    asset, _ = upsert_asset(session, user, site, target.id if target else str(uuid.uuid4()), values,
                            device_id="csv import")
    session.flush()
    existing[asset.tag] = asset
    if asset.serial:
        by_serial[asset.serial.casefold()] = asset
    return RowResult(row=number, status="updated" if target else "created", tag=asset.tag)


def _unescape(cell: str) -> str:
    """Undo the apostrophes our own export puts before formula-like text, so an export imports back."""
    return UNESCAPE.sub("", cell)


def safe_cell(value) -> str:
    """A CSV cell no spreadsheet reads as a formula, whatever separator it splits with (see ESCAPE)."""
    return ESCAPE.sub("'", "" if value is None else str(value))


def export_csv(session: Session, site: Site, base_url: str) -> str:
    """The site's inventory as CSV (the import columns plus the linked item and the label URL)."""
    assets = site_assets(session, site)
    item_ids = {a.item_id for a in assets if a.item_id}
    titles = dict(session.execute(select(Item.id, Item.title).where(Item.id.in_(item_ids))).all()) if item_ids else {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)  # a quoted cell is one cell
    writer.writerow(EXPORT_COLUMNS)
    for a in assets:
        writer.writerow([safe_cell(v) for v in (a.tag, a.kind, a.make, a.model, a.serial, a.mac, a.room,
                                                 a.status, titles.get(a.item_id, ""), f"{base_url}/t/{a.tag}")])
    return out.getvalue()
