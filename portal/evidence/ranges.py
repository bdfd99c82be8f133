"""HTTP Range (RFC 9110 section 14) for one byte range; enough for a <video> to seek."""

from __future__ import annotations

import re
from dataclasses import dataclass

from portal.errors import PortalError

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class RangeNotSatisfiable(PortalError):
    status, code = 416, "range_not_satisfiable"


def parse(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) to send, or None for the whole file.

    Malformed or multi-range headers are ignored (the server MAY ignore Range), which sends
    the whole file; a well-formed range that misses the file is 416.
    """
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    m = _SPEC.match(spec)
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if len(first) > 18 or len(last) > 18:
        return None
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - n), size
    start = int(first)
    end = size if not last else int(last) + 1
    if last and end <= start:
        return None  # last < first: invalid, so ignored
    if start >= size:
        raise _unsatisfiable(size)
    return start, min(end, size)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"the range is outside the file of {size} bytes",
        headers={"Content-Range": f"bytes */{size}"},
    )


@dataclass(frozen=True)
class Span:
    """What to send for a request: [start, end) of `size` bytes, its status and headers."""

    start: int
    end: int
    size: int
    partial: bool

    @property
    def status(self) -> int:
        return 206 if self.partial else 200

    def headers(self) -> dict[str, str]:
        out = {"Accept-Ranges": "bytes", "Content-Length": str(self.end - self.start)}
        if self.partial:
            out["Content-Range"] = f"bytes {self.start}-{self.end - 1}/{self.size}"
        return out


def span(header: str | None, size: int) -> Span:
    """The one reading of a Range header for every byte route (an original, its review copy)."""
    parsed = parse(header, size)
    start, end = parsed or (0, size)
    return Span(start=start, end=end, size=size, partial=parsed is not None)
