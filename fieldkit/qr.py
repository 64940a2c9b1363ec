"""QR labels for assets: the QR of BASE_URL/t/<tag>, the tag in large text, kind and room.

One layout (positions in millimetres) is drawn by two painters: fpdf2 for the PDF that is printed
and Pillow for the PNG preview, so the preview shows exactly where each label falls on the sheet.
The QR is drawn as filled rectangles, crisp at any printer resolution.
"""
import io
from dataclasses import dataclass
from functools import lru_cache

import qrcode
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from . import pdffonts
from .errors import ValidationError
from .inventory import kind_name
from .models import Asset
from .pdffonts import Fonts

MAX_LABELS = 1000
QUIET_ZONE = 4  # modules of white around a QR, as the standard asks
PT = 25.4 / 72  # millimetres per point


@dataclass(frozen=True)
class Paper:
    """A label stock: page size, grid and label size in millimetres."""

    key: str
    title: str
    page_w: float
    page_h: float
    cols: int
    rows: int
    label_w: float
    label_h: float
    left: float = 0
    top: float = 0
    gap_x: float = 0
    gap_y: float = 0
    pad: float = 2.0

    @property
    def per_page(self) -> int:
        return self.cols * self.rows


PAPERS = {
    "a4": Paper("a4", "A4 · 24 labels, 63.5 × 33.9 mm (Avery L7159)",
                210, 297, 3, 8, 63.5, 33.9, left=7.25, top=12.9, gap_x=2.5),
    "letter": Paper("letter", "US Letter · 30 labels, 2⅝ × 1 in (Avery 5160)",
                    215.9, 279.4, 3, 10, 66.675, 25.4, left=4.7625, top=12.7, gap_x=3.175, pad=1.2),
    "62mm": Paper("62mm", "62 mm label printer · 62 × 29 mm (Brother DK-11209)",
                  62, 29, 1, 1, 62, 29, pad=1.5),
}


@dataclass(frozen=True)
class Text:
    x: float
    top: float
    max_w: float
    size: float  # points; painters shrink it until the text fits max_w, then shorten it
    text: str
    bold: bool = False
    mono: bool = False
    min_size: float = 6.5


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    qr_x: float
    qr_y: float
    qr_size: float
    modules: tuple[tuple[bool, ...], ...]
    texts: tuple[Text, ...]


def label_url(base_url: str, tag: str) -> str:
    """What a label's QR holds: any phone camera opens the asset from it."""
    return f"{base_url.rstrip('/')}/t/{tag}"


@lru_cache(maxsize=4096)
def qr_modules(text: str) -> tuple[tuple[bool, ...], ...]:
    """The QR matrix of `text` with its quiet zone (error correction M: survives scuffs and a bit of glare).

    Choosing the best mask is most of the work, so matrices are kept: a preview then a PDF costs one search.
    """
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(text)
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


def paper_for(key: str | None) -> Paper:
    paper = PAPERS.get((key or "a4").lower())
    if paper is None:
        raise ValidationError(f"Paper '{str(key)[:20]}' is not one of {', '.join(PAPERS)}.", "bad_paper")
    return paper


def layout(assets: list[Asset], paper: Paper, base_url: str, skip: int = 0) -> list[list[Label]]:
    """Pages of labels; `skip` leaves the first positions of the first sheet empty (a partly used sheet)."""
    if not assets:
        raise ValidationError("There are no assets to print labels for.", "no_assets")
    if len(assets) > MAX_LABELS:
        raise ValidationError(f"Print at most {MAX_LABELS} labels at a time.", "too_many_labels")
    if not 0 <= skip < paper.per_page:
        raise ValidationError(f"Skip between 0 and {paper.per_page - 1} labels.", "bad_skip")
    pages: list[list[Label]] = []
    for n, asset in enumerate(assets, skip):
        if n % paper.per_page == 0 or not pages:
            pages.append([])
        slot = n % paper.per_page
        col, row = slot % paper.cols, slot // paper.cols
        x = paper.left + col * (paper.label_w + paper.gap_x)
        y = paper.top + row * (paper.label_h + paper.gap_y)
        pages[-1].append(_label(asset, paper, base_url, x, y))
    return pages


def _label(asset: Asset, paper: Paper, base_url: str, x: float, y: float) -> Label:
    pad = paper.pad
    qr_size = paper.label_h - 2 * pad
    text_x = x + pad + qr_size + 1
    text_w = x + paper.label_w - pad - text_x
    h = paper.label_h - 2 * pad
    tag_size = min(h * 0.36 / PT, 30)
    small = min(max(h * 0.16 / PT, 6), 10)
    kind = kind_name(asset.kind).upper()
    maker = " ".join(part for part in (asset.make, asset.model) if part)
    texts = [Text(text_x, y + pad + h * 0.04, text_w, tag_size, asset.tag, bold=True, mono=True),
             Text(text_x, y + pad + h * 0.46, text_w, small, kind, bold=True),
             Text(text_x, y + pad + h * 0.64, text_w, small, asset.room or "No room yet")]
    if maker:
        texts.append(Text(text_x, y + pad + h * 0.82, text_w, small * 0.9, maker))
    return Label(x=x, y=y, qr_x=x + pad, qr_y=y + pad, qr_size=qr_size,
                 modules=qr_modules(label_url(base_url, asset.tag)), texts=tuple(texts))


def _runs(modules: tuple[tuple[bool, ...], ...]):
    """(row, first column, length) of each horizontal run of dark modules: far fewer shapes than modules."""
    for r, line in enumerate(modules):
        c = 0
        while c < len(line):
            if line[c]:
                start = c
                while c < len(line) and line[c]:
                    c += 1
                yield r, start, c - start
            else:
                c += 1


# --------------------------------------------------------------------------- PDF


def labels_pdf(assets: list[Asset], paper: Paper, base_url: str, skip: int = 0) -> bytes:
    """A PDF of label pages for `paper`, ready to print at 100 % (no 'fit to page')."""
    pages = layout(assets, paper, base_url, skip)
    pdf = FPDF(unit="mm", format=(paper.page_w, paper.page_h))
    fonts = Fonts(pdf)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_title("FieldKit asset labels")
    pdf.set_creator("FieldKit")
    pdf.set_fill_color(0, 0, 0)
    pdf.set_text_color(0, 0, 0)
    for labels in pages:
        pdf.add_page()
        for label in labels:
            module = label.qr_size / len(label.modules)
            for r, c, length in _runs(label.modules):
                pdf.rect(label.qr_x + c * module, label.qr_y + r * module, length * module, module, style="F")
            for text in label.texts:
                _pdf_text(pdf, fonts, text)
    return bytes(pdf.output())


def _pdf_text(pdf: FPDF, fonts: Fonts, text: Text) -> None:
    family, style = (fonts.mono if text.mono else fonts.sans), ("B" if text.bold else "")

    def width(value: str, size: float) -> float:
        pdf.set_font(family, style, size)
        return pdf.get_string_width(value)

    value, size = _fit(fonts.clean(text.text), text, width)
    pdf.set_font(family, style, size)
    pdf.text(text.x, text.top + size * PT * 0.8, value)


def _fit(value: str, text: Text, width) -> tuple[str, float]:
    """Shrink the font down to its minimum, then shorten the text with '...', until it fits the label."""
    size = text.size
    while width(value, size) > text.max_w and size > text.min_size:
        size -= 0.5
    shortened = value
    while width(value, size) > text.max_w and len(shortened) > 1:
        shortened = shortened[:-1]
        value = shortened.rstrip() + "..."
    return value, size


# --------------------------------------------------------------------------- PNG preview


def labels_png(assets: list[Asset], paper: Paper, base_url: str, skip: int = 0, page: int = 1,
               dpi: int = 150) -> bytes:
    """One page of the label sheet as PNG, with the label outlines drawn in grey."""
    pages = layout(assets, paper, base_url, skip)
    if not 1 <= page <= len(pages):
        raise ValidationError(f"There are {len(pages)} pages of labels; ask for page 1 to {len(pages)}.", "bad_page")
    scale = dpi / 25.4
    image = Image.new("RGB", (round(paper.page_w * scale), round(paper.page_h * scale)), "white")
    draw = ImageDraw.Draw(image)
    for slot in range(paper.per_page):
        col, row = slot % paper.cols, slot // paper.cols
        x = paper.left + col * (paper.label_w + paper.gap_x)
        y = paper.top + row * (paper.label_h + paper.gap_y)
        draw.rounded_rectangle([x * scale, y * scale, (x + paper.label_w) * scale - 1, (y + paper.label_h) * scale - 1],
                               radius=round(2 * scale), outline=(200, 205, 210))
    for label in pages[page - 1]:
        module = label.qr_size / len(label.modules) * scale
        for r, c, length in _runs(label.modules):
            left, top = label.qr_x * scale + c * module, label.qr_y * scale + r * module
            draw.rectangle([round(left), round(top), round(left + length * module) - 1, round(top + module) - 1],
                           fill="black")
        for text in label.texts:
            _png_text(draw, text, scale)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _png_text(draw: ImageDraw.ImageDraw, text: Text, scale: float) -> None:
    def width(value: str, size: float) -> float:
        return _font(text, size, scale).getlength(value) / scale

    value, size = _fit(text.text, text, width)
    draw.text((text.x * scale, text.top * scale), value, fill="black", font=_font(text, size, scale))


@lru_cache(maxsize=64)
def _font_file(mono: bool, bold: bool, pixels: int):
    name = pdffonts.FILES[("mono" if mono else "sans", "B" if bold else "")]
    folder = pdffonts.font_dir()
    try:
        return ImageFont.truetype(str(folder / name) if folder else name, pixels)
    except OSError:  # no DejaVu on this machine: Pillow's own font still shows the layout
        return ImageFont.load_default(size=pixels)


def _font(text: Text, size: float, scale: float):
    return _font_file(text.mono, text.bold, max(1, round(size * PT * scale)))
