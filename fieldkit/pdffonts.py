"""Fonts for FieldKit's PDFs: DejaVu when the machine has it, so names in any European script print as
written; otherwise the PDF core fonts (Helvetica, Courier), which know Latin-1 only.

DejaVu comes with Debian's fonts-dejavu-core (also pulled in by most desktop and browser packages);
FIELDKIT_FONT_DIR points at another folder holding the same four files. fpdf2 embeds only the glyphs a
document uses, so a pack stays small either way.
"""
import os
import unicodedata
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF

FILES = {("sans", ""): "DejaVuSans.ttf", ("sans", "B"): "DejaVuSans-Bold.ttf",
         ("mono", ""): "DejaVuSansMono.ttf", ("mono", "B"): "DejaVuSansMono-Bold.ttf"}
SEARCHED = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF",
            "/usr/local/share/fonts", "/opt/homebrew/share/fonts", "/Library/Fonts")
# What the core fonts cannot show, made plain; everything else outside Latin-1 becomes '?'.
_PLAIN = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'",
                        "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u2022": "-", "\u2265": ">=",
                        "\u2264": "<=", "\u2192": "->", "\u2713": "v", "\u00a0": " ", "\u20ac": "EUR",
                        "\u202f": " ", "\u2009": " "})
_ASCII_CONTROLS = {code: None for code in [*range(32), 127] if code != ord("\n")}  # dropped for DejaVu


def font_dir() -> Path | None:
    """The first folder (FIELDKIT_FONT_DIR, then the usual places) that holds all four DejaVu files, or None."""
    return _find(os.environ.get("FIELDKIT_FONT_DIR"))


@lru_cache(maxsize=4)
def _find(configured: str | None) -> Path | None:
    for folder in (configured, *SEARCHED):
        if folder and all((Path(folder) / name).is_file() for name in FILES.values()):
            return Path(folder)
    return None


def latin1(text) -> str:
    """Text the PDF core fonts can show: typographic punctuation made plain, anything else outside
    Latin-1 replaced by '?'."""
    text = unicodedata.normalize("NFKC", "" if text is None else str(text)).translate(_PLAIN)
    return text.encode("latin-1", "replace").decode("latin-1")


def unicode_text(text, drawable: frozenset[int]) -> str:
    """Text for DejaVu: composed, control characters dropped, and a '?' for each character the font has
    no glyph for (CJK, emoji), so nothing disappears without a trace."""
    text = ("" if text is None else str(text)).replace("\t", " ")
    if text.isascii():  # the common case: every printable ASCII character is in DejaVu
        return text.translate(_ASCII_CONTROLS)
    text = unicodedata.normalize("NFC", text)
    return "".join(ch if ord(ch) in drawable or ch == "\n" else "?" for ch in text
                   if ch == "\n" or unicodedata.category(ch)[0] != "C")


class Fonts:
    """The families a document sets its text in, and how its text is prepared for them.

    `Fonts(pdf)` registers DejaVu with the document when it is available; `sans` and `mono` are the family
    names to pass to set_font, and `clean(text)` is applied to every string drawn."""

    def __init__(self, pdf: FPDF):
        found = font_dir()
        self.unicode = found is not None
        if found is None:
            self.sans, self.mono, self.clean = "Helvetica", "Courier", latin1
            return
        self.sans, self.mono = "DejaVu", "DejaVuMono"
        for (family, style), name in FILES.items():
            pdf.add_font(self.sans if family == "sans" else self.mono, style, str(found / name))
        drawable = frozenset(pdf.fonts["dejavu"].cmap)

        def clean(text) -> str:
            return unicode_text(text, drawable)

        self.clean = clean
