"""What the first bytes of a file say it is (magic numbers, by the `filetype` library)."""

from __future__ import annotations

import filetype

ALLOWED_MEDIA = ("video/", "image/", "audio/")
SNIFF_BYTES = 8192
# Enough for the signatures of the allowed kinds (Matroska's doctype is searched for, and
# sits within the first hundred bytes); a browser's first PATCH is megabytes.
EARLY_BYTES = 4096


def media_type_of(head: bytes) -> str | None:
    """The media type the bytes show, if it is one the portal accepts; else None."""
    kind = filetype.guess(head)
    media_type = kind.mime if kind is not None else None
    return media_type if media_type and media_type.startswith(ALLOWED_MEDIA) else None
