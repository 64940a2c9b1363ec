"""Photo evidence: a technician's photo is stored once, cleaned of metadata, and linked to what it shows."""
import hashlib
import io
import struct
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, PngImagePlugin
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from fieldkit import photos
from fieldkit.db import db
from fieldkit.models import Photo
from tests.evidence import add_asset, encoded, label_image, photo_like, upload

GPS_IFD, EXIF_IFD, ORIENTATION = 0x8825, 0x8769, 0x0112


def camera_jpeg(width=600, height=300, orientation=1) -> bytes:
    """A phone camera's JPEG: left half red, right half blue, with capture time, GPS and orientation in EXIF."""
    image = Image.new("RGB", (width, height), (220, 30, 30))
    image.paste((30, 30, 220), (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[EXIF_IFD] = {36867: "2025:11:20 09:15:00", 36881: "+01:00"}
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 36.0), 3: "W", 4: (0.0, 7.0, 30.0)}
    return encoded(image, "JPEG", exif=exif, quality=90)


def served(api, who, url):
    answer = api[who].get(url)
    data = answer.get_data()
    answer.close()
    return answer, data


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file that claims to be width × height: what a decompression bomb looks like from outside."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
            + chunk(b"IEND", b""))


# --------------------------------------------------------------------------- upload once, replay safely



def stored_photo(app, photo_id=None):
    """The Photo row (or the number of rows when no id is given), read in its own app context."""
    with app.app_context():
        return db.session.query(Photo).count() if photo_id is None else db.session.get(Photo, photo_id)


def test_tech_uploads_a_photo_and_a_retry_gets_the_same_answer_without_a_second_copy(app, api, site):
    photo_id = str(uuid.uuid4())
    first = upload(api, "tech", site["id"], camera_jpeg(), photo_id)
    assert first.status_code == 201
    body = first.get_json()
    assert set(body) == {"id", "sha256", "width", "height"}
    assert (body["id"], body["width"], body["height"]) == (photo_id, 600, 300)

    again = upload(api, "tech", site["id"], camera_jpeg(), photo_id)
    assert again.status_code == 200
    assert again.get_json() == body
    assert stored_photo(app) == 1
    stored = Path(app.config["PHOTO_DIR"]) / body["sha256"][:2] / body["sha256"][2:4] / f"{body['sha256']}.jpg"
    assert stored.is_file()
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == body["sha256"]


def test_the_same_id_with_another_photo_is_refused(api, site):
    photo_id = str(uuid.uuid4())
    assert upload(api, "tech", site["id"], camera_jpeg(), photo_id).status_code == 201
    other = upload(api, "tech", site["id"], encoded(photo_like(300, 200)), photo_id)
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "id_reused"


def test_two_photos_with_identical_bytes_share_one_stored_file(app, api, site):
    first = upload(api, "tech", site["id"], camera_jpeg()).get_json()
    second = upload(api, "pm", site["id"], camera_jpeg()).get_json()
    assert first["sha256"] == second["sha256"] and first["id"] != second["id"]
    files = [p for p in Path(app.config["PHOTO_DIR"]).rglob("*.jpg") if "thumbs" not in p.parts]
    assert len(files) == 1


# --------------------------------------------------------------------------- metadata, orientation, formats


def test_gps_and_camera_details_are_gone_from_the_served_photo_but_kept_as_fields(app, api, site):
    body = upload(api, "tech", site["id"], camera_jpeg()).get_json()
    for url in (f"/api/photos/{body['id']}", f"/api/photos/{body['id']}/thumb"):
        _, data = served(api, "client", url)
        assert b"Exif" not in data and b"PhoneMaker" not in data
        assert not dict(Image.open(io.BytesIO(data)).getexif())
    photo = stored_photo(app, body["id"])
    assert (photo.gps_lat, photo.gps_lon) == (pytest.approx(51.51), pytest.approx(-0.125))
    taken = datetime(2025, 11, 20, 9, 15, tzinfo=timezone(timedelta(hours=1)))
    assert photo.captured_at.replace(tzinfo=photo.captured_at.tzinfo or UTC) == taken.astimezone(UTC)


def test_the_capture_time_the_phone_sends_wins_over_the_camera_clock(app, api, site):
    body = upload(api, "tech", site["id"], camera_jpeg(), captured_at="2025-11-21T16:40:00Z").get_json()
    photo = stored_photo(app, body["id"])
    assert photo.captured_at.replace(tzinfo=photo.captured_at.tzinfo or UTC) == datetime(2025, 11, 21, 16, 40,
                                                                                        tzinfo=UTC)


def test_a_photo_taken_with_the_phone_turned_is_stored_upright(api, site):
    # Orientation 6: the camera stored it sideways; turned a quarter clockwise, the left (red) half is on top.
    body = upload(api, "tech", site["id"], camera_jpeg(600, 300, orientation=6)).get_json()
    assert (body["width"], body["height"]) == (300, 600)
    _, data = served(api, "pm", f"/api/photos/{body['id']}")
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert image.size == (300, 600)
    top, bottom = image.getpixel((150, 100)), image.getpixel((150, 500))
    assert top[0] > 180 and top[2] < 80, f"top should be red, is {top}"
    assert bottom[2] > 180 and bottom[0] < 80, f"bottom should be blue, is {bottom}"


def test_an_iphone_heic_photo_is_accepted_and_served_as_jpeg(api, site):
    heic = io.BytesIO()
    pillow_heif.from_pillow(photo_like(640, 480)).save(heic, quality=70)
    answer = upload(api, "tech", site["id"], heic.getvalue(), filename="IMG_0042.HEIC")
    assert answer.status_code == 201, answer.get_json()
    assert (answer.get_json()["width"], answer.get_json()["height"]) == (640, 480)
    response, data = served(api, "tech", f"/api/photos/{answer.get_json()['id']}")
    assert response.headers["Content-Type"] == "image/jpeg"
    assert data.startswith(b"\xff\xd8\xff")


def test_a_screenshot_stays_png_without_its_text_chunks_and_webp_becomes_jpeg(api, site):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Tom Okafor, 51.51N 0.125W")
    png = upload(api, "pm", site["id"], encoded(photo_like(320, 240), "PNG", pnginfo=info)).get_json()
    response, data = served(api, "pm", f"/api/photos/{png['id']}")
    assert response.headers["Content-Type"] == "image/png"
    assert b"Okafor" not in data and b"tEXt" not in data
    webp = upload(api, "pm", site["id"], encoded(photo_like(320, 240), "WEBP"), filename="x.webp").get_json()
    response, _ = served(api, "pm", f"/api/photos/{webp['id']}")
    assert response.headers["Content-Type"] == "image/jpeg"


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("data", "filename", "status", "code"), [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "evidence.jpg", 415, "unsupported_media_type"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "photo.png", 415, "unsupported_media_type"),
    (b"", "empty.jpg", 415, "unsupported_media_type"),
    (None, "cut.jpg", 400, "bad_image"),
])
def test_files_that_are_not_usable_photos_are_refused(app, api, site, data, filename, status, code):
    data = camera_jpeg(1200, 800)[:3000] if data is None else data
    answer = upload(api, "tech", site["id"], data, filename=filename)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (status, code)
    assert stored_photo(app) == 0


@pytest.mark.parametrize(("width", "height"), [(8000, 6000), (40000, 40000)])
def test_a_decompression_bomb_is_refused_quickly(api, site, width, height):
    started = time.perf_counter()
    answer = upload(api, "tech", site["id"], png_header_only(width, height), filename="bomb.png")
    elapsed = time.perf_counter() - started
    assert answer.status_code == 413
    assert answer.get_json()["error"]["code"] == "too_many_pixels"
    assert "million pixels" in answer.get_json()["error"]["message"]
    assert elapsed < 1.0, f"refusing took {elapsed:.2f}s"


def test_an_upload_over_25_mib_answers_413_in_json(api, site):
    boundary, body = encode_multipart({"id": str(uuid.uuid4()), "site_id": str(site["id"]), "file": FileStorage(
        io.BytesIO(b"\xff\xd8\xff" + b"\0" * (25 * 1024 * 1024 + 10)), "huge.jpg")})
    assert len(body) > 25 * 1024 * 1024
    answer = api["tech"].client.post("/api/photos", data=body, headers=api["tech"].headers,
                                     content_type=f"multipart/form-data; boundary={boundary}")
    assert answer.status_code == 413
    assert answer.get_json()["error"] == {"code": "too_large", "message": "The upload is larger than the 25 MiB limit."}


@pytest.mark.parametrize(("fields", "code"), [
    ({"id": "not-a-uuid"}, "bad_id"),
    ({"site_id": "x"}, "bad_site_id"),
    ({"site_id": "2147483648"}, "bad_site_id"),  # past the id columns: a bad field, not a missing site
    ({"item_id": "0"}, "bad_item_id"),
    ({"item_id": "999999"}, "bad_item_id"),
    ({"asset_id": str(uuid.uuid4())}, "bad_asset_id"),
    ({"captured_at": "yesterday"}, "bad_captured_at"),
])
def test_upload_fields_that_do_not_fit_the_site_are_refused(api, site, fields, code):
    photo_id = fields.pop("id", None)
    site_id = fields.pop("site_id", site["id"])
    answer = upload(api, "tech", site_id, camera_jpeg(), photo_id, **fields)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (400, code)


def test_a_photo_without_a_file_is_refused(api, site):
    answer = api["tech"].client.post("/api/photos", data={"id": str(uuid.uuid4()), "site_id": str(site["id"])},
                                     headers=api["tech"].headers, content_type="multipart/form-data")
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (400, "missing_file")


# --------------------------------------------------------------------------- a QR label in the picture


def test_a_photo_showing_an_asset_label_is_linked_to_that_asset(api, site, bundle):
    ap = add_asset(api, site, kind="ap", room="Reception")
    aps_item = next(i for i in bundle["items"] if i["key"] == "wifi-aps-mounted")
    picture = photo_like(1600, 1200, label=label_image(f"http://fieldkit.test/t/{ap['tag']}", module_px=7))
    answer = upload(api, "tech", site["id"], encoded(picture, quality=85), item_id=aps_item["id"])
    assert answer.status_code == 201
    assert answer.get_json() | {"sha256": "", "id": ""} == {
        "id": "", "sha256": "", "width": 1600, "height": 1200, "asset_id": ap["id"], "asset_tag": ap["tag"],
        "linked_by_qr": True}
    shown = api["pm"].get(f"/api/assets/{ap['tag']}").get_json()["photos"]
    assert [p["id"] for p in shown] == [answer.get_json()["id"]]
    assert shown[0]["item_id"] == aps_item["id"]


def test_a_label_in_a_full_size_12_megapixel_photo_is_found(api, site):
    ups = add_asset(api, site, kind="ups", room="Comms room")
    picture = photo_like(4000, 3000, label=label_image(f"https://elsewhere.example/t/{ups['tag']}", module_px=12))
    answer = upload(api, "tech", site["id"], encoded(picture, quality=80))
    assert answer.get_json()["asset_id"] == ups["id"]


def test_a_label_of_another_sites_asset_links_nothing(api, site):
    other = api["pm"].post("/api/sites", {"name": "Elsewhere", "client": "Zenith Legal", "template": "office-move",
                                          "move_in": site["move_in"]}).get_json()
    stranger = add_asset(api, other, who="pm")
    picture = photo_like(1200, 900, label=label_image(f"http://fieldkit.test/t/{stranger['tag']}"))
    answer = upload(api, "tech", site["id"], encoded(picture))
    assert answer.status_code == 201
    assert "asset_id" not in answer.get_json()


# --------------------------------------------------------------------------- serving


def test_photos_and_thumbnails_are_served_with_long_private_caching(api, site):
    body = upload(api, "tech", site["id"], encoded(photo_like(1600, 1200))).get_json()
    response, data = served(api, "client", f"/api/photos/{body['id']}")
    assert response.headers["Content-Type"] == "image/jpeg"
    assert hashlib.sha256(data).hexdigest() == body["sha256"]
    cache = response.cache_control
    assert cache.private and not cache.public and cache.max_age >= 86400 * 30 and cache.immutable
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    again = api["client"].client.get(f"/api/photos/{body['id']}", headers={
        **api["client"].headers, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    again.close()

    response, data = served(api, "client", f"/api/photos/{body['id']}/thumb")
    assert response.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(data)).size == (320, 240)


def test_an_unknown_photo_is_404(api, site):
    answer = api["pm"].get(f"/api/photos/{uuid.uuid4()}")
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (404, "not_found")


# --------------------------------------------------------------------------- memory


def test_a_photo_over_4096_pixels_is_shrunk_by_a_whole_factor_and_stays_upright(api, site):
    # A PNG with transparency keeps it; a JPEG shot sideways is decoded at half scale, then turned.
    left_red = Image.new("RGBA", (4200, 60), (220, 30, 30, 255))
    left_red.paste((30, 30, 220, 128), (2100, 0, 4200, 60))
    png = upload(api, "tech", site["id"], encoded(left_red, "PNG")).get_json()
    assert (png["width"], png["height"]) == (2100, 30)
    _, data = served(api, "pm", f"/api/photos/{png['id']}")
    stored = Image.open(io.BytesIO(data))
    assert stored.mode == "RGBA" and stored.getpixel((10, 10)) == (220, 30, 30, 255)
    assert all(abs(a - b) <= 2 for a, b in zip(stored.getpixel((2000, 10)), (30, 30, 220, 128), strict=True))

    turned = upload(api, "tech", site["id"], camera_jpeg(4200, 100, orientation=6)).get_json()
    assert (turned["width"], turned["height"]) == (50, 2100)
    _, data = served(api, "pm", f"/api/photos/{turned['id']}")
    image = Image.open(io.BytesIO(data))
    top, bottom = image.getpixel((25, 100)), image.getpixel((25, 2000))
    assert top[0] > 180 and top[2] < 80, f"top should be red, is {top}"
    assert bottom[2] > 180 and bottom[0] < 80, f"bottom should be blue, is {bottom}"
    _, thumb = served(api, "pm", f"/api/photos/{turned['id']}/thumb")
    assert Image.open(io.BytesIO(thumb)).size == (8, 320)


def test_while_every_decoder_is_busy_an_upload_is_told_to_come_back_and_nothing_is_stored(app, api, site):
    app.config.update(PHOTO_DECODES=2, PHOTO_DECODE_WAIT=0)
    gate = photos.DecodeGate(2, 0)
    photo_id = str(uuid.uuid4())
    with gate.slot(), gate.slot():  # two photos are being decoded
        busy = upload(api, "tech", site["id"], camera_jpeg(), photo_id)
    assert busy.status_code == 429 and busy.headers["Retry-After"] == str(photos.RETRY_AFTER)
    assert busy.get_json()["error"]["code"] == "too_many_requests"
    assert "stays on the phone" in busy.get_json()["error"]["message"]
    assert stored_photo(app) == 0
    assert upload(api, "tech", site["id"], camera_jpeg(), photo_id).status_code == 201
    assert stored_photo(app) == 1
