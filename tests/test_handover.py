"""The handover pack: a PDF an owner can read, with the inventory, the checklist, the evidence and the hash."""
import hashlib
import io
import os
import uuid
from datetime import date, timedelta

import pytest
from PIL import Image
from pypdf import PdfReader

from fieldkit import handover, pdffonts
from fieldkit.db import db
from fieldkit.models import Asset, Photo
from tests.conftest import login, update
from tests.evidence import upload
from tests.test_signoff import exceptions, sign

DEVICES = [("Comms room", "firewall", "Fortinet", "FortiGate 60F", "FGT60FTK2109A1B2", "00:09:0F:AA:01:02"),
           ("Comms room", "switch", "Cisco", "CBS350-24P", "PSZ24391A7C", "70:1F:53:C4:10:22"),
           ("Reception", "printer", "Brother", "MFC-L8900CDW", "E78239K1N123456", "3C:2A:F4:11:22:33"),
           ("Surgery 1", "ap", "Ubiquiti", "U6-Pro", "UBQ6PRO00042", "24:5A:4C:9E:00:42")]


def jpeg(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def equipped(app, api, bundle, site):
    """Four devices in three rooms, a measured internet circuit, and two photos: one uploaded as the field
    app does, one whose files are gone from the photo store."""
    circuit = next(i for i in bundle["items"] if "download_mbps" in i["thresholds"])
    api["tech"].sync([update(circuit, {"status": "pass", "measurements": {
        "download_mbps": 612, "upload_mbps": 98.5, "latency_ms": 7}})])
    assert upload(api, "tech", site["id"], jpeg((30, 120, 160)), item_id=circuit["id"]).status_code == 201
    with app.app_context():
        for n, (room, kind, make, model, serial, mac) in enumerate(DEVICES):
            db.session.add(Asset(id=str(uuid.uuid4()), site_id=site["id"], tag=f"K7Q2M{n}", kind=kind, make=make,
                                 model=model, serial=serial, mac=mac, room=room, status="installed"))
        db.session.add(Photo(id=str(uuid.uuid4()), site_id=site["id"], item_id=circuit["id"],
                             sha256=hashlib.sha256(b"gone").hexdigest(), content_type="image/jpeg", width=320,
                             height=240, size=100))
        db.session.commit()
    return circuit


def pdf_text(response) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(response.data))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_signed_handover_pack_has_the_inventory_checklist_evidence_and_the_hash(api, client, site, equipped):
    accepted = exceptions(api, site)
    answer = sign(api, site).get_json()
    login(client, "client@example.com")

    response = client.get(f"/sites/{site['id']}/handover.pdf")

    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'filename="handover-acme-dental-new-clinic.pdf"' in response.headers["Content-Disposition"]
    reader, text = pdf_text(response)
    flat = " ".join(text.split()).replace("–", "-")  # the dash is plain where the machine lacks DejaVu
    assert "Acme Dental - new clinic" in flat and "HANDOVER PACK" in flat
    for room, kind, make, model, serial, mac in DEVICES:
        assert serial in flat and mac in flat and model in flat
    assert "Comms room (2 devices)" in flat and "Reception (1 device)" in flat and "K7Q2M0" in flat
    assert "Download speed: 612 Mbps (needs at least 500 Mbps) - OK" in flat
    assert "Upload speed: 98.5 Mbps (needs at least 100 Mbps) - NOT MET" in flat
    assert accepted[0]["title"] in flat
    assert answer["sha256"] in flat.replace(" ", "") and "Helen Finch" in flat
    assert "1 photo is not available in this copy of the pack." in flat
    evidence = next(page for page in reader.pages[1:] if "4. Photo evidence" in page.extract_text())
    assert len(evidence.images) == 1
    signature_page = reader.pages[-1]
    assert "5. Sign-off" in signature_page.extract_text() and len(signature_page.images) == 1


def test_the_pack_shows_what_was_signed_even_after_later_changes(api, client, site, equipped):
    answer = sign(api, site).get_json()
    api["tech"].sync([update(equipped | {"rev": equipped["rev"] + 1}, {"measurements": {"download_mbps": 80}})])
    login(client, "pm@example.com")
    _, text = pdf_text(client.get(f"/sites/{site['id']}/handover.pdf"))
    flat = " ".join(text.split())
    assert "Download speed: 612 Mbps" in flat and "80 Mbps" not in flat
    assert "The site changed after this sign-off." in flat and answer["sha256"] in flat.replace(" ", "")


def test_before_sign_off_the_pack_shows_the_site_as_it_stands(api, client, site):
    login(client, "pm@example.com")
    _, text = pdf_text(client.get(f"/sites/{site['id']}/handover.pdf"))
    flat = " ".join(text.split())
    assert "Not signed off yet" in flat and "has not been signed off yet" in flat
    assert "No equipment has been recorded for this site." in flat and "No photos were taken" in flat


def test_a_name_outside_latin_1_does_not_break_the_pack(api, client, site):
    assert sign(api, site, name="Zoë Wáng 王芳").status_code == 201
    login(client, "client@example.com")
    response = client.get(f"/sites/{site['id']}/handover.pdf")
    assert response.status_code == 200
    assert "Zoë Wáng ??" in pdf_text(response)[1]


def test_names_in_any_european_script_print_as_written(api, client, site):
    if pdffonts.font_dir() is None and not os.environ.get("CI"):
        pytest.skip("needs the DejaVu fonts (Debian: fonts-dejavu-core)")
    assert pdffonts.font_dir() is not None, "CI installs fonts-dejavu-core"
    assert sign(api, site, name="Łukasz Żółć-Πέτρου").status_code == 201
    login(client, "client@example.com")
    text = pdf_text(client.get(f"/sites/{site['id']}/handover.pdf"))
    assert "Łukasz Żółć-Πέτρου" in text[1]


def test_without_dejavu_the_core_fonts_print_what_latin_1_can(api, client, site, monkeypatch):
    monkeypatch.setattr(pdffonts, "font_dir", lambda: None)
    assert sign(api, site, name="Łukasz Zoë").status_code == 201
    login(client, "client@example.com")
    response = client.get(f"/sites/{site['id']}/handover.pdf")
    assert response.status_code == 200 and "?ukasz Zoë" in pdf_text(response)[1]


@pytest.mark.parametrize(("email", "status"), [("tech@example.com", 200), ("tech2@example.com", 404),
                                               ("other_client@example.com", 404)])
def test_the_pack_is_for_those_who_may_see_the_site(client, people, site, email, status):
    login(client, email)
    assert client.get(f"/sites/{site['id']}/handover.pdf").status_code == status


def test_text_is_made_latin_1_for_the_core_font():
    assert pdffonts.latin1("Acme – “new” clinic… ≥ 500 Mbps → 王") == 'Acme - "new" clinic... >= 500 Mbps -> ?'
    assert pdffonts.latin1(None) == ""


def test_the_longest_text_written_without_spaces_still_makes_a_pack(api, client):
    """60 rooms of 60 characters, long names and 5,000-character notes in CJK and in one Latin word."""
    rooms = [f"{n:02d}Serverroom" + "x" * 48 for n in range(60)]
    latin = ("Pneumonoultramicroscopicsilicovolcanoconiosis" * 112)[:5000]
    created = api["pm"].post("/api/sites", {
        "name": "Ħ" * 200, "client": "Acme Dental", "template": "office-move", "address": "Straße" * 80,
        "move_in": (date.today() + timedelta(days=20)).isoformat(), "rooms": rooms,
        "technicians": ["tech@example.com"]})
    assert created.status_code == 201, created.get_json()
    site = created.get_json()
    items = api["tech"].get(f"/api/sites/{site['id']}/bundle").get_json()["items"]
    notes = ["漢字" * 2500, latin] * 3
    acks = api["tech"].sync([update(item, {"status": "fail", "note": note})
                             for item, note in zip(items, notes, strict=False)]).get_json()["acks"]
    assert {ack["status"] for ack in acks} == {"applied"}
    assert sign(api, site, name="王" * 200).status_code == 201
    login(client, "client@example.com")

    response = client.get(f"/sites/{site['id']}/handover.pdf")

    assert response.status_code == 200 and response.mimetype == "application/pdf"
    flat = "".join(pdf_text(response)[1].split()).replace("…", "...")  # lines of a cut word join up again
    assert all(room in flat for room in rooms)
    assert "Note:" + latin[:handover.NOTE_CHARS] + "...(fullnoteinFieldKit)" in flat
    assert "Note:" + "?" * handover.NOTE_CHARS + "...(fullnoteinFieldKit)" in flat  # DejaVu has no CJK glyphs
    assert "Straße" * 80 in flat and "?" * 200 in flat
