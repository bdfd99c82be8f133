"""A hostile-media corpus, built at test time: files made to exhaust, crash or stall a parser.

Each is small on the wire and costly to decode: PNGs that declare huge pictures (the issue's
1 MB 16000x16000 RGBA PNG is one), a JPEG whose header claims 65000x65000, MP4/MOV files cut
short or with a corrupted index.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

from tests.support.media import make_video

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width: int, height: int, *, channels: int = 4, rows: int | None = None) -> bytes:
    """A PNG of zeros declaring `width` x `height` (8-bit RGBA, or grey with `channels=1`);
    only the first `rows` rows are present when given (a truncated bomb)."""
    colour = {1: 0, 3: 2, 4: 6}[channels]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    squeeze = zlib.compressobj(9)
    row = bytes(1 + width * channels)  # filter byte 0, then the pixels
    idat = b"".join(squeeze.compress(row) for _ in range(height if rows is None else rows))
    idat += squeeze.flush()
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 16x16 JPEG whose frame header (SOF0) is rewritten to claim another size."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def truncated_mp4(video: Path) -> bytes:
    """The first 60%: the index (moov, written last) is gone."""
    data = video.read_bytes()
    return data[: len(data) * 6 // 10]


def malformed_mov(tmp: Path) -> bytes:
    """A QuickTime file whose sample tables claim billions of samples and whose chunk offsets
    point past the end."""
    data = bytearray(make_video(tmp / "clip.mov", seconds=1, size="160x120").read_bytes())
    for table in (b"stsz", b"stco", b"stts", b"stsc"):
        at = data.find(table)
        if at >= 0:
            struct.pack_into(">I", data, at + 8, 0xFFFFFFF0)  # entry count after version/flags
    return bytes(data)


def corpus(tmp: Path, video: Path) -> dict[str, bytes]:
    """Name -> bytes of every hostile file; `video` is a normal MP4 to cut and break."""
    return {
        "png-16000x16000-rgba": png(16000, 16000),
        "png-bomb-60000x60000-truncated": png(60000, 60000, channels=1, rows=2000),
        "jpeg-header-65000x65000": jpeg_claiming(65000, 65000),
        "mp4-truncated": truncated_mp4(video),
        "mov-malformed": malformed_mov(tmp),
    }
