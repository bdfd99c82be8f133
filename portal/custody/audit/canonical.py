"""A fast check that an event is canonical JSON, judged again by canonical_json on doubt."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from portal.custody.offline import canonical_json


def canonical_encoder() -> Callable[[Any], str]:
    """canonical_json's encoding as str, by the C encoder that json.dumps itself drives.

    Only a fast path: an event it finds non-canonical is judged again by canonical_json.
    """
    encoder = json.JSONEncoder(
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    try:
        # (markers, default, encoder, indent, key sep, item sep, sort_keys, skipkeys,
        # allow_nan), as JSONEncoder.iterencode passes them; parsed JSON has no cycles.
        c_encode = make(
            None,
            encoder.default,
            json.encoder.encode_basestring,
            None,
            ":",
            ",",
            True,
            False,
            False,
        )
        c_encode({"a": [1]}, 0)
    except TypeError:  # another interpreter's private signature
        return encoder.encode

    def encode(obj: Any) -> str:
        return "".join(c_encode(obj, 0))

    sample = {"z": [1, -2.5, None, True], "é": {"b": '\u2014\n"', "a": 10**20}, "seq": 0}
    if encode(sample).encode() != canonical_json(sample):  # canonical_json was redefined
        return (
            encoder.encode
            if encoder.encode(sample).encode() == canonical_json(sample)
            else (lambda obj: canonical_json(obj).decode())
        )
    return encode


def is_canonical(obj: Any, event: bytes) -> bool:
    """Whether `event` is exactly canonical_json(obj): the slow, authoritative judgement."""
    try:
        return canonical_json(obj) == event
    except ValueError:  # NaN or infinity, which json.loads accepts
        return False
