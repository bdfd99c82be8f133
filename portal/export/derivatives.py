"""Derivatives in a court bundle: only originals are exported. Each item's review copy
(playback proxy) and poster are named, as copies made from the original and not the
evidence, from the `evidence.derived` events that recorded them: those events are in the
bundle with their inclusion proofs, so every field listed here is proven, and the offline
verifier recomputes the list from them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The custody event's name for each kind, as portal.media records them.
_KINDS = {"proxy": "proxy", "thumbnail": "poster"}


def named(events: Iterable[tuple[int, Any]], source_sha256: str) -> list[dict[str, Any]]:
    """The derivatives of the original `source_sha256`, from (leaf index, event) pairs."""
    out: list[dict[str, Any]] = []
    for index, event in sorted(events, key=lambda pair: pair[0]):
        if not isinstance(event, Mapping) or event.get("type") != "evidence.derived":
            continue
        details = event.get("details")
        if not isinstance(details, Mapping) or details.get("sha256") != source_sha256:
            continue
        for field, kind in _KINDS.items():
            made = details.get(field)
            if isinstance(made, Mapping):
                out.append(
                    {
                        "kind": kind,
                        "copy_of": source_sha256,
                        "sha256": made.get("sha256"),
                        "leaf_index": index,
                        "in_bundle": False,
                    }
                )
    return out
