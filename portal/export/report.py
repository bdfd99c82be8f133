"""The custody report: a PDF a judge can read, one section per item, every event in it.

Made with fpdf2 (pure Python, typed, maintained by the py-pdf project). The built-in PDF
fonts cover Latin-1, which holds Spanish and English; any other character is written as a
visible `\\uXXXX` escape rather than dropped, so nothing is silently changed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from portal.export.plan import ItemPlan, LoggedEvent, Plan

_WHAT: dict[str, str] = {
    "consent.given": "The witness gave consent",
    "consent.withdrawn": "The witness withdrew consent",
    "submission.created": "The witness opened the submission",
    "upload.created": "The upload of this file began",
    "upload.completed": "The last byte of this file arrived; its SHA-256 was fixed",
    "upload.terminated": "An unfinished upload was cancelled",
    "evidence.received": "The original was stored, write-once, under its SHA-256",
    "evidence.derived": "The portal read the original to extract metadata and a thumbnail",
    "evidence.listed": "Listed in a queue or case view",
    "evidence.viewed": "Opened (detail and metadata)",
    "evidence.thumbnail_viewed": "Thumbnail viewed",
    "evidence.stream_opened": "Playback started",
    "evidence.streamed": "Playback ended",
    "evidence.downloaded": "The whole original was downloaded (checked against its SHA-256)",
    "evidence.triaged": "Triaged",
    "evidence.linked": "Linked to a case",
    "evidence.unlinked": "Unlinked from a case",
    "evidence.timeline_viewed": "Custody timeline viewed",
    "evidence.integrity_failed": "Stored bytes did NOT match the recorded SHA-256",
    "evidence.exported": "Exported in a court bundle",
    "evidence.purge_started": "Destruction began, on the decision named here",
    "evidence.purge_halted": "Destruction was called off; the item is kept under its rules",
    "evidence.purged": "The original was destroyed",
    "witness.contact_viewed": "The witness's contact details were viewed",
    "witness.details_erased": "The witness's contact details were erased",
    "case.created": "The case was opened",
    "case.closed": "The case was closed",
    "case.reopened": "The case was reopened",
    "retention.changed": "Retention date changed",
    "retention.overridden": "Retention override set or removed",
    "hold.placed": "Legal hold placed",
    "hold.released": "Legal hold released",
    "disposition.approved": "Destruction approved",
}


def pdf_text(text: str) -> str:
    """Latin-1 for the built-in fonts; anything else as a visible escape."""
    return text.encode("latin-1", "backslashreplace").decode("latin-1")


def _value(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(", ", ": "))
    return s if len(s) <= 400 else s[:400] + " ..."


def describe(event: dict[str, Any]) -> str:
    kind = str(event.get("type"))
    details = event.get("details")
    details = details if isinstance(details, dict) else {}
    head = _WHAT.get(kind, kind)
    facts = "; ".join(f"{k}: {_value(v)}" for k, v in sorted(details.items()))
    return f"{head} [{kind}]" + (f". {facts}" if facts else "")


def _when(at: str) -> str:
    """'2025-01-02T03:04:05.123456Z' as '2025-01-02 03:04:05 UTC'."""
    try:
        t = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return at
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


class _Report(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("helvetica", size=7)
        self.cell(0, 5, pdf_text(f"{self.footer_text}   page {self.page_no()}/{{nb}}"), align="C")

    def heading(self, text: str, size: float = 13) -> None:
        self.set_font("helvetica", "B", size)
        self.multi_cell(0, size * 0.5, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)

    def para(self, text: str, size: float = 9.5) -> None:
        self.set_font("helvetica", size=size)
        self.multi_cell(
            0, size * 0.5, pdf_text(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.ln(1)

    def field(self, label: str, value: str, mono: bool = False) -> None:
        self.set_font("helvetica", "B", 9)
        self.cell(38, 5, pdf_text(label))
        self.set_font("courier" if mono else "helvetica", size=8.5 if mono else 9)
        self.multi_cell(0, 5, pdf_text(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _new_document(plan: Plan) -> _Report:
    """A4 pages with the footer, and metadata dated at the export rather than now."""
    pdf = _Report(orientation="portrait", unit="mm", format="A4")
    pdf.footer_text = f"Custody report, case {plan.case.id}, exported {_when(plan.exported_at)}"
    pdf.set_creation_date(datetime.fromisoformat(plan.exported_at.replace("Z", "+00:00")))
    pdf.set_title(pdf_text(f"Custody report: {plan.case.title}"))
    pdf.set_author("portal")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.alias_nb_pages()
    pdf.add_page()
    return pdf


def _cover(pdf: _Report, plan: Plan) -> None:
    pdf.heading("Chain of custody report", 18)
    pdf.field("Case", plan.case.title)
    pdf.field("Case reference", plan.case.reference or "(none)")
    pdf.field("Case id", plan.case.id, mono=True)
    pdf.field("Offense class", plan.case.offense)
    pdf.field("Exported at", _when(plan.exported_at))
    pdf.field("Exported by", plan.label(plan.exported_by))
    pdf.field("Items", str(len(plan.items)))
    pdf.field(
        "Witness identity",
        "INCLUDED at the exporter's request"
        if plan.include_witness_identity
        else "withheld (not in this bundle)",
    )
    pdf.ln(2)


def _how_to_check(pdf: _Report, plan: Plan) -> None:
    pdf.heading("How this record can be checked", 11)
    pdf.para(
        "Every event below is an entry of the portal's append-only custody log, a Merkle tree "
        "(RFC 9162). The bundle holds each event exactly as logged, with a proof that it is "
        f"included in the log as of one checkpoint ({plan.checkpoint_size} entries) signed with "
        "the log's Ed25519 key. Each original file is in the bundle byte for byte; its SHA-256 "
        "is printed below and is also written into the log event made when the file arrived. "
        "Anyone can check all of this offline with the command "
        "'portal verify-bundle bundle.zip --public-key KEY', using the log's public key "
        "obtained from a trusted source. Times are UTC."
    )
    pdf.field("Log origin", plan.origin, mono=True)
    pdf.field("Checkpoint size", str(plan.checkpoint_size))
    pdf.field("Checkpoint root", plan.checkpoint_root.hex(), mono=True)
    pdf.field("Log public key", plan.public_key, mono=True)


def render(plan: Plan) -> bytes:
    pdf = _new_document(plan)
    _cover(pdf, plan)
    _how_to_check(pdf, plan)
    if plan.case_events:
        pdf.ln(3)
        pdf.heading("Case history", 13)
        _events_table(pdf, plan, [plan.events[i] for i in plan.case_events])

    for n, item in enumerate(plan.items, 1):
        pdf.add_page()
        _item(pdf, plan, n, item)
    out = pdf.output()
    return bytes(out)


def _item(pdf: _Report, plan: Plan, n: int, item: ItemPlan) -> None:
    pdf.heading(f"Item {n} of {len(plan.items)}: {item.filename}")
    pdf.field("SHA-256", item.sha256, mono=True)
    pdf.field("Size", f"{item.size:,} bytes")
    pdf.field("Media type", item.media_type)
    pdf.field("Received at", _when(item.received_at))
    pdf.field("Evidence id", item.evidence_id, mono=True)
    pdf.field("Submission", item.submission_id, mono=True)
    pdf.field("File in bundle", item.path, mono=True)
    pdf.field("Receipt log entry", str(item.log_index))
    consent = item.consent
    pdf.field(
        "Consent",
        f"version {consent['version']}, scopes: {', '.join(consent['scopes'])}; "
        f"given {_when(consent['given_at'])}",
    )
    if item.witness is not None:
        contact = ", ".join(f"{k}: {v}" for k, v in sorted(item.witness.items()))
        pdf.field("Witness contact", contact or "the witness left no contact details")
    pdf.ln(2)
    pdf.set_font("helvetica", "B", 11)
    pdf.cell(0, 6, pdf_text(f"Custody events ({len(item.events)})"))
    pdf.ln(7)
    _events_table(pdf, plan, [plan.events[i] for i in item.events])


def _events_table(pdf: FPDF, plan: Plan, events: list[LoggedEvent]) -> None:
    pdf.set_font("helvetica", size=8)
    with pdf.table(
        col_widths=(12, 30, 45, 93),
        text_align="LEFT",
        line_height=4,
        padding=1,
        headings_style=FontFace(emphasis="BOLD", fill_color=(225, 225, 225)),
    ) as table:
        head = table.row()
        for title in ("Log #", "When", "Who", "What"):
            head.cell(title)
        for ev in events:
            obj = ev.obj
            row = table.row()
            row.cell(str(ev.index))
            row.cell(pdf_text(_when(str(obj.get("at")))))
            row.cell(pdf_text(plan.label(str(obj.get("actor")))))
            row.cell(pdf_text(describe(obj)))
