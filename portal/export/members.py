"""The members of a bundle zip, read and hashed streaming, each at most once; damage (a bad
CRC, a broken deflate stream) becomes a finding, never an exception.

Offline like `portal.export.verify`: the standard library and `portal.custody.offline` only.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from pathlib import PurePosixPath

from portal.custody.offline import Report, natural

_CHUNK = 1 << 20
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def safe_member(name: object) -> bool:
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return False
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts


class Members:
    """The zip's members, hashed at most once each, streaming."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.infos: dict[str, zipfile.ZipInfo] = {}
        self.dupes: set[str] = set()
        for info in zf.infolist():
            if info.filename in self.infos:
                self.dupes.add(info.filename)
            self.infos[info.filename] = info
        self.hashed: dict[str, tuple[str, int] | str] = {}
        self.listed: set[str] = set()

    def _scan(
        self, info: zipfile.ZipInfo, limit: int, keep: list[bytes] | None
    ) -> tuple[str, int] | str:
        digest = hashlib.sha256()
        length = 0
        try:
            with self.zf.open(info) as f:
                while block := f.read(_CHUNK):
                    digest.update(block)
                    length += len(block)
                    if keep is not None:
                        keep.append(block)
                    if length > limit:
                        break
        # zlib.error: a damaged deflated member, which zipfile does not wrap.
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as e:
            return f"is damaged in the zip ({e})"
        except NotImplementedError as e:  # an unsupported compression method
            return f"cannot be read ({e})"
        return digest.hexdigest(), length

    def digest(self, name: str, limit: int) -> tuple[str, int] | str:
        """(sha256 hex, size) of a member, or why it could not be read."""
        self.listed.add(name)
        if name not in self.hashed:
            info = self.infos.get(name)
            self.hashed[name] = (
                "is missing from the zip" if info is None else self._scan(info, limit, None)
            )
        return self.hashed[name]

    def read(self, name: str, limit: int) -> bytes | str:
        """The bytes of a small member (manifest, export proof), or why they could not be read."""
        self.listed.add(name)
        info = self.infos.get(name)
        if info is None:
            return "is missing from the zip"
        blocks: list[bytes] = []
        found = self._scan(info, limit, blocks)
        if isinstance(found, str):
            return found
        if found[1] > limit:
            return f"is larger than {limit} bytes"
        self.hashed[name] = found
        return b"".join(blocks)


def check_member(
    report: Report, members: Members, label: str, path: object, sha: object, size: object
) -> bool:
    if not safe_member(path):
        return report.check(False, f"{label}: path {path!r} is not a safe relative zip path")
    assert isinstance(path, str)
    want_size = natural(size)
    if not (isinstance(sha, str) and _SHA256_HEX.fullmatch(sha)):
        return report.check(False, f"{label}: sha256 {sha!r} is not 64 lowercase hex digits")
    if want_size is None:
        return report.check(False, f"{label}: size {size!r} is not a non-negative integer")
    found = members.digest(path, want_size)
    if isinstance(found, str):
        return report.check(False, f"{label}: {path} {found}")
    got_sha, got_size = found
    same = got_sha == sha and got_size == want_size
    return report.check(
        same,
        f"{label}: {path} has SHA-256 {got_sha} and {got_size} bytes, as listed"
        if same
        else f"{label}: {path} does NOT match: SHA-256 {got_sha} ({got_size} bytes), "
        f"manifest lists {sha} ({want_size} bytes)",
    )


__all__ = ["Members", "check_member", "safe_member"]
