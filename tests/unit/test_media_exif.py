"""A JPEG's EXIF (time taken, GPS, camera make and model) through the isolated media worker.

Reproduction (issue 17): photos came back with no metadata; videos had theirs."""

from __future__ import annotations

import io
import tempfile
from fractions import Fraction

import pytest
from PIL import Image

from portal.media.exif import DATETIME_ORIGINAL, EXIF_IFD, GPS_IFD, MAKE, MODEL, OFFSET_ORIGINAL
from portal.media.isolation import Limits, Outcome, run

LIMITS = Limits(
    memory_bytes=1024**3,
    cpu_seconds=30,
    output_bytes=16 * 1024**2,
    timeout_seconds=60,
    max_pixels=50_000_000,
    max_streams=32,
    max_duration=86400,
)


def photo(*, gps: bool = True, offset: str | None = "-06:00") -> bytes:
    img = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[MAKE] = "Apple"
    exif[MODEL] = "iPhone 15"
    detail = exif.get_ifd(EXIF_IFD)
    detail[DATETIME_ORIGINAL] = "2026:07:15 22:30:05"
    if offset:
        detail[OFFSET_ORIGINAL] = offset
    if gps:
        where = exif.get_ifd(GPS_IFD)
        # 31° 44' 24" N, 106° 29' 6" W: Ciudad Juárez; 1140 m.
        where[1], where[2] = "N", (Fraction(31), Fraction(44), Fraction(24))
        where[3], where[4] = "W", (Fraction(106), Fraction(29), Fraction(6))
        where[5], where[6] = b"\x00", Fraction(1140)
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def parse(data: bytes) -> Outcome:
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        return run(f, LIMITS)


def test_a_photo_gives_its_time_place_and_camera() -> None:
    outcome = parse(photo())
    assert outcome.error is None and outcome.unreadable is None
    info = outcome.info
    assert info is not None
    assert info["creation_time"] == "2026-07-16T04:30:05Z"  # 22:30:05 at UTC-6
    assert (info["make"], info["model"]) == ("Apple", "iPhone 15")
    where = info["location"]
    assert where["latitude"] == pytest.approx(31.74, abs=1e-4)
    assert where["longitude"] == pytest.approx(-106.485, abs=1e-4)
    assert where["altitude"] == pytest.approx(1140)
    assert info["raw_tags"]["exif:DateTimeOriginal"] == "2026:07:15 22:30:05"
    assert outcome.poster is not None


def test_a_photo_without_gps_or_offset() -> None:
    outcome = parse(photo(gps=False, offset=None))
    assert outcome.info is not None
    assert outcome.info["location"] is None
    assert outcome.info["creation_time"] == "2026-07-15T22:30:05Z"  # no offset given: as UTC
    assert outcome.info["make"] == "Apple"


def test_a_photo_without_exif_still_parses() -> None:
    out = io.BytesIO()
    Image.new("RGB", (32, 32)).save(out, format="JPEG")
    outcome = parse(out.getvalue())
    assert outcome.info is not None and outcome.info["make"] is None
    assert outcome.info["width"] == 32
