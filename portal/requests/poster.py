"""The request's QR code (PNG, SVG) and its printable bilingual poster (PDF).

segno makes the QR code (pure Python, no image library needed for PNG or SVG); fpdf2 lays
out the poster with the built-in fonts, which cover Spanish and English (Latin-1; anything
else becomes a visible escape, as in the custody report). Nothing on it loads from anywhere.
"""

from __future__ import annotations

import io

import segno

from portal.clock import as_utc
from portal.requests.models import EvidenceRequest


def _qr(url: str) -> segno.QRCode:
    # Medium error correction: survives a crease or a smudge on a printed poster.
    return segno.make_qr(url, error="m")


def qr_png(url: str, *, scale: int = 10) -> bytes:
    out = io.BytesIO()
    _qr(url).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_svg(url: str) -> bytes:
    out = io.BytesIO()
    _qr(url).save(out, kind="svg", scale=8, border=4, xmldecl=True, svgns=True)
    return out.getvalue()


def _latin1(text: str) -> str:
    return text.encode("latin-1", "backslashreplace").decode("latin-1")


def _window(req: EvidenceRequest) -> str:
    if req.window_start is None or req.window_end is None:
        return ""
    fmt = "%Y-%m-%d %H:%M UTC"
    return f"{as_utc(req.window_start).strftime(fmt)} - {as_utc(req.window_end).strftime(fmt)}"


def poster_pdf(req: EvidenceRequest, url: str) -> bytes:
    """One A4 page: the request in Spanish then English, the QR code, the address and code."""
    # Imported here: fpdf2 and Pillow cost every instance memory; only a poster needs them.
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    width = pdf.w - 2 * pdf.l_margin

    def block(text: str, size: int, style: str = "") -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, size * 0.5, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)

    block(req.title_es, 22, "B")
    block(req.description_es, 12)
    block(req.title_en, 16, "B")
    block(req.description_en, 11)
    block(f"{req.place}   {_window(req)}".strip(), 11, "I")
    pdf.image(io.BytesIO(qr_png(url)), x=(pdf.w - 80) / 2, w=80, h=80)
    pdf.ln(4)
    block(url, 12, "B")
    block(f"Código / Code: {req.code}", 14, "B")
    block(
        "Responder es voluntario. Puede hacerlo de forma anónima. "
        "Solo el equipo de investigación verá su video.",
        10,
    )
    block(
        "Answering is voluntary. You may stay anonymous. "
        "Only the investigation team will see your video.",
        10,
    )
    return bytes(pdf.output())
