"""The audit's report: the earliest problems first, then what holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from portal.custody.offline import Report

from .checkpoints import StoredCheckpoint
from .findings import SHOWN_PER_KIND, SHOWN_TOTAL, Findings

_ENTRY_KINDS = ("gap", "json", "canonical", "seq", "type", "subject", "leaf", "head")
_TREE_KINDS = ("node", "node-missing", "node-extra")
_CHECKPOINT_KINDS = ("checkpoint", "checkpoint-note", "checkpoint-event", "consistency")


@dataclass
class LogAudit:
    """What audit_log found and what holds. A check run beside it (the originals in
    storage, say) adds its failures to `findings` before the report is made."""

    findings: Findings
    verifier_key: str
    origin: str
    entries: int
    stored_nodes: int
    checkpoints: list[StoredCheckpoint]
    consistency_proofs: int
    evidence_items: int

    def report(
        self, *, passed: Mapping[str, str] | None = None, warnings: Sequence[str] = ()
    ) -> Report:
        """The report; `passed` maps each further kind of finding to the line that says
        what holds when none was found, `warnings` come before the audit's own."""
        report = Report(key_source="given")
        report.warnings.extend(warnings)
        _failures(report, self.findings)
        self._holds(report)
        for kind, line in (passed or {}).items():
            if not self.findings.any(kind):
                report.check(True, line)
        if self.findings.total():
            first = sorted(self.findings.shown)[0]
            report.warnings.append(
                f"{self.findings.total()} problems found; the earliest: {first.message}"
            )
        return report

    def _holds(self, report: Report) -> None:
        """A line for each part of the log in which nothing was found."""
        findings, count, checkpoints = self.findings, self.entries, self.checkpoints
        if not findings.any(*_ENTRY_KINDS):
            report.check(
                True,
                f"entries: {count} entries, seq 0..{count - 1} without gaps, as log_head says; "
                "each event is canonical JSON naming its own seq, type and subject; "
                "each leaf hash matches its event"
                if count
                else "entries: the log is empty, as log_head says",
            )
        if not findings.any(*_TREE_KINDS):
            report.check(
                True,
                f"tree: all {self.stored_nodes} stored nodes match the tree recomputed from "
                "the entries",
            )
        if not checkpoints:
            report.warnings.append("no checkpoint has been signed: nothing ties the log to a key")
        elif not findings.any(*_CHECKPOINT_KINDS):
            key_name = self.verifier_key.split("+", 1)[0]
            report.check(
                True,
                f"checkpoints: {len(checkpoints)} (sizes {checkpoints[0].size}.."
                f"{checkpoints[-1].size}) signed by key {key_name!r} for origin "
                f"{self.origin!r}; each root equals the root recomputed from the entries; "
                f"{self.consistency_proofs} consistency proofs from the stored nodes hold",
            )
        report.checkpoint_verified = bool(checkpoints) and all(
            cp.signature_ok for cp in checkpoints
        )
        if not findings.any("evidence"):
            report.check(
                True,
                f"evidence: each of {self.evidence_items} items names its upload.completed "
                "log entry",
            )


def _failures(report: Report, findings: Findings) -> None:
    """The earliest failures in full, then how many more of each kind."""
    shown = sorted(findings.shown)[:SHOWN_TOTAL]
    for failure in shown:
        report.check(False, failure.message)
    hidden = findings.total() - len(shown)
    if hidden:
        kinds = ", ".join(
            f"{n - min(n, SHOWN_PER_KIND)} more {findings.kind_text[k]}"
            for k, n in findings.counts.items()
            if n > SHOWN_PER_KIND
        )
        report.check(False, f"{hidden} more problems not listed" + (f" ({kinds})" if kinds else ""))
