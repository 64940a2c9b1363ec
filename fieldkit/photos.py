"""Photo evidence: sniff, limit, orient, strip, thumbnail, store content-addressed, link to QR-tagged assets.

Uploads arrive as a file object (a temporary file for anything over half a megabyte). The image is
decoded once; what is stored and served is re-encoded without any metadata, and capture time and
GPS position are kept only as columns of the Photo row.

Memory: decoding is where an upload's memory peaks (a 40-megapixel RGBA PNG is 160 MB of pixels
however small its file), so a process decodes at most `slots` photos at once (see DecodeGate), a JPEG
is decoded at the reduced scale it is stored at, and every other step works on the reduced image:
at most one full-size image plus one of a quarter its size per upload.
"""
import ctypes
import hashlib
import io
import math
import os
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import pillow_heif
import zxingcpp
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import access, tags
from .errors import Conflict, FieldKitError, NotFound, TooLarge, UnsupportedMedia, ValidationError
from .inventory import require_uuid
from .models import Asset, Item, Photo, Site, User
from .verdicts import refresh

pillow_heif.register_heif_opener()


def _give_freed_pixels_back() -> None:
    """Make glibc return every freed block of 1 MiB or more to the system at once.

    By default glibc raises its mmap threshold after the first big free and then keeps freed image
    memory in one arena per thread, so a server's memory stayed at the sum of its threads' peaks (four big
    PNGs in four threads: 870 MiB, 350 MiB with this). Elsewhere (macOS, musl) there is nothing to tune."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD from malloc.h; a fixed value also stops it from moving


_give_freed_pixels_back()

MAX_PIXELS = 40_000_000
MAX_PHOTOS_PER_SITE = 10_000  # every phone's bundle lists a site's photos: far past any office's evidence
MAX_STORED_SIDE = 4096     # evidence stays sharp; a 48 MP original does not fill the disk
DECODES_AT_ONCE = 2        # per process (PHOTO_DECODES): each may hold up to 160 MB of pixels
DECODE_WAIT = 10.0         # seconds an upload waits for a decoder (PHOTO_DECODE_WAIT) before it is sent back
RETRY_AFTER = 5
THUMB_SIDE = 320
QR_SCAN_SIDE = 2048        # what the field app uploads; labels are found at this size in tests and on site
JPEG_QUALITY = 85
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heif": "HEIF"}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png"}
GPS_IFD, EXIF_IFD = 0x8825, 0x8769
DATETIME_ORIGINAL, DATETIME_DIGITIZED, DATETIME, OFFSET_ORIGINAL = 36867, 36868, 306, 36881


@dataclass(frozen=True)
class Processed:
    """A photo ready to store: cleaned bytes, thumbnail and the facts read from it."""

    data: bytes
    ext: str
    width: int
    height: int
    thumb: bytes
    captured_at: datetime | None
    gps_lat: float | None
    gps_lon: float | None
    qr_tags: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.ext]


def sniff(head: bytes) -> str | None:
    """The image kind from the first bytes of a file ('jpeg', 'png', 'webp', 'heif'), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "heif"
    return None


class Busy(FieldKitError):
    """Every decoder of this process is taken; the sender keeps the photo and sends it again."""

    code = "too_many_requests"
    status = 429
    retry_after = RETRY_AFTER


_decoders: dict[int, threading.BoundedSemaphore] = {}
_decoders_lock = threading.Lock()


class DecodeGate:
    """At most `slots` photos decoded at once in this process (every gate of that size shares one count);
    an upload waits up to `wait` seconds for a free decoder."""

    def __init__(self, slots: int, wait: float):
        with _decoders_lock:
            self._free = _decoders.setdefault(slots, threading.BoundedSemaphore(slots))
        self.wait = wait

    @contextmanager
    def slot(self):
        if not self._free.acquire(timeout=self.wait):
            raise Busy("The server is busy with other photos; this one stays on the phone and is sent again "
                       "shortly.")
        try:
            yield
        finally:
            self._free.release()


def process(stream: BinaryIO, scan_qr: bool = True, gate: DecodeGate | None = None) -> Processed:
    """Check and clean one uploaded image; raise UnsupportedMedia, TooLarge, ValidationError or Busy."""
    kind = sniff(stream.read(16))
    stream.seek(0)
    if kind is None:
        raise UnsupportedMedia("The file is not a photo FieldKit accepts (JPEG, PNG, WebP or HEIC).")
    try:
        image = Image.open(stream, formats=[PILLOW_FORMATS[kind]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge(f"The image has more than {MAX_PIXELS // 1_000_000} million pixels.", "too_many_pixels") \
            from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ValidationError("The file looks like an image but cannot be read; it may be damaged.",
                              "bad_image") from None
    # Only the header has been read so far: refuse huge images before decoding a single pixel.
    if image.width * image.height > MAX_PIXELS:
        raise TooLarge(f"The image is {image.width}×{image.height} pixels; the limit is "
                       f"{MAX_PIXELS // 1_000_000} million pixels.", "too_many_pixels")
    keep_png = kind == "png"
    with (gate or DecodeGate(DECODES_AT_ONCE, DECODE_WAIT)).slot():
        captured_at, gps_lat, gps_lon = _exif_facts(image)  # inside: Pillow decodes a PNG to look for EXIF
        try:
            if kind == "jpeg":  # libjpeg decodes at 1/2, 1/4 or 1/8 scale: the full size never exists
                factor = math.ceil(max(image.size) / MAX_STORED_SIDE)
                image.draft("RGB", (math.ceil(image.width / factor), math.ceil(image.height / factor)))
            image.load()
            if keep_png and image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
                image = image.convert("RGBA")
            image = _reduced(image, MAX_STORED_SIDE)  # before turning or flattening: each makes a copy
            ImageOps.exif_transpose(image, in_place=True)
            if not keep_png:
                image = _flatten(image)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise ValidationError("The image is damaged or cut short; take or choose it again.",
                                  "bad_image") from None
        image.info.clear()  # nothing read from the file (EXIF, XMP, ICC, text chunks) is written back
        data = _encode(image, "png" if keep_png else "jpg")
        thumb = ImageOps.contain(_reduced(image, 2 * THUMB_SIDE), (THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
        qr = qr_tags(image) if scan_qr else ()
    return Processed(data=data, ext="png" if keep_png else "jpg", width=image.width, height=image.height,
                     thumb=_encode(_flatten(thumb), "jpg", quality=80), captured_at=captured_at,
                     gps_lat=gps_lat, gps_lon=gps_lon, qr_tags=qr)


REDUCE_ROWS = 256  # rows of the result made at a time by _reduced


def _reduced(image: Image.Image, side: int) -> Image.Image:
    """The image shrunk by the smallest whole factor that brings its longer side to `side` or less.

    Done a band of rows at a time: Pillow's reduce and resize of RGBA first make a premultiplied copy of
    the whole image. A box average over whole blocks gives the same pixels band by band."""
    factor = math.ceil(max(image.size) / side)
    if factor == 1:
        return image
    if image.mode in ("1", "P", "PA"):  # palette indices cannot be averaged
        image = image.convert("L" if image.mode == "1" else
                              "RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    width, height = image.size
    out = Image.new(image.mode, (math.ceil(width / factor), math.ceil(height / factor)))
    band = REDUCE_ROWS * factor
    for top in range(0, height, band):
        out.paste(image.crop((0, top, width, min(top + band, height))).reduce(factor), (0, top // factor))
    out.info = image.info  # the EXIF orientation is applied to the smaller image
    return out


def _flatten(image: Image.Image) -> Image.Image:
    """RGB or grey for JPEG; transparency goes onto white, as on paper."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image)  # the alpha band is the mask: no copy of it is made
        return background
    return image.convert("RGB")


def _encode(image: Image.Image, ext: str, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    if ext == "png":
        image.save(out, "PNG", compress_level=6)
    else:
        image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _exif_facts(image: Image.Image) -> tuple[datetime | None, float | None, float | None]:
    """Capture time and GPS position from EXIF, when the camera wrote them and they make sense."""
    try:
        exif = image.getexif()
    except (OSError, ValueError, SyntaxError, TypeError):
        return None, None, None
    return _exif_time(exif), *_exif_gps(exif)


def _exif_time(exif) -> datetime | None:
    try:
        details = exif.get_ifd(EXIF_IFD)
        text = details.get(DATETIME_ORIGINAL) or details.get(DATETIME_DIGITIZED) or exif.get(DATETIME)
        if not isinstance(text, str):
            return None
        moment = datetime.strptime(text.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
        offset = details.get(OFFSET_ORIGINAL)
        zone = UTC
        if isinstance(offset, str) and len(offset.strip("\x00")) == 6:
            sign = -1 if offset[0] == "-" else 1
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        return moment.replace(tzinfo=zone)  # cameras without an offset: taken as UTC
    except (ValueError, TypeError, KeyError, OSError):
        return None


def _exif_gps(exif) -> tuple[float | None, float | None]:
    try:
        gps = exif.get_ifd(GPS_IFD)
        if not gps or 2 not in gps or 4 not in gps:
            return None, None
        lat = _degrees(gps[2]) * (-1 if str(gps.get(1, "N")).upper().startswith("S") else 1)
        lon = _degrees(gps[4]) * (-1 if str(gps.get(3, "E")).upper().startswith("W") else 1)
    except (ValueError, TypeError, KeyError, ZeroDivisionError, OSError):
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        return None, None
    return round(lat, 7), round(lon, 7)


def _degrees(value) -> float:
    degrees, minutes, seconds = (float(part) for part in value)
    return degrees + minutes / 60 + seconds / 3600


def qr_tags(image: Image.Image) -> tuple[str, ...]:
    """The asset tags of every FieldKit QR label visible in the image (URLs ending in /t/<tag>)."""
    scan = image.convert("L")  # one byte a pixel before scaling: four times less to copy than RGBA
    if max(scan.size) > QR_SCAN_SIDE:
        scan = ImageOps.contain(scan, (QR_SCAN_SIDE, QR_SCAN_SIDE))
    found = []
    for barcode in zxingcpp.read_barcodes(scan, formats=zxingcpp.BarcodeFormat.QRCode):
        tag = tag_in_text(barcode.text)
        if tag and tag not in found:
            found.append(tag)
    return tuple(found)


def tag_in_text(text: str) -> str | None:
    """The tag a label's text names: a URL whose path ends in /t/<tag>, or a bare tag."""
    path = urlsplit(text.strip()).path if "://" in text else text.strip()
    parts = [part for part in path.split("/") if part]
    candidate = parts[-1] if len(parts) >= 2 and parts[-2] == "t" else (parts[0] if len(parts) == 1 else None)
    if candidate is None:
        return None
    try:
        return tags.parse(candidate)
    except ValidationError:
        return None


# --------------------------------------------------------------------------- storing


@dataclass(frozen=True)
class UploadFields:
    """The form fields of POST /api/photos, checked."""

    photo_id: str
    site_id: int
    item_id: int | None
    asset_id: str | None
    captured_at: datetime | None


def parse_fields(form: dict) -> UploadFields:
    """Check the text fields of an upload: id (UUID), site_id, item_id?, asset_id?, captured_at? (ISO 8601)."""
    photo_id = require_uuid(form.get("id"), "id")
    return UploadFields(photo_id=photo_id, site_id=_whole(form.get("site_id"), "site_id", required=True),
                        item_id=_whole(form.get("item_id"), "item_id"),
                        asset_id=require_uuid(form["asset_id"], "asset_id") if form.get("asset_id") else None,
                        captured_at=_moment(form.get("captured_at")))


def _whole(value, name: str, required: bool = False) -> int | None:
    if value in (None, ""):
        if required:
            raise ValidationError(f"'{name}' is required.", "missing_field")
        return None
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12
            and access.is_id(int(value))):
        raise ValidationError(f"'{name}' must be a whole number from 1 to {access.MAX_ID:,}.", f"bad_{name}")
    return int(value)


def _moment(value) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValidationError("'captured_at' must be a date and time like 2025-11-22T14:05:00Z.", "bad_captured_at")
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not datetime(2000, 1, 1, tzinfo=UTC) <= moment <= datetime.now(UTC) + timedelta(days=1):
        raise ValidationError("'captured_at' is not a plausible time for a photo.", "bad_captured_at")
    return moment


def save_photo(session: Session, user: User, photo_dir: str, fields: UploadFields,
               stream: BinaryIO, gate: DecodeGate | None = None) -> tuple[dict, int]:
    """POST /api/photos: store the photo once; returns (answer, 201) or, for the same id and file, (first answer, 200).

    The same id with a different file, or for another site or item, is a Conflict (409).
    """
    existing = session.get(Photo, fields.photo_id)
    if existing is not None:
        return _replay(session, user, existing, fields, stream, gate)
    site = access.field_site_for(session, user, fields.site_id)
    if fields.item_id is not None:
        item = session.get(Item, fields.item_id) if access.is_id(fields.item_id) else None
        if item is None or item.site_id != site.id:
            raise ValidationError(f"Item {fields.item_id} is not a checklist item of this site.", "bad_item_id")
    asset = _asset_of_site(session, site, fields.asset_id) if fields.asset_id else None
    count = session.scalar(select(func.count()).select_from(Photo).where(Photo.site_id == site.id))
    if count >= MAX_PHOTOS_PER_SITE:
        raise TooLarge(f"A site holds at most {MAX_PHOTOS_PER_SITE:,} photos; this one has {count:,}.",
                       "too_many_photos")
    processed = process(stream, gate=gate)
    linked_by_qr = False
    if asset is None and processed.qr_tags:
        asset = session.execute(select(Asset).where(Asset.site_id == site.id, Asset.tag.in_(processed.qr_tags))
                                .order_by(Asset.tag)).scalars().first()
        linked_by_qr = asset is not None
    sha = processed.sha256
    _write(file_path(photo_dir, sha, processed.ext), processed.data)
    _write(thumb_path(photo_dir, sha), processed.thumb)
    answer = {"id": fields.photo_id, "sha256": sha, "width": processed.width, "height": processed.height}
    if asset is not None:
        answer |= {"asset_id": asset.id, "asset_tag": asset.tag, "linked_by_qr": linked_by_qr}
    photo = Photo(id=fields.photo_id, site_id=site.id, item_id=fields.item_id, asset_id=asset.id if asset else None,
                  sha256=sha, content_type=processed.content_type, width=processed.width, height=processed.height,
                  size=len(processed.data), captured_at=_utc(fields.captured_at or processed.captured_at),
                  gps_lat=processed.gps_lat, gps_lon=processed.gps_lon, uploaded_by_id=user.id, response=answer)
    try:
        with session.begin_nested():  # so that only this insert is undone when the id is taken meanwhile
            session.add(photo)
            session.flush()
    except IntegrityError:
        # The same id arrived twice at once and the other request stored it first.
        existing = session.get(Photo, fields.photo_id)
        if existing is None:
            raise
        stream.seek(0)
        return _replay(session, user, existing, fields, stream, gate)
    refresh(session, [site])
    return answer, 201


def _utc(moment: datetime | None) -> datetime | None:
    # Stored in UTC: SQLite keeps no offset, and every database then answers the same instant.
    return moment.astimezone(UTC) if moment is not None else None


def _replay(session: Session, user: User, photo: Photo, fields: UploadFields, stream: BinaryIO,
            gate: DecodeGate | None) -> tuple[dict, int]:
    # An id taken on a site this user cannot see is answered like any other reused id: no site is named.
    access.field_site_for(session, user, photo.site_id, "This photo id was already used for a different photo; "
                          "give each photo its own id.")
    same_place = photo.site_id == fields.site_id and (fields.item_id is None or photo.item_id == fields.item_id)
    if not same_place or process(stream, scan_qr=False, gate=gate).sha256 != photo.sha256:
        raise Conflict("This photo id was already used for a different photo; give each photo its own id.",
                       "id_reused")
    return photo.response, 200


def _asset_of_site(session: Session, site: Site, asset_id: str) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None or asset.site_id != site.id:
        raise ValidationError("That asset is not on this site (sync the asset before its photos).", "bad_asset_id")
    return asset


def file_path(photo_dir: str, sha: str, ext: str) -> Path:
    """Where the photo with this SHA-256 lives: two levels of fan-out folders keep directories small."""
    return Path(photo_dir) / sha[:2] / sha[2:4] / f"{sha}.{ext}"


def thumb_path(photo_dir: str, sha: str) -> Path:
    return Path(photo_dir) / "thumbs" / sha[:2] / sha[2:4] / f"{sha}.jpg"


def _write(path: Path, data: bytes) -> None:
    """Write once, atomically: a file already there has the same content by construction."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def stored_file(session: Session, user: User, photo_dir: str, photo_id: str, thumb: bool = False) -> tuple[Path, str, Photo]:
    """(path, content type, photo) of a photo or its thumbnail, for whoever may see its site."""
    photo = session.get(Photo, photo_id) if isinstance(photo_id, str) and len(photo_id) <= 36 else None
    if photo is None:
        raise NotFound("There is no such photo.")
    access.site_for(session, user, photo.site_id, "There is no such photo.")
    if thumb:
        path, content_type = thumb_path(photo_dir, photo.sha256), "image/jpeg"
    else:
        path, content_type = file_path(photo_dir, photo.sha256, "png" if photo.content_type == "image/png" else "jpg"), \
            photo.content_type
    if not path.is_file():
        raise NotFound("The photo's file is missing from storage.", "file_missing")
    return path, content_type, photo


def lacking_evidence(items: list[Item], states: dict[int, dict]) -> list[tuple[Item, int]]:
    """[(item, photos it has)] for the items whose state (verdicts.item_states) says photos are missing."""
    found = []
    for item in items:
        missing = next((reason.get("count", 0) for reason in states.get(item.id, {}).get("reasons", ())
                        if reason["kind"] == "photos_missing"), 0)
        if missing:
            found.append((item, item.photos_required - missing))
    return found
