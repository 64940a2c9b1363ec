"""The handover pack: a PDF an office owner can read, rendered from a sign-off snapshot.

The pack shows exactly what the client signed (the latest sign-off's snapshot, whose SHA-256 it prints),
or, before any sign-off, the site as it stands now, marked as not signed. Text is set in DejaVu
where the machine has it, else in the PDF core fonts (see pdffonts.py). The signature image keeps whatever
the signer wrote.
"""
import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from .dates import day, first_upper, moment
from .pdffonts import Fonts
from .photos import thumb_path
from .readiness import check_measurement
from .wording import verdict_label

MAX_THUMBNAILS = 240
THUMBS_PER_ROW = 4
INK = (20, 33, 43)
MUTED = (91, 107, 118)
BRAND = (15, 76, 92)
LINE = (216, 224, 229)
HEAD_FILL = (243, 246, 248)
ZEBRA = (250, 251, 252)
MAX_CELL_LINES = 40
NOTE_CHARS = 1000          # about 20 lines of a table cell; the rest of a note stays in FieldKit
ROOMS_IN_TABLE = 300       # a longer list of rooms is printed below the facts, where it may run onto the next page
VERDICT_COLOURS = {"GO": ((23, 112, 58), (227, 244, 232)), "AT_RISK": ((138, 90, 0), (255, 243, 214)),
                   "NO_GO": ((179, 38, 30), (253, 231, 229))}
RESULT_WORDS = {"pass": "Pass", "fail": "Failed", "todo": "Not done", "na": "Not applicable"}


def thumbnail_path(photo_dir: str, sha256: str) -> Path | None:
    """The photo store's thumbnail of the photo with this content hash, or None when the file is gone."""
    path = thumb_path(photo_dir, sha256)
    return path if path.is_file() else None


def _when(value: str | None) -> str:
    return moment(value) if value else ""


def _number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def measurement_lines(item: dict) -> list[str]:
    """'Download speed: 612 Mbps (needs at least 500 Mbps) - OK' for every threshold of an item; whether a
    reading meets its threshold is readiness's rule."""
    lines = []
    for name, rule in sorted(item.get("thresholds", {}).items()):
        label = rule.get("label") or name.replace("_", " ").capitalize()
        unit = f" {rule['unit']}" if rule.get("unit") else ""
        need = (f"needs at least {_number(rule['min'])}{unit}" if "min" in rule
                else f"needs at most {_number(rule.get('max'))}{unit}")
        value = item.get("measurements", {}).get(name)
        found = check_measurement(name, value, rule)
        if found and found[0] == "missing":
            lines.append(f"{label}: not measured ({need})")
            continue
        lines.append(f"{label}: {_number(value)}{unit} ({need}) - {'OK' if found is None else 'NOT MET'}")
    return lines


class Pack(FPDF):
    def __init__(self, site_name: str):
        super().__init__(format="A4", unit="mm")
        self.site_name = site_name
        self.faces = Fonts(self)
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=18)
        self.set_title(self.faces.clean(f"Handover pack - {site_name}"))
        self.set_draw_color(*LINE)
        self.set_creator("FieldKit")
        self.alias_nb_pages()
        self._char_widths: dict[tuple, dict[str, float]] = {}

    def text_width(self, text: str) -> float:
        """Width of `text` in the current font, each character measured once per font and size.

        Widths add up (no kerning or shaping is on), and fpdf2's get_string_width runs its bidi
        pre-pass on every call, far too slow for a few thousand characters."""
        widths = self._widths()
        return sum(widths[char] if char in widths else self._measure(widths, char) for char in text)

    def _widths(self) -> dict[str, float]:
        return self._char_widths.setdefault((self.font_family, self.font_style, self.font_size_pt), {})

    def _measure(self, widths: dict[str, float], char: str) -> float:
        widths[char] = self.get_string_width(char)
        return widths[char]

    def shortened(self, text: str, room: float) -> str:
        """`text`, cut with '...' when it is wider than `room` in the current font."""
        if self.text_width(text) <= room:
            return text
        return text[:self.fitting(text, room - self.text_width("..."))[0]] + "..."

    def fitting(self, text: str, room: float) -> tuple[int, float]:
        """(how many leading characters of `text` fit in `room`, their width): at least one character."""
        used, widths = 0.0, self._widths()
        for count, char in enumerate(text):
            width = widths[char] if char in widths else self._measure(widths, char)
            if count and used + width > room:
                return count, used
            used += width
        return len(text), used

    def footer(self):
        self.set_y(-12)
        self.set_font(self.faces.sans, size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.shortened(self.faces.clean(f"Handover pack - {self.site_name}"), self.epw - 30),
                  align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")

    def heading(self, text: str, size: float = 16) -> None:
        if self.get_y() > self.h - 50:
            self.add_page()
        self.set_font(self.faces.sans, "B", size)
        self.set_text_color(*BRAND)
        self.multi_cell(0, size * 0.5, self.faces.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        self.ln(2)

    def para(self, text: str, size: float = 10, style: str = "", colour=INK, height: float | None = None) -> None:
        self.set_font(self.faces.sans, style, size)
        self.set_text_color(*colour)
        self.multi_cell(0, height or size * 0.5, self.faces.clean(text), align="L", new_x=XPos.LMARGIN,
                        new_y=YPos.NEXT)
        self.set_text_color(*INK)


    def grid(self, widths: tuple, header: list[str], rows, *, size: float = 8.5, line: float = 4.4,
             zebra: bool = False) -> None:
        """A long table drawn fast: each cell is measured once, a page break repeats the header.

        `rows` yields lists of cells, each a text or (text, font style, colour). fpdf2's table() measures
        every cell twice through its general layout engine, which takes seconds for thousands of rows.
        """
        pad_x, pad_y = 1.5, 1.2
        self.set_font(self.faces.sans, "B", size)
        head = [[(self.faces.clean(text), "B", INK)] for text in header]

        widths_of: dict[tuple[str, str], float] = {}  # (style, word) -> width at this size

        def measure(word: str, style: str) -> float:
            width = widths_of.get((style, word))
            if width is None:
                self.set_font(self.faces.sans, style, size)
                width = widths_of[style, word] = self.text_width(word)
            return width

        def lines(cell, width) -> list:
            text, style, colour = (cell, "", INK) if isinstance(cell, str) else cell
            found = []
            for part in self.faces.clean(text).split("\n"):
                found += wrap(part, width - 2 * pad_x, style, MAX_CELL_LINES + 1 - len(found))
                if len(found) > MAX_CELL_LINES:
                    found = [*found[:MAX_CELL_LINES - 1], "(more in FieldKit)"]
                    break
            return [(text, style, colour) for text in found or [""]]

        def wrap(part: str, room: float, style: str, limit: int) -> list[str]:
            """Greedy word wrap, at most `limit` lines, each word measured once per table; a word wider
            than the column is cut where it fills the line, walking its characters once."""
            done, line_words, used, space = [], [], 0.0, measure(" ", style)
            for word in part.split(" "):
                width = measure(word, style)
                if line_words and used + space + width <= room:
                    line_words.append(word)
                    used += space + width
                    continue
                if line_words:
                    done.append(" ".join(line_words))
                while width > room and len(word) > 1 and len(done) < limit:
                    cut, filled = self.fitting(word, room)
                    done.append(word[:cut])
                    word, width = word[cut:], width - filled
                if len(done) >= limit:
                    return done
                line_words, used = [word], width
            done.append(" ".join(line_words))
            return done

        def draw(cells: list[list], fill) -> None:
            height = max(len(cell) for cell in cells) * line + 2 * pad_y
            top, x = self.get_y(), self.l_margin
            if fill:
                self.set_fill_color(*fill)
                self.rect(x, top, sum(widths), height, style="F")
            for width, cell in zip(widths, cells, strict=True):
                for n, (text, style, colour) in enumerate(cell):
                    self.set_font(self.faces.sans, style, size)
                    self.set_text_color(*colour)
                    self.text(x + pad_x, top + pad_y + n * line + line * 0.72, text)  # baseline of the line
                x += width
            self.line(self.l_margin, top + height, self.l_margin + sum(widths), top + height)
            self.set_xy(self.l_margin, top + height)

        draw(head, HEAD_FILL)
        for number, row in enumerate(rows):
            cells = [lines(cell, width) for cell, width in zip(row, widths, strict=True)]
            if self.get_y() + max(len(c) for c in cells) * line + 2 * pad_y > self.page_break_trigger:
                self.add_page()
                draw(head, HEAD_FILL)
            draw(cells, ZEBRA if zebra and number % 2 else None)
        self.set_text_color(*INK)


def render(snapshot: dict, out, *, sha256: str | None = None, signature_png: bytes | None = None,
           thumbnail: Callable[[str], Path | None] = lambda sha: None, verify_url: str = "",
           changed_after_signoff: bool = False, generated: datetime | None = None) -> None:
    """Write the handover pack of `snapshot` (signoff.build_snapshot's shape) as a PDF into `out`."""
    site = snapshot["site"]
    pdf = Pack(site["name"])
    _cover(pdf, snapshot, sha256, changed_after_signoff, generated or datetime.now())
    _exceptions(pdf, snapshot)
    _inventory(pdf, snapshot)
    _checklist(pdf, snapshot)
    _evidence(pdf, snapshot, thumbnail)
    _signature(pdf, snapshot, sha256, signature_png, verify_url)
    pdf.output(out)


def _cover(pdf: Pack, snapshot: dict, sha256: str | None, changed: bool, generated: datetime) -> None:
    site, verdict = snapshot["site"], snapshot["verdict"]
    pdf.add_page()
    pdf.set_fill_color(*BRAND)
    pdf.rect(0, 0, pdf.w, 8, style="F")
    pdf.ln(12)
    pdf.para("HANDOVER PACK", 11, "B", MUTED)
    pdf.ln(2)
    pdf.para(site["name"], 24, "B", INK, height=11)
    pdf.para(site["client"], 14, "", MUTED, height=8)
    if site.get("address"):
        pdf.para(site["address"], 11, "", MUTED)
    pdf.ln(8)

    text, fill = VERDICT_COLOURS.get(verdict["status"], (INK, LINE))
    pdf.set_font(pdf.faces.sans, "B", 14)
    word = pdf.faces.clean(verdict_label(verdict["status"], "long"))
    pdf.set_fill_color(*fill)
    pdf.set_text_color(*text)
    pdf.cell(pdf.get_string_width(word) + 12, 11, word, align="C", fill=True)
    pdf.set_fill_color(255, 255, 255)
    pdf.set_text_color(*INK)
    pdf.set_font(pdf.faces.sans, "", 12)
    pdf.cell(0, 11, f"   Readiness score {verdict['score']} out of 100", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)

    signed = snapshot.get("signed_by")
    facts = [("Move-in date", day(site["move_in"])),
             ("Signed off", f"{_when(snapshot['signed_at'])} by {signed['name']}" if signed else "Not signed off yet"),
             ("Pack made", day(generated)),
             ("Checklist", ", ".join(f"{c['title']} (version {c['version']})" for c in site["checklists"]))]
    rooms = ", ".join(site["rooms"])
    # A table row must fit on one page (fpdf2 refuses a taller one): a long list goes below the table.
    facts.append(("Rooms", rooms if len(rooms) <= ROOMS_IN_TABLE else f"{len(site['rooms'])}, listed below"))
    if sha256:
        facts.append(("Fingerprint (SHA-256)", sha256))
    _pairs(pdf, facts)
    if len(rooms) > ROOMS_IN_TABLE:
        pdf.para(f"Rooms: {rooms}", 10)
        pdf.ln(6)
    if changed:
        pdf.set_fill_color(*VERDICT_COLOURS["NO_GO"][1])
        pdf.set_text_color(*VERDICT_COLOURS["NO_GO"][0])
        pdf.set_font(pdf.faces.sans, "B", 10)
        pdf.multi_cell(0, 6, pdf.faces.clean("The site changed after this sign-off. This pack shows the site as it was "
                                    "signed; ask for a new sign-off to include the later changes."),
                       fill=True, padding=3, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_fill_color(255, 255, 255)
        pdf.set_text_color(*INK)
        pdf.ln(4)
    pdf.heading("In this pack", 13)
    counts = (len(snapshot["accepted_exceptions"]), len(snapshot["assets"]), len(snapshot["items"]),
              len(snapshot["photos"]))
    for line in (f"1. Open items accepted at handover ({counts[0]})",
                 f"2. Equipment installed, room by room ({counts[1]} devices)",
                 f"3. Checklist results by area ({counts[2]} checks)",
                 f"4. Photo evidence ({counts[3]} photos)",
                 "5. Sign-off: signature, name, time and fingerprint"):
        pdf.para(line, 11, height=6.5)
    pdf.ln(6)
    pdf.heading("Where the project stands", 13)
    pdf.para(verdict["summary"], 11, height=6)


def _pairs(pdf: Pack, rows: list[tuple[str, str]]) -> None:
    """Label and value rows; hashes are set in a fixed-width font so they can be compared by eye."""
    pdf.set_font(pdf.faces.sans, size=10)
    with pdf.table(col_widths=(45, 135), first_row_as_headings=False, borders_layout="HORIZONTAL_LINES",
                   text_align="LEFT", line_height=6, padding=(1.5, 2)) as table:
        for label, value in rows:
            row = table.row()
            row.cell(pdf.faces.clean(label), style=FontFace(emphasis="B", color=MUTED))
            mono = label.startswith(("Fingerprint", "Replaces"))
            row.cell(pdf.faces.clean(value), style=FontFace(family=pdf.faces.mono, size_pt=9) if mono else None)
    pdf.ln(6)


def _exceptions(pdf: Pack, snapshot: dict) -> None:
    pdf.add_page()
    pdf.heading("1. Open items accepted at handover")
    accepted = snapshot["accepted_exceptions"]
    signed = snapshot.get("signed_by")
    if not accepted:
        pdf.para("None. Every applicable check was complete when the site was signed off." if signed
                 else "Nothing has been accepted yet: the site is not signed off.", 11, height=6)
        return
    pdf.para(f"{signed['name'] if signed else 'The client'} accepted these items as not finished at handover. "
             "Each still needs follow-up.", 10, "", MUTED, height=5.5)
    pdf.ln(3)
    blocker = VERDICT_COLOURS["NO_GO"][0]
    pdf.grid((60, 22, 98), ["Item", "Importance", "What is still open"], (
        [((f"{exc['title']} ({exc['room']})" if exc.get("room") else exc["title"]), "B", INK),
         (exc["severity"].capitalize(), "", blocker if exc["severity"] == "blocker" else INK),
         first_upper("; ".join(_bounded(problem) for problem in exc.get("problems") or ["not finished"]))]
        for exc in accepted), size=9, line=4.8)

def _inventory(pdf: Pack, snapshot: dict) -> None:
    pdf.add_page()
    pdf.heading("2. Equipment installed, room by room")
    assets = snapshot["assets"]
    if not assets:
        pdf.para("No equipment has been recorded for this site.", 11, height=6)
        return
    pdf.para("Every device carries a QR label with its tag. Serial numbers and network (MAC) addresses are "
             "what your IT provider and the manufacturers ask for under warranty.", 10, "", MUTED, height=5.5)
    rooms: dict[str, list[dict]] = {}
    for asset in assets:
        rooms.setdefault(asset.get("room") or "No room recorded", []).append(asset)
    order = [r for r in snapshot["site"]["rooms"] if r in rooms] + sorted(set(rooms) - set(snapshot["site"]["rooms"]))
    for room in order:
        pdf.ln(3)
        pdf.heading(f"{room} ({len(rooms[room])} device{'' if len(rooms[room]) == 1 else 's'})", 12)
        pdf.grid((20, 24, 46, 36, 34, 20), ["Tag", "Kind", "Make and model", "Serial", "MAC address", "Status"], (
            [asset["tag"], asset["kind"],
             " ".join(part for part in (asset.get("make"), asset.get("model")) if part) or "-",
             asset.get("serial") or "-", asset.get("mac") or "-", asset.get("status", "").capitalize()]
            for asset in sorted(rooms[room], key=lambda a: (a["kind"], a["tag"]))), zebra=True)

def _result(item: dict) -> tuple[str, tuple]:
    if item.get("disputed"):
        return "Disputed", (106, 63, 181)
    if item["status"] == "na":
        return "Not applicable", MUTED
    if item.get("ready"):
        return "Done", VERDICT_COLOURS["GO"][0]
    if item.get("failed"):
        return "Failed", VERDICT_COLOURS["NO_GO"][0]
    return ("Not complete" if item["status"] == "pass" else RESULT_WORDS[item["status"]]), VERDICT_COLOURS["AT_RISK"][0]


def _checklist(pdf: Pack, snapshot: dict) -> None:
    pdf.add_page()
    pdf.heading("3. Checklist results by area")
    pdf.para("Each check as the technicians recorded it, with the readings taken on site against what was "
             "required.", 10, "", MUTED, height=5.5)
    categories: dict[str, list[dict]] = {}
    for item in snapshot["items"]:
        categories.setdefault(item["category"], []).append(item)
    summary = snapshot["verdict"].get("categories", {})
    for category, items in categories.items():
        counts = summary.get(category, {})
        pdf.ln(3)
        pdf.heading(f"{category}: {counts.get('ready', 0)} of {counts.get('applicable', len(items))} done", 12)
        pdf.grid((70, 22, 88), ["Check", "Result", "Details"], (_checklist_row(item) for item in items))


def _bounded(text: str) -> str:
    """A technician's free text as the pack prints it: the first NOTE_CHARS characters and a marker."""
    return text if len(text) <= NOTE_CHARS else text[:NOTE_CHARS].rstrip() + "… (full note in FieldKit)"


def _checklist_row(item: dict) -> list:
    word, colour = _result(item)
    details = measurement_lines(item)
    if item.get("note"):
        details.append(f"Note: {_bounded(item['note'])}")
    if not item.get("ready") and item["status"] != "na" and item.get("problems"):
        details.append("Open: " + "; ".join(_bounded(problem) for problem in item["problems"]))
    if item.get("photos"):
        details.append(f"{len(item['photos'])} photo{'' if len(item['photos']) == 1 else 's'}")
    title = f"{item['title']} ({item['room']})" if item.get("room") else item["title"]
    return [title + (" [critical]" if item["severity"] == "blocker" else ""), (word, "B", colour),
            "\n".join(details) or "-"]

def _evidence(pdf: Pack, snapshot: dict, thumbnail: Callable[[str], Path | None]) -> None:
    pdf.add_page()
    pdf.heading("4. Photo evidence")
    photos = snapshot["photos"]
    titles = {item["id"]: (f"{item['title']} ({item['room']})" if item.get("room") else item["title"])
              for item in snapshot["items"]}
    tags = {asset["id"]: f"{asset['tag']} {asset['kind']}" for asset in snapshot["assets"]}
    shown, missing = 0, 0
    gap, size = 4.0, (pdf.epw - 4.0 * (THUMBS_PER_ROW - 1)) / THUMBS_PER_ROW
    box = size * 0.75  # photos are mostly 4:3; a taller one is fitted inside the box
    for photo in photos:
        if shown >= MAX_THUMBNAILS:
            break
        path = thumbnail(photo["sha256"])
        if path is None:
            missing += 1
            continue
        column = shown % THUMBS_PER_ROW
        if column == 0:
            if shown:
                pdf.set_y(pdf.get_y() + box + 12)
            if pdf.get_y() + box + 12 > pdf.h - pdf.b_margin:
                pdf.add_page()
        x, y = pdf.l_margin + column * (size + gap), pdf.get_y()
        try:
            pdf.image(str(path), x=x, y=y, w=size, h=box, keep_aspect_ratio=True)
        except (OSError, ValueError, SyntaxError):  # a damaged file must not stop the pack
            missing += 1
            continue
        caption = titles.get(photo.get("item_id")) or tags.get(photo.get("asset_id")) or "Site photo"
        pdf.set_xy(x, y + box + 1)
        pdf.set_font(pdf.faces.sans, size=7)
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(size, 3.2, pdf.faces.clean(caption[:90]), align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_text_color(*INK)
        pdf.set_xy(pdf.l_margin, y)
        shown += 1
    if shown:
        pdf.set_y(pdf.get_y() + box + 14)
    notes = []
    if not photos:
        notes.append("No photos were taken for this site.")
    if missing:
        notes.append(f"{missing} photo{' is' if missing == 1 else 's are'} not available in this copy of the pack.")
    if len(photos) - shown - missing > 0:
        notes.append(f"The first {shown} photos are shown here; all {len(photos)} are kept in FieldKit.")
    for note in notes:
        pdf.para(note, 10, "", MUTED, height=5.5)


def _signature(pdf: Pack, snapshot: dict, sha256: str | None, signature_png: bytes | None, verify_url: str) -> None:
    pdf.add_page()
    pdf.heading("5. Sign-off")
    signed = snapshot.get("signed_by")
    if not signed:
        pdf.para("This site has not been signed off yet. This pack shows the site as it stood when the pack "
                 "was made.", 11, height=6)
        return
    count = len(snapshot["accepted_exceptions"])
    pdf.para(f"{signed['name']} signed off {snapshot['site']['name']} for {snapshot['site']['client']}, "
             f"accepting the site as described in this pack"
             + (f", including the {count} open item{'' if count == 1 else 's'} in section 1." if count else "."),
             11, height=6)
    pdf.ln(6)
    top = pdf.get_y()
    pdf.set_draw_color(*LINE)
    pdf.rect(pdf.l_margin, top, 100, 45)
    if signature_png:
        pdf.image(io.BytesIO(signature_png), x=pdf.l_margin + 2, y=top + 2, w=96, h=41, keep_aspect_ratio=True)
    pdf.set_y(top + 48)
    rows = [("Signed by", signed["name"]), ("Account", signed["email"]), ("Signed at", _when(snapshot["signed_at"])),
            ("Sign-off version", str(snapshot.get("version") or 1))]
    if snapshot.get("previous_sha256"):
        rows.append(("Replaces the sign-off", snapshot["previous_sha256"]))
    rows.append(("Fingerprint (SHA-256)", sha256 or ""))
    _pairs(pdf, rows)
    pdf.para("How to check this pack: the fingerprint is the SHA-256 of the record FieldKit stored at the "
             "moment of signing. FieldKit recomputes it on request; if anything in the record had changed, "
             "the fingerprints would no longer match."
             + (f" Check it at {verify_url}" if verify_url else ""), 9, "", MUTED, height=5)
