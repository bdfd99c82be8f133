"""The witness's receipt on paper: a QR code of the status page's address (never the code,
which is secret) and a one-page PDF in the witness's language.

fpdf2's built-in fonts cover Spanish and English (Latin-1); nothing in the PDF loads from
anywhere. The receipt code is printed in a fixed-width font so 0 and 8 are not mistaken.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import segno

from portal.web.i18n import Translator


def _qr(url: str) -> segno.QRCode:
    # Medium error correction: a folded or smudged printout still scans.
    return segno.make_qr(url, error="m")


def qr_svg(url: str, *, label: str) -> str:
    """Inline SVG markup (the pages' CSP refuses images from data: addresses)."""
    svg: str = _qr(url).svg_inline(scale=5, border=4, title=label)
    return svg


def _latin1(text: str) -> str:
    return text.encode("latin-1", "backslashreplace").decode("latin-1")


def receipt_pdf(
    t: Translator,
    *,
    code: str,
    files: Sequence[Any],
    unfinished: Sequence[dict[str, Any]],
    status_url: str,
) -> bytes:
    """One A4 page (more if there are many files): code, files with hashes, QR code."""
    # Imported here: only a printed receipt needs fpdf2.
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_title(_latin1(t("receipt.pdf_title")))
    width = pdf.w - 2 * pdf.l_margin

    def block(text: str, size: int, style: str = "", font: str = "Helvetica") -> None:
        pdf.set_font(font, style, size)
        pdf.multi_cell(width, size * 0.5, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)

    block(t("receipt.pdf_title"), 20, "B")
    block(t("upload.code_heading"), 12, "B")
    block(code, 13, "B", font="Courier")
    block(t("receipt.keep_code"), 10)
    for f in files:
        pdf.ln(2)
        block(f.name, 12, "B")
        block(f"{t('file.size')}: {t.size(f.size)} ({t('file.bytes', n=t.number(f.size))})", 10)
        block(f"{t('file.sha256')}:", 10)
        block(f.sha256, 9, font="Courier")
        block(f"{t('file.received')}: {t.when(f.received_at)}", 10)
        block(t("file.log_entry_text", n=f.log_index), 10)
    if not files:
        block(t("receipt.none"), 11)
    if unfinished:
        pdf.ln(2)
        block(t("receipt.unfinished_heading"), 12, "B")
        for u in unfinished:
            block(t("receipt.unfinished_item", name=u["name"], pct=u["pct"]), 10)
    pdf.ln(2)
    png = io.BytesIO()
    _qr(status_url).save(png, kind="png", scale=8, border=4)
    png.seek(0)
    pdf.image(png, w=45, h=45)
    block(status_url, 10, "B")
    block(t("receipt.qr_note"), 9)
    return bytes(pdf.output())
