"""The child process that parses untrusted media: `python -m portal.media.worker LIMITS_JSON`.

Started by `portal.media.isolation`, never by hand. It reads the file on its standard input
(an open, seekable descriptor: it is given no path and no settings), writes `poster.jpg` into
its working directory (the output folder) and one JSON line on standard output. Its resource
limits are set first, before anything that parses the input is even imported, so a decoder
that runs away meets RLIMIT_AS / RLIMIT_CPU / RLIMIT_FSIZE and dies alone. It imports nothing
that knows where keys or settings live (portal.config, portal.keys, the database).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import warnings
from typing import Any, BinaryIO

POSTER_NAME = "poster.jpg"


def _limit(memory: int, cpu_seconds: int, output_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # The soft CPU limit sends SIGXCPU; the hard one a second later SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (output_bytes, output_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _image_too_large(fileobj: BinaryIO, max_pixels: int) -> str | None:
    """Pillow reads only an image's header: a picture over the pixel limit is refused before
    any decoder allocates it (PNG and JPEG bombs declare their size up front)."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fileobj) as img:
                width, height = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return f"over the media limits: {exc}"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None  # not an image Pillow knows: FFmpeg's probe decides
    finally:
        fileobj.seek(0)
    if width * height > max_pixels:
        return f"over the media limits: {width}x{height} pixels"
    return None


def _over_limits(info: dict[str, Any], streams: int, limits: dict[str, Any]) -> str | None:
    """Checked on the headers, before any frame is decoded for the poster."""
    if streams > limits["max_streams"]:
        return f"over the media limits: {streams} streams"
    width, height = info.get("width") or 0, info.get("height") or 0
    if width * height > limits["max_pixels"]:
        return f"over the media limits: {width}x{height} pixels"
    duration = info.get("duration_seconds") or 0
    if duration > limits["max_duration"]:
        return f"over the media limits: {duration:.0f} seconds long"
    return None


def inspect(fileobj: BinaryIO, limits: dict[str, Any]) -> dict[str, Any]:
    """What the parent records: {"info": ...}, {"error": ...} (not media) or {"unreadable": ...};
    the poster, when there is one, is left in the working directory."""
    from portal.media.exif import with_photo_tags
    from portal.media.probe import MediaError, count_streams, probe
    from portal.media.thumbnail import upright_poster

    if refused := _image_too_large(fileobj, limits["max_pixels"]):
        return {"unreadable": refused}
    try:
        info = probe(fileobj).to_json()
        fileobj.seek(0)
        if info.get("duration_seconds") is None:  # a still picture: its EXIF says more
            info = with_photo_tags(info, fileobj)
        if refused := _over_limits(info, count_streams(fileobj), limits):
            return {"unreadable": refused}
    except MediaError as exc:
        return {"error": str(exc)}
    out: dict[str, Any] = {"info": info}
    if info.get("width"):
        try:
            fileobj.seek(0)
            made = upright_poster(fileobj)
        except MediaError as exc:
            out["poster_error"] = str(exc)
        else:
            if made:
                with open(POSTER_NAME, "wb") as f:
                    f.write(made[0])
                info.update(_as_shown(info, made[1]))
    return out


def _as_shown(info: dict[str, Any], rotation: int) -> dict[str, Any]:
    """The picture as it is shown: `width` and `height` are the coded size, which a phone
    stores landscape for portrait video, with a rotation for the player to apply."""
    width, height = info["width"], info["height"]
    if rotation % 180:
        width, height = height, width
    return {"rotation": rotation, "display_width": width, "display_height": height}


def _die_with_parent() -> None:
    """A server killed mid-run takes its parser with it (Linux PR_SET_PDEATHSIG)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the line above
        raise SystemExit(1)


def main(argv: list[str]) -> int:
    limits = json.loads(argv[0])
    _die_with_parent()
    _limit(limits["memory_bytes"], limits["cpu_seconds"], limits["output_bytes"])
    with os.fdopen(0, "rb", closefd=False) as fileobj:
        result = inspect(fileobj, limits)
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
