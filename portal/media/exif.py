"""What a photo's EXIF says about itself: when it was taken, where, and with what camera.

FFmpeg reads a JPEG as one picture and ignores its EXIF block, so the media worker asks
Pillow for it (headers only, nothing is decoded). Like every tag, these are claims made by
the file; the raw values go into `raw_tags` beside the container's so investigators can judge.
"""

from __future__ import annotations

import math
from typing import Any, BinaryIO

from portal.media.probe import Location, _clean, _parse_time

MAX_VALUE = 256
# Tag numbers from the EXIF 2.3 specification (CIPA DC-008).
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL, DATETIME = 0x010F, 0x0110, 0x0132
DATETIME_ORIGINAL, OFFSET_ORIGINAL = 0x9003, 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT = 1, 2, 3, 4, 5, 6


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return _clean(value.replace("\x00", ""), MAX_VALUE) or None


def _degrees(parts: Any, ref: Any) -> float | None:
    """(degrees, minutes, seconds) rationals and N/S/E/W to signed degrees."""
    try:
        d, m, s = (float(p) for p in parts)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if not math.isfinite(value):
        return None
    return -value if _text(ref) in ("S", "W") else value


def _location(gps: dict[int, Any]) -> Location | None:
    lat = _degrees(gps.get(GPS_LAT), gps.get(GPS_LAT_REF))
    lon = _degrees(gps.get(GPS_LON), gps.get(GPS_LON_REF))
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    altitude = None
    try:
        if gps.get(GPS_ALT) is not None:
            altitude = float(gps[GPS_ALT]) * (-1 if gps.get(GPS_ALT_REF) in (1, b"\x01") else 1)
    except (TypeError, ValueError, ZeroDivisionError):
        altitude = None
    if altitude is not None and not math.isfinite(altitude):
        altitude = None
    return Location(latitude=lat, longitude=lon, altitude=altitude)


def photo_tags(fileobj: BinaryIO) -> dict[str, Any]:
    """`creation_time`, `location`, `make`, `model` (as in MediaInfo.to_json) and `raw_tags`
    from a picture's EXIF; {} when it has none or is not a picture Pillow reads."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(fileobj) as img:
            exif = img.getexif()
            ifd0 = dict(exif)
            detail = dict(exif.get_ifd(EXIF_IFD))
            gps = dict(exif.get_ifd(GPS_IFD))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return {}
    finally:
        fileobj.seek(0)
    raw = {
        f"exif:{name}": text
        for name, value in (
            ("Make", ifd0.get(MAKE)),
            ("Model", ifd0.get(MODEL)),
            ("DateTime", ifd0.get(DATETIME)),
            ("DateTimeOriginal", detail.get(DATETIME_ORIGINAL)),
            ("OffsetTimeOriginal", detail.get(OFFSET_ORIGINAL)),
        )
        if (text := _text(value))
    }
    taken = raw.get("exif:DateTimeOriginal") or raw.get("exif:DateTime")
    when = _parse_time(taken + raw.get("exif:OffsetTimeOriginal", "")) if taken else None
    where = _location(gps) if gps else None
    if where is not None:
        raw["exif:GPS"] = f"{where.latitude:+.6f}{where.longitude:+.6f}"
    out: dict[str, Any] = {
        "creation_time": when.isoformat().replace("+00:00", "Z") if when else None,
        "location": where.to_json() if where else None,
        "make": raw.get("exif:Make"),
        "model": raw.get("exif:Model"),
        "raw_tags": raw,
    }
    return out if raw else {}


def with_photo_tags(info: dict[str, Any], fileobj: BinaryIO) -> dict[str, Any]:
    """The probe's description, completed from EXIF where the container said nothing."""
    found = photo_tags(fileobj)
    if not found:
        return info
    merged = dict(info)
    for key in ("creation_time", "location", "make", "model"):
        if merged.get(key) is None and found.get(key) is not None:
            merged[key] = found[key]
    merged["raw_tags"] = {**(info.get("raw_tags") or {}), **found["raw_tags"]}
    return merged
