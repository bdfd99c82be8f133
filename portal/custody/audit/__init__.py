"""Full audit of the stored custody log: every entry, every stored node, every checkpoint.

`audit_log` rereads the whole log in one pass (batched selects of raw columns, standard
`hashlib`), recomputes the leaf hashes, the perfect subtree hashes and the tree roots, and
compares them with what the database stores and with what was signed:

* entries: gap-free `seq` from 0 up to `log_head.size`; each event is canonical JSON whose
  `seq`, `type` and `subject` are its row's; the stored leaf hash is the event's;
* tree: every stored perfect node (`log_nodes`) equals the recomputed one, and none lies
  beyond the tree;
* checkpoints: signed by the log key for the log's origin; their roots (stored and signed)
  equal the root recomputed from the entries at their size; consecutive checkpoints are
  consistent by a proof built from the stored nodes; each is recorded by the
  `log.checkpoint_signed` entry that follows it;
* evidence: every received file the caller names (by log index) has an `upload.completed`
  entry with its hash and size.

A signed checkpoint is what witnesses hold: entries changed, removed, reordered or inserted
before a checkpoint's size can no longer reproduce its root. Like the offline receipt
check, bad data never raises: every finding is a line of the report, the earliest first,
with repeats of one kind counted rather than listed. Checks beyond the log (the originals in
storage: portal.flows.content_audit) add their findings to the result before its report.

The caller's session should see one snapshot (on SQLite each transaction of the portal's
engine takes the write lock, so appends wait for the audit). For a large log the JSON checks
run in a child interpreter (see worker.PARALLEL_FROM); everything is read through the session.
"""

from .findings import END, Findings
from .log_audit import RecordedFile, audit_log
from .progress import Progress
from .report import LogAudit

__all__ = ["END", "Findings", "LogAudit", "Progress", "RecordedFile", "audit_log"]
