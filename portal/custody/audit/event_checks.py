"""The per-event checks: each event is canonical JSON naming its row's seq, type and subject.

Pure functions of a batch's columns, so that a worker process can run them (see worker.py).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any

from .canonical import canonical_encoder, is_canonical
from .findings import Finding

_ENCODE = canonical_encoder()
# The decoder's C scanner, which json.loads calls after skipping whitespace.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


Batch = tuple[int, list[int], list[str], list[str], list[bytes]]
"""(position of the first entry, then its columns seq, type, subject, event): columns, as
they cost a third of rows to send to the worker."""


def as_batch(start: int, rows: Sequence[Sequence[Any]]) -> Batch:
    return (
        start,
        [row[0] for row in rows],
        [row[1] for row in rows],
        [row[2] for row in rows],
        [row[3] for row in rows],
    )


def check_events(
    start: int, seqs: list[int], types: list[str], subjects: list[str], events: list[bytes]
) -> list[Finding]:
    """Each event of a batch is canonical JSON naming its row's seq, type and subject."""
    found: list[Finding] = []
    scan, encode = _SCAN, _ENCODE
    for pos, seq, typ, subject, event in zip(
        itertools.count(start), seqs, types, subjects, events, strict=False
    ):
        try:
            text = event.decode()
            obj, end = scan(text, 0)  # canonical text has no whitespace to skip
            parsed = end == len(text)
        except (ValueError, StopIteration):  # ValueError includes UnicodeDecodeError
            parsed = False
        if not parsed:
            text = ""
            try:
                obj = json.loads(event.decode())
            except ValueError as e:
                found.append(("json", pos, f"entry {seq}: event is not UTF-8 JSON: {e}"))
                continue
        if type(obj) is not dict:
            found.append(("json", pos, f"entry {seq}: event is not a JSON object"))
            continue
        try:
            canonical = encode(obj) == text
        except ValueError:
            canonical = False
        if not canonical and not is_canonical(obj, event):
            found.append(("canonical", pos, f"entry {seq}: event bytes are not canonical JSON"))
        field_seq = obj.get("seq")
        if field_seq != seq or type(field_seq) is not int:
            found.append(("seq", pos, f"entry {seq}: its event says seq {field_seq!r}"))
        if obj.get("type") != typ:
            found.append(
                (
                    "type",
                    pos,
                    f"entry {seq}: its event says type {obj.get('type')!r}, the row says {typ!r}",
                )
            )
        if obj.get("subject") != subject:
            found.append(
                (
                    "subject",
                    pos,
                    f"entry {seq}: its event says subject {obj.get('subject')!r}, "
                    f"the row says {subject!r}",
                )
            )
    return found
