"""QR label sheets: every printed label scans back to its own asset's URL."""
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from fieldkit import qr
from tests.conftest import login
from tests.evidence import add_asset

PDFTOPPM = shutil.which("pdftoppm")
# Skipped only on a developer machine without poppler-utils; CI installs it, so there it must run.
needs_pdftoppm = pytest.mark.skipif(PDFTOPPM is None and not os.environ.get("CI"),
                                    reason="pdftoppm (poppler-utils) renders the PDF to pixels")


def scanned_urls(image: Image.Image) -> list[str]:
    return sorted(code.text for code in zxingcpp.read_barcodes(image.convert("L"),
                                                               formats=zxingcpp.BarcodeFormat.QRCode))


def rendered_pages(pdf: bytes, dpi: int = 200) -> list[Image.Image]:
    """The PDF as a printer would put it on paper: pixels, rendered by poppler."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "labels.pdf"
        source.write_bytes(pdf)
        subprocess.run([PDFTOPPM, "-r", str(dpi), "-gray", "-png", str(source), str(Path(folder) / "page")],
                       check=True, timeout=60)
        pages = []
        for path in sorted(Path(folder).glob("page-*.png")):
            with Image.open(path) as page:
                pages.append(page.copy())
        return pages


@pytest.fixture
def pm(app, people):
    """A project manager's browser (its own cookies, apart from the API clients)."""
    browser = app.test_client()
    login(browser, "pm@example.com")
    return browser


@pytest.fixture
def thirty(api, site):
    """Thirty access points across the rooms: more than one A4 sheet of 24."""
    rooms = ["Reception", "Surgery 1", "Surgery 2", "Comms room"]
    return [add_asset(api, site, kind="ap", room=rooms[n % 4], make="Ubiquiti", model="U6-Lite") for n in range(30)]


def url_of(asset) -> str:
    return f"http://fieldkit.test/t/{asset['tag']}"


@needs_pdftoppm
@pytest.mark.parametrize(("paper", "per_page"), [("a4", 24), ("letter", 30)])
def test_pm_prints_a_sheet_and_every_label_scans_to_its_asset(pm, site, thirty, paper, per_page):
    answer = pm.get(f"/sites/{site['id']}/labels.pdf?paper={paper}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/pdf"
    pdf = answer.get_data()
    pages = rendered_pages(pdf)
    assert len(pages) == -(-30 // per_page)
    assert pages[0].size[0] < pages[0].size[1], "a portrait sheet"
    found = [url for page in pages for url in scanned_urls(page)]
    assert sorted(found) == sorted(url_of(a) for a in thirty)
    assert len(scanned_urls(pages[0])) == min(30, per_page)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert all(a["tag"] in text for a in thirty[:3]) and "Surgery 1" in text and "ACCESS POINT" in text


@needs_pdftoppm
def test_a_62mm_label_printer_gets_one_label_per_page(pm, site, thirty):
    chosen = thirty[:3]
    answer = pm.get(f"/sites/{site['id']}/labels.pdf?paper=62mm&assets={','.join(a['id'] for a in chosen)}")
    pages = rendered_pages(answer.get_data(), dpi=300)
    assert len(pages) == 3
    assert pages[0].size == pytest.approx((62 / 25.4 * 300, 29 / 25.4 * 300), abs=1.5)
    assert [scanned_urls(page) for page in pages] == [[url_of(a)] for a in sorted(
        chosen, key=lambda a: (["Reception", "Surgery 1", "Surgery 2", "Comms room"].index(a["room"]), a["tag"]))]


@needs_pdftoppm
def test_labels_can_start_further_down_a_partly_used_sheet(pm, site, thirty):
    chosen = thirty[:2]
    query = "&".join(f"assets={a['id']}" for a in chosen)
    page = rendered_pages(pm.get(f"/sites/{site['id']}/labels.pdf?paper=a4&skip=22&{query}").get_data())[0]
    codes = zxingcpp.read_barcodes(page.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert sorted(c.text for c in codes) == sorted(url_of(a) for a in chosen)
    assert all(c.position.top_left.y > page.size[1] * 0.8 for c in codes), "the last row of the sheet"


def test_the_png_preview_shows_the_sheet_and_its_labels_scan(pm, site, thirty):
    answer = pm.get(f"/sites/{site['id']}/labels.png?paper=letter")
    assert answer.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(answer.get_data()))
    assert image.size == (round(215.9 / 25.4 * 150), round(279.4 / 25.4 * 150))
    assert scanned_urls(image) == sorted(url_of(a) for a in thirty)
    second = Image.open(io.BytesIO(pm.get(f"/sites/{site['id']}/labels.png?paper=a4&page=2").get_data()))
    assert len(scanned_urls(second)) == 6


def test_labels_use_the_configured_base_url(app, pm, site, thirty):
    app.config["BASE_URL"] = "https://fieldkit.example.com"
    image = Image.open(io.BytesIO(pm.get(f"/sites/{site['id']}/labels.png?assets={thirty[0]['id']}").get_data()))
    assert scanned_urls(image) == [f"https://fieldkit.example.com/t/{thirty[0]['tag']}"]


@pytest.mark.parametrize(("query", "message"), [
    ("paper=a3", "Paper 'a3' is not one of a4, letter, 62mm."),
    ("assets=00000000-0000-4000-8000-000000000000", "Some of the chosen assets are not on this site."),
    ("skip=24", "Skip between 0 and 23 labels."),
    ("skip=-1", "'skip' must be the number of labels already used on the first sheet."),
])
def test_a_label_request_that_cannot_be_printed_says_why(pm, site, thirty, query, message):
    answer = pm.get(f"/sites/{site['id']}/labels.pdf?{query}")
    assert answer.status_code == 400
    assert message.replace("'", "&#39;") in answer.get_data(as_text=True)


def test_a_site_without_assets_has_nothing_to_print(pm, site):
    answer = pm.get(f"/sites/{site['id']}/labels.pdf", headers={"Accept": "application/json"})
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (400, "no_assets")


def test_long_room_names_and_other_scripts_never_break_a_label(site):
    class Asset:
        tag, kind, make, model = "K7MX2QR", "badge-reader", "HID", "Signo 20 with a very long model name indeed"
        room = "Großraumbüro Nord — 会议室 and a room name far too long for any label"

    pdf = qr.labels_pdf([Asset()], qr.PAPERS["62mm"], "http://fieldkit.test")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "K7MX2QR" in text and "Großraumbüro" in text and "..." in text
