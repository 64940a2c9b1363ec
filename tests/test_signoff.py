"""Client sign-off: only the site's client signs, with a real signature, over a snapshot anyone can verify."""
import base64
import io
import json
import uuid

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy import update as sql_update

from fieldkit import signoff
from fieldkit.db import db
from fieldkit.errors import ValidationError
from fieldkit.models import Signoff
from tests.conftest import login, update
from tests.evidence import add_asset, encoded, photo_like, upload


def signature_png(size=(600, 200), ink=True, mode="RGB", background="white") -> bytes:
    """A PNG like the sign-off canvas makes: a dark scribble on a white background."""
    image = Image.new(mode, size, background)
    if ink:
        draw = ImageDraw.Draw(image)
        w, h = size
        points = [(w * x / 20, h / 2 + (h / 3) * (-1) ** x * (x % 3) / 2) for x in range(1, 20)]
        draw.line(points, fill="black", width=3)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def data_url(png: bytes, kind="image/png") -> str:
    return f"data:{kind};base64," + base64.b64encode(png).decode()


SIGNATURE = data_url(signature_png())


def exceptions(api, site, who="client"):
    return api[who].get(f"/api/sites/{site['id']}/signoff").get_json()["exceptions"]


def sign(api, site, who="client", name="Helen Finch", signature=SIGNATURE, accept=None):
    if accept is None:
        accept = [e["item_id"] for e in exceptions(api, site)]
    return api[who].post(f"/api/sites/{site['id']}/signoff",
                         {"name": name, "signature": signature, "accept": accept})


@pytest.fixture
def worked(api, bundle):
    """The technician has passed every simple item, so some items are ready and some are still open."""
    simple = [i for i in bundle["items"] if not i["photos_required"] and not i["thresholds"] and not i["asset_kind"]]
    acks = api["tech"].sync([update(i, {"status": "pass"}) for i in simple]).get_json()["acks"]
    assert {a["status"] for a in acks} == {"applied"}
    return api["tech"].get(f"/api/sites/{bundle['site']['id']}/bundle").get_json()


def test_client_accepts_each_open_item_signs_and_anyone_on_the_site_can_verify(api, site, worked):
    open_items = exceptions(api, site)
    assert open_items and len(open_items) < len(worked["items"])
    assert all(e["problems"] for e in open_items)

    response = sign(api, site)

    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert len(answer["sha256"]) == 64
    for who in ("client", "pm", "tech", "admin"):
        checked = api[who].get(f"/api/signoffs/{answer['id']}/verify")
        assert checked.get_json()["valid"] is True and checked.get_json()["sha256"] == answer["sha256"], who
    assert api["other_client"].get(f"/api/signoffs/{answer['id']}/verify").status_code == 404
    assert api["client"].get(f"/api/sites/{site['id']}").get_json()["signed_off_at"] is not None


@pytest.mark.parametrize(("who", "status"), [("other_client", 404), ("tech", 403), ("tech2", 404),
                                              ("pm", 403), ("admin", 403)])
def test_only_the_sites_own_client_signs(api, site, who, status):
    accept = [e["item_id"] for e in exceptions(api, site, "pm")]
    response = sign(api, site, who=who, accept=accept)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] in ("not_found", "forbidden")


def test_signing_needs_a_login(client, site):
    response = client.post(f"/api/sites/{site['id']}/signoff", json={"name": "x"})
    assert response.status_code == 401


def test_a_browser_sign_off_needs_the_csrf_header(client, people, site):
    login(client, "client@example.com")
    response = client.post(f"/api/sites/{site['id']}/signoff", json={"name": "Helen", "signature": SIGNATURE})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf"


def _huge_png() -> bytes:
    noisy = Image.frombytes("RGB", (900, 600), uuid.uuid4().bytes * (900 * 600 * 3 // 16))
    buffer = io.BytesIO()
    noisy.save(buffer, "PNG", compress_level=0)
    return buffer.getvalue()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 200), "white").save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(("signature", "code"), [
    ("", "bad_signature"),
    (None, "bad_signature"),
    ("a signature", "bad_signature"),
    ("https://example.com/sig.png", "bad_signature"),
    (data_url(_jpeg(), "image/jpeg"), "bad_signature"),
    (data_url(_jpeg()), "bad_signature"),                                   # a JPEG that claims to be a PNG
    ("data:image/png;base64,not*base64!", "bad_signature"),
    (data_url(signature_png()[:200]), "bad_signature"),                      # cut short
    (data_url(signature_png(ink=False)), "blank_signature"),
    (data_url(signature_png(ink=False, mode="RGBA", background=(0, 0, 0, 0))), "blank_signature"),
    (data_url(signature_png(size=(60, 20))), "bad_signature_size"),
    (data_url(signature_png(size=(4000, 100))), "bad_signature_size"),
    (data_url(_huge_png()), "signature_too_large"),
], ids=["empty", "missing", "text", "url", "jpeg", "jpeg-as-png", "bad-base64", "truncated", "blank",
        "blank-transparent", "tiny", "enormous", "over-500kb"])
def test_a_bad_signature_is_refused_with_a_clear_message(api, site, signature, code):
    response = sign(api, site, signature=signature)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"].endswith(".")
    assert api["client"].get(f"/api/sites/{site['id']}/signoff").get_json()["signoffs"] == []


@pytest.mark.parametrize(("name", "code"), [("", "missing_name"), ("   \t ", "missing_name"), (None, "bad_name"),
                                             (42, "bad_name"), ("x" * 201, "name_too_long"),
                                             ("Helen\u200bFinch", "bad_name")])
def test_a_missing_or_odd_name_is_refused(api, site, name, code):
    response = sign(api, site, name=name)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code


def test_a_long_name_with_extra_spaces_is_trimmed(api, site):
    response = sign(api, site, name="  Helen   Finch  ")
    assert response.status_code == 201
    record = api["pm"].get(f"/api/signoffs/{response.get_json()['id']}/verify").get_json()
    assert record["name"] == "Helen Finch"


def test_body_must_be_an_object(api, site):
    response = api["client"].post(f"/api/sites/{site['id']}/signoff", [1, 2])
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_body"


def test_an_open_item_left_unaccepted_is_named(api, site, worked):
    open_items = exceptions(api, site)
    left_out = open_items[0]
    response = sign(api, site, accept=[e["item_id"] for e in open_items[1:]])
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "exceptions_not_accepted"
    assert left_out["title"] in error["message"]


def test_only_open_items_of_this_site_can_be_accepted(api, site, worked):
    open_ids = [e["item_id"] for e in exceptions(api, site)]
    ready = next(i["id"] for i in worked["items"] if i["id"] not in open_ids)
    for extra in (ready, 999_999):
        response = sign(api, site, accept=[*open_ids, extra])
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "not_an_exception"
        assert str(extra) in response.get_json()["error"]["message"]
    bad = sign(api, site, accept="all")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_accept"


def test_later_changes_never_alter_the_signed_snapshot_and_the_site_shows_them(app, api, client, site, worked):
    answer = sign(api, site).get_json()
    with app.app_context():
        stored = db.session.get(Signoff, answer["id"]).snapshot
    assert api["pm"].get("/api/board").get_json()[0]["changed_after_signoff"] is False

    item = next(i for i in worked["items"] if i["status"] == "todo" and not i["thresholds"])
    acks = api["tech"].sync([update(item, {"status": "fail", "note": "Patch lead missing"})]).get_json()["acks"]
    assert acks[0]["status"] == "applied"

    verified = api["client"].get(f"/api/signoffs/{answer['id']}/verify").get_json()
    assert verified == {**verified, "valid": True, "sha256": answer["sha256"]}
    with app.app_context():
        assert db.session.get(Signoff, answer["id"]).snapshot == stored
    assert api["client"].get(f"/api/sites/{site['id']}").get_json()["changed_after_signoff"] is True
    assert api["pm"].get("/api/board").get_json()[0]["changed_after_signoff"] is True

    login(client, "pm@example.com")
    page = client.get(f"/sites/{site['id']}").get_data(as_text=True)
    assert "This site changed after the client signed off." in page
    assert "Changed since the sign-off" in page and "→ <b>fail</b>" in page
    assert "changed after sign-off" in client.get("/board").get_data(as_text=True)


def test_new_equipment_after_sign_off_also_marks_the_site_changed(api, site):
    sign(api, site)
    add_asset(api, site, kind="switch")
    assert api["client"].get(f"/api/sites/{site['id']}").get_json()["changed_after_signoff"] is True


def test_a_photo_after_sign_off_also_marks_the_site_changed(api, site):
    sign(api, site)
    assert upload(api, "tech", site["id"], encoded(photo_like())).status_code == 201
    assert api["client"].get(f"/api/sites/{site['id']}").get_json()["changed_after_signoff"] is True


def test_signing_again_makes_a_new_version_and_the_latest_counts(app, api, site, worked):
    first = sign(api, site).get_json()
    item = next(i for i in worked["items"] if i["status"] == "pass")
    api["tech"].sync([update(item, {"note": "Re-tested after the furniture move"})])
    assert api["client"].get(f"/api/sites/{site['id']}").get_json()["changed_after_signoff"] is True

    second = sign(api, site)

    assert second.status_code == 201
    second = second.get_json()
    assert second["sha256"] != first["sha256"]
    state = api["client"].get(f"/api/sites/{site['id']}/signoff").get_json()
    assert [s["id"] for s in state["signoffs"]] == [second["id"], first["id"]]
    assert state["changed_after_signoff"] is False
    with app.app_context():
        snapshot = json.loads(db.session.get(Signoff, second["id"]).snapshot)
    assert snapshot["version"] == 2 and snapshot["previous_sha256"] == first["sha256"]
    assert api["pm"].get(f"/api/signoffs/{first['id']}/verify").get_json()["valid"] is True


def test_the_snapshot_is_canonical_json_of_everything_signed_for(app, api, site, worked):
    accepted = [e["item_id"] for e in exceptions(api, site)]
    answer = sign(api, site, accept=accepted).get_json()
    with app.app_context():
        row = db.session.get(Signoff, answer["id"])
        text, png = row.snapshot, row.signature_png
    snapshot = json.loads(text)
    assert text == json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert signoff.digest(text) == answer["sha256"]
    assert snapshot["signature_sha256"] == signoff.digest(png)
    assert snapshot["site"]["name"] == "Acme Dental – new clinic"
    assert "Acme Dental – new clinic".encode() in text.encode("utf-8")  # UTF-8, not \u escapes
    assert len(snapshot["items"]) == len(worked["items"])
    assert [e["item_id"] for e in snapshot["accepted_exceptions"]] == accepted
    assert snapshot["signed_by"] == {"user_id": snapshot["signed_by"]["user_id"], "email": "client@example.com",
                                     "name": "Helen Finch"}
    assert snapshot["verdict"]["status"] in ("AT_RISK", "NO_GO") and snapshot["assets"] == []
    assert {"status", "ready", "problems", "measurements", "thresholds", "photos"} <= set(snapshot["items"][0])


@pytest.mark.parametrize("tamper", ["snapshot", "name", "signature", "hash"])
def test_tampering_with_a_stored_sign_off_makes_verify_false(app, api, client, site, tamper):
    answer = sign(api, site).get_json()
    with app.app_context():
        row = db.session.get(Signoff, answer["id"])
        changes = {
            "snapshot": {"snapshot": row.snapshot.replace('"score":', '"score":1', 1)},
            "name": {"name": "Someone Else"},
            "signature": {"signature_png": signature_png(size=(300, 100))},
            "hash": {"sha256": "0" * 64},
        }[tamper]
        db.session.execute(sql_update(Signoff).where(Signoff.id == row.id).values(**changes))
        db.session.commit()
    assert api["pm"].get(f"/api/signoffs/{answer['id']}/verify").get_json()["valid"] is False
    login(client, "client@example.com")
    page = client.get(f"/signoffs/{answer['id']}").get_data(as_text=True)
    assert "Not valid" in page and "Verified" not in page


def test_the_sign_off_page_lists_each_open_item_for_the_client(api, client, site, worked):
    open_items = exceptions(api, site)
    login(client, "client@example.com")
    page = client.get(f"/sites/{site['id']}/signoff")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('name="accept"') == len(open_items)
    assert 'id="signature"' in html and 'id="signer-name"' in html
    assert f"0 of {len(open_items)} accepted" in html


@pytest.mark.parametrize(("email", "status", "text"), [
    ("pm@example.com", 200, "Only Acme Dental's own users can sign"),
    ("tech@example.com", 200, "Only Acme Dental's own users can sign"),
    ("other_client@example.com", 404, "There is no site"),
])
def test_others_cannot_sign_on_the_page(client, people, site, email, status, text):
    login(client, email)
    page = client.get(f"/sites/{site['id']}/signoff")
    assert page.status_code == status
    assert text in page.get_data(as_text=True) and 'id="signoff-form"' not in page.get_data(as_text=True)


def test_pages_need_a_login(client, site):
    for url in (f"/sites/{site['id']}/signoff", f"/sites/{site['id']}/handover.pdf", "/signoffs/1"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_record_page_shows_the_signature_and_verified_fingerprint(api, client, site):
    answer = sign(api, site).get_json()
    login(client, "pm@example.com")
    page = client.get(f"/signoffs/{answer['id']}").get_data(as_text=True)
    assert "Verified" in page and answer["sha256"] in page and "Helen Finch" in page
    image = client.get(f"/signoffs/{answer['id']}/signature.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.data == signature_png()


def test_signature_check_in_the_domain_reads_the_size_and_ink():
    assert signoff.parse_signature(SIGNATURE) == signature_png()
    with pytest.raises(ValidationError, match="between 100x40 and 3000x3000"):
        signoff.parse_signature(data_url(signature_png(size=(99, 200))))


def test_no_sign_off_rows_are_left_by_refused_requests(app, api, site):
    sign(api, site, signature="nope")
    sign(api, site, name="")
    with app.app_context():
        assert db.session.execute(select(Signoff)).first() is None
