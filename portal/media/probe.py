"""What a submitted file says about itself: duration, picture size, codecs, when and where.

`probe` reads only the container's headers and index through PyAV (FFmpeg): it never decodes
a frame itself, and through a `StorageReader` it fetches only the ranges the demuxer asks for.
Everything here is a claim made by the file (tags are trivially edited), shown to
investigators as such; `raw_tags` keeps the container and stream tags so they can judge.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, TypeVar

import av
import av.container
import av.stream

__all__ = [
    "Location",
    "MediaError",
    "MediaInfo",
    "container_duration",
    "count_streams",
    "is_picture_stream",
    "open_media",
    "parse_iso6709",
    "probe",
]

T = TypeVar("T")

MAX_TAGS = 256
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 1024

# First match wins; container tags are searched before stream tags.
CREATION_TAGS = ("com.apple.quicktime.creationdate", "creation_time", "date")
LOCATION_TAGS = ("com.apple.quicktime.location.iso6709", "location", "location-eng")
MAKE_TAGS = ("com.apple.quicktime.make", "make", "com.android.manufacturer")
MODEL_TAGS = ("com.apple.quicktime.model", "model", "com.android.model")


class MediaError(ValueError):
    """The input is not audio, video or an image that FFmpeg can read."""


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    altitude: float | None = None

    def to_json(self) -> dict[str, float | None]:
        return {"latitude": self.latitude, "longitude": self.longitude, "altitude": self.altitude}


@dataclass(frozen=True)
class MediaInfo:
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    container: str | None = None
    creation_time: datetime | None = None
    location: Location | None = None
    make: str | None = None
    model: str | None = None
    raw_tags: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "duration_seconds": self.duration_seconds,
            "width": self.width,
            "height": self.height,
            "video_codec": self.video_codec,
            "audio_codec": self.audio_codec,
            "container": self.container,
            "creation_time": (
                self.creation_time.isoformat().replace("+00:00", "Z")
                if self.creation_time
                else None
            ),
            "location": self.location.to_json() if self.location else None,
            "make": self.make,
            "model": self.model,
            "raw_tags": dict(self.raw_tags),
        }


def open_media(fileobj: BinaryIO) -> av.container.InputContainer:
    """Open for reading with PyAV; MediaError if FFmpeg does not recognise the input.

    Errors raised by `fileobj` itself (storage failures) propagate unchanged.
    """
    try:
        return av.open(fileobj, "r", metadata_errors="replace")
    except av.FFmpegError as exc:
        raise MediaError(f"not a readable audio, video or image file ({exc.strerror})") from exc


def is_picture_stream(stream: av.stream.Stream) -> bool:
    """A real video stream, not cover art attached to an audio file."""
    return stream.type == "video" and not (stream.disposition & av.stream.Disposition.attached_pic)


def probe(fileobj: BinaryIO) -> MediaInfo:
    """Describe a media file from its headers; MediaError for anything that is not media."""
    with open_media(fileobj) as container:
        video = next((s for s in container.streams.video if is_picture_stream(s)), None)
        audio = next(iter(container.streams.audio), None)
        if video is None and audio is None:
            raise MediaError(
                f"no audio or video in this file (FFmpeg reads it as {container.format.name})"
            )
        container_tags = _clean_tags(container.metadata)
        stream_tags = [_clean_tags(s.metadata) for s in container.streams]

        raw: dict[str, str] = dict(container_tags)
        for stream, tags in zip(container.streams, stream_tags, strict=True):
            raw.update({f"stream{stream.index}:{k}": v for k, v in tags.items()})
        raw = dict(list(raw.items())[:MAX_TAGS])

        # Lower-cased keys, container first: the first source that has a tag wins.
        sources = [{k.lower(): v for k, v in t.items()} for t in [container_tags, *stream_tags]]

        width = height = None
        video_codec = audio_codec = None
        if video is not None:
            ctx = video.codec_context
            width, height = ctx.width or None, ctx.height or None
            video_codec = ctx.name
        if audio is not None:
            audio_codec = audio.codec_context.name

        return MediaInfo(
            duration_seconds=container_duration(container),
            width=width,
            height=height,
            video_codec=video_codec,
            audio_codec=audio_codec,
            container=container.format.name,
            creation_time=_first(sources, CREATION_TAGS, _parse_time),
            location=_first(sources, LOCATION_TAGS, parse_iso6709),
            make=_first(sources, MAKE_TAGS, _nonempty),
            model=_first(sources, MODEL_TAGS, _nonempty),
            raw_tags=raw,
        )


def count_streams(fileobj: BinaryIO) -> int:
    """How many streams the container declares (read from its headers)."""
    with open_media(fileobj) as container:
        return len(container.streams)


def container_duration(container: av.container.InputContainer) -> float | None:
    """Seconds, from the container or else its longest stream; None when unknown (images)."""
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    best: float | None = None
    for s in container.streams:
        if s.duration is not None and s.duration > 0 and s.time_base is not None:
            seconds = float(s.duration * s.time_base)
            best = seconds if best is None else max(best, seconds)
    return best


_CONTROL = {"\t": " ", "\n": " ", "\r": " "}


def _clean(text: str, limit: int) -> str:
    """Strip, turn line breaks into spaces, drop other control and format (bidi) characters."""
    out = "".join(
        _CONTROL.get(c, c if unicodedata.category(c) not in ("Cc", "Cf") else "") for c in text
    )
    return out.strip()[:limit]


def _clean_tags(tags: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in list(tags.items())[:MAX_TAGS]:
        k, v = _clean(key, MAX_TAG_KEY), _clean(value, MAX_TAG_VALUE)
        if k and v:
            out[k] = v
    return out


def _first(
    sources: list[dict[str, str]], names: tuple[str, ...], parse: Callable[[str], T | None]
) -> T | None:
    for name in names:
        for tags in sources:
            if name in tags and (parsed := parse(tags[name])) is not None:
                return parsed
    return None


def _nonempty(value: str) -> str | None:
    return value or None


def _parse_time(value: str) -> datetime | None:
    """ISO 8601 (also EXIF's `2026:03:04 05:06:07`) to UTC; naive times are taken as UTC."""
    text = value.strip()
    if re.fullmatch(r"\d{4}:\d{2}:\d{2}[ T].*", text):
        text = text[:10].replace(":", "-") + text[10:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    # QuickTime and MP4 count from 1904 and tools write 0 for "unknown": not a capture time.
    if parsed.year < 1971:
        return None
    return parsed


_ISO6709 = re.compile(
    r"(?P<lat>[+-]\d{2}(?:\d{2}(?:\d{2})?)?(?:\.\d+)?)"
    r"(?P<lon>[+-]\d{3}(?:\d{2}(?:\d{2})?)?(?:\.\d+)?)"
    r"(?P<alt>[+-]\d+(?:\.\d+)?)?"
    r"(?:CRS[A-Za-z0-9_.:-]*)?/?"
)


def _angle(text: str, degree_digits: int) -> float | None:
    """±DD[.D], ±DDMM[.M] or ±DDMMSS[.S] (three degree digits for longitude) to degrees."""
    sign = -1.0 if text[0] == "-" else 1.0
    whole, _, fraction = text[1:].partition(".")
    frac = float("0." + fraction) if fraction else 0.0
    degrees = int(whole[:degree_digits])
    rest = whole[degree_digits:]
    if not rest:
        value = degrees + frac
    elif len(rest) == 2:
        minutes = int(rest) + frac
        if minutes >= 60:
            return None
        value = degrees + minutes / 60
    else:
        minutes, seconds = int(rest[:2]), int(rest[2:]) + frac
        if minutes >= 60 or seconds >= 60:
            return None
        value = degrees + minutes / 60 + seconds / 3600
    return sign * value


def parse_iso6709(value: str) -> Location | None:
    """`+19.4326-099.1332/`, `+19.4326-099.1332+2240.000/` (and DDMM/DDMMSS forms); else None."""
    m = _ISO6709.fullmatch(value.strip())
    if m is None:
        return None
    lat, lon = _angle(m["lat"], 2), _angle(m["lon"], 3)
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    alt = float(m["alt"]) if m["alt"] else None
    if alt is not None and not math.isfinite(alt):
        return None
    return Location(latitude=lat, longitude=lon, altitude=alt)
