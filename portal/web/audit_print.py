"""The access report's rows in the reader's language, and its CSV and PDF (fpdf2, as the
custody report and the receipt are made)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from portal.custody.audit.access import AccessReport, Category, Flag, Line
from portal.custody.service import rfc3339
from portal.web.i18n import Translator

COLUMNS = ("seq", "at", "staff", "event", "category", "subject", "flags", "leaf_hash", "details")


@dataclass(frozen=True)
class Row:
    seq: int
    at: str  # UTC, RFC 3339: what the log entry says
    local: str  # the same moment in the portal's zone, for reading
    staff: str
    event: str
    event_type: str
    category: str
    subject: str
    flags: list[str]
    leaf_hash: str
    details: str


@dataclass(frozen=True)
class Shown:
    report: AccessReport
    names: dict[str, str]
    subject: str  # the staff member's name or the item's id, as asked
    t: Translator

    def _event(self, kind: str) -> str:
        key = "event." + kind
        return kind if key not in self.t.catalogue else self.t(key)

    def _row(self, line: Line) -> Row:
        who = self.names.get(line.staff_id, line.actor) if line.staff_id else line.actor
        return Row(
            seq=line.seq,
            at=rfc3339(line.at),
            local=self.t.when(line.at),
            staff=who,
            event=self._event(line.type),
            event_type=line.type,
            category=self.t("audit.category." + line.category),
            subject=line.subject,
            flags=[self.t("audit.flag." + f) for f in line.flags],
            leaf_hash=line.leaf_hash,
            details=json.dumps(line.details, sort_keys=True, ensure_ascii=False),
        )

    @cached_property
    def rows(self) -> list[Row]:
        return [self._row(line) for line in self.report.lines]

    @property
    def file_name(self) -> str:
        r = self.report
        who = r.staff_id or r.evidence_id or "log"
        return f"access-{who}-{r.start.date().isoformat()}-{r.end.date().isoformat()}"

    @property
    def how_to_check(self) -> str:
        cp = self.report.checkpoint
        return self.t("audit.how_to_check", size=cp.size if cp else 0)


def csv_text(shown: Shown) -> str:
    """The table, after `#` lines (the subject, the signed checkpoint, how to prove a line)
    that CSV readers told to skip comments pass over."""
    out = io.StringIO()
    head = [f"{shown.t('audit.title')}: {shown.subject}"]
    cp = shown.report.checkpoint
    if cp is not None:
        head += cp.note.rstrip("\n").split("\n")
    head.append(shown.how_to_check)
    out.writelines(f"# {line}\r\n" for line in head)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in shown.rows:
        writer.writerow(
            [
                r.seq,
                r.at,
                r.staff,
                r.event_type,
                r.category,
                r.subject,
                "; ".join(r.flags),
                r.leaf_hash,
                r.details,
            ]
        )
    return out.getvalue()


def _para(pdf: Any, height: float, text: str) -> None:
    from fpdf.enums import XPos, YPos

    pdf.multi_cell(0, height, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _latin1(text: str) -> str:
    return text.encode("latin-1", "backslashreplace").decode("latin-1")


def pdf_bytes(shown: Shown, *, verifier: str) -> bytes:
    from fpdf import FPDF

    t, report = shown.t, shown.report
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 14)
    _para(pdf, 7, _latin1(f"{t('audit.title')}: {shown.subject}"))
    pdf.set_font("helvetica", size=9)
    period = f"{t.when(report.start)} - {t.when(report.end)}"
    _para(pdf, 5, _latin1(t("audit.period") + ": " + period))
    _para(pdf, 5, _latin1(t("audit.summary", **counts(report))))
    pdf.ln(2)
    widths = (14, 38, 30, 62, 24, 52, 57)
    heads = ("#", "audit.when", "audit.who", "audit.what", "audit.kind", "audit.subject")
    pdf.set_font("helvetica", "B", 8)
    for width, head in zip(widths, (*heads, "audit.flags"), strict=True):
        pdf.cell(width, 6, _latin1(head if head == "#" else t(head)), border=1)
    pdf.ln()
    pdf.set_font("helvetica", size=7)
    for r in shown.rows:
        cells = (str(r.seq), r.local, r.staff, r.event, r.category, r.subject, ", ".join(r.flags))
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 5, _latin1(text[:60]), border=1)
        pdf.ln()
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 9)
    _para(pdf, 5, _latin1(t("audit.checkpoint")))
    pdf.set_font("courier", size=7)
    note = report.checkpoint.note if report.checkpoint else t("log.none")
    _para(pdf, 4, _latin1(note))
    _para(pdf, 4, _latin1(verifier))
    pdf.set_font("helvetica", size=8)
    _para(pdf, 4, _latin1(shown.how_to_check))
    return bytes(pdf.output())


def counts(report: AccessReport) -> dict[str, int]:
    return {
        "lines": len(report.lines),
        "viewed": report.count(Category.VIEWED),
        "downloaded": report.count(Category.DOWNLOADED),
        "exported": report.count(Category.EXPORTED),
        "shared": report.count(Category.SHARED),
        "flagged": sum(1 for line in report.lines if line.flags),
        "contact": report.flagged(Flag.CONTACT),
    }
