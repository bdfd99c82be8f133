"""A small JPEG poster frame for a video (or image), for investigators' lists.

Seeks to the keyframe at or before the wanted time and decodes forward from there, so a long
video costs its index plus one group of pictures, not the whole file. The phone's rotation
(display matrix) is applied, so portrait videos come out upright.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import BinaryIO

import av
import av.container
import av.filter
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from portal.media.probe import MediaError, container_duration, is_picture_stream, open_media

__all__ = ["JPEG_QSCALE", "MAX_DECODED_FRAMES", "poster", "upright_poster"]

JPEG_QSCALE = 4
"""MJPEG quantiser scale, 2 (best) to 31 (smallest)."""
MAX_DECODED_FRAMES = 300
"""Stop decoding forward after this many frames (a very long GOP) and use the last one."""
MAX_WIDTH = 4096


def poster(fileobj: BinaryIO, *, width: int = 320, at_seconds: float = 1.0) -> bytes | None:
    """JPEG bytes of the frame at `at_seconds` (the first frame if the video is shorter),
    `width` pixels wide with the display aspect ratio kept (height rounded to even).

    None for audio-only input; MediaError for input that is not media or has no decodable
    picture.
    """
    made = upright_poster(fileobj, width=width, at_seconds=at_seconds)
    return made[0] if made is not None else None


def upright_poster(
    fileobj: BinaryIO, *, width: int = 320, at_seconds: float = 1.0
) -> tuple[bytes, int] | None:
    """The poster and the clockwise degrees (0, 90, 180, 270) it was turned to stand upright:
    the rotation the file's display matrix asks for, which only a decoded frame tells (PyAV
    exposes no stream side data), so the poster's decode reports it for the record."""
    if not 2 <= width <= MAX_WIDTH:
        raise ValueError(f"width must be between 2 and {MAX_WIDTH}")
    if not (math.isfinite(at_seconds) and at_seconds >= 0):
        raise ValueError("at_seconds must be a finite, non-negative number")
    with open_media(fileobj) as container:
        stream = next((s for s in container.streams.video if is_picture_stream(s)), None)
        if stream is None:
            if container.streams.audio:
                return None
            raise MediaError("no audio or video in this file")
        try:
            frame = _frame_near(container, stream, at_seconds)
            if frame is None:
                raise MediaError("no decodable video frame in this file")
            sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
            aspect = Fraction(frame.width, frame.height) * (sar or 1)  # display width / height
            turns = round(-frame.rotation / 90) % 4  # clockwise quarter turns to stand upright
            if turns % 2:
                aspect = 1 / aspect
            frame = _upright(frame, turns)
            return _encode_jpeg(frame, width, aspect), turns * 90
        except av.FFmpegError as exc:
            raise MediaError(f"could not decode a video frame ({exc.strerror})") from exc


def _frame_near(
    container: av.container.InputContainer, stream: VideoStream, at_seconds: float
) -> VideoFrame | None:
    duration = container_duration(container)
    if duration is None or at_seconds >= duration or stream.time_base is None:
        at_seconds = 0.0  # too short, or a still image: the first frame
    if at_seconds > 0:
        assert stream.time_base is not None
        target = (stream.start_time or 0) + int(at_seconds / stream.time_base)
        try:
            container.seek(target, stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:
            container.seek(0)  # unseekable: decode forward from the start instead
        frame = _decode_until(container, stream, target)
        if frame is not None:
            return frame
        container.seek(0)  # seeking overshot the end: fall back to the first frame
    return _decode_until(container, stream, None)


def _decode_until(
    container: av.container.InputContainer, stream: VideoStream, target_pts: int | None
) -> VideoFrame | None:
    """The first frame at or after `target_pts` (any frame if None), within a decode budget."""
    last: VideoFrame | None = None
    for count, frame in enumerate(container.decode(stream), start=1):
        last = frame
        if target_pts is None or frame.pts is None or frame.pts >= target_pts:
            break
        if count >= MAX_DECODED_FRAMES:
            break
    return last


# The filters that turn a picture upright, by clockwise quarter turns (the proxy uses them too).
TURNS: dict[int, list[tuple[str, str | None]]] = {
    1: [("transpose", "clock")],
    2: [("hflip", None), ("vflip", None)],
    3: [("transpose", "cclock")],
}


def _upright(frame: VideoFrame, quarter_turns_clockwise: int) -> VideoFrame:
    """Apply the display matrix's rotation (phones store portrait video turned sideways)."""
    if not quarter_turns_clockwise:
        return frame
    graph = av.filter.Graph()
    nodes = [
        graph.add_buffer(
            width=frame.width,
            height=frame.height,
            format=frame.format,
            time_base=frame.time_base or Fraction(1, 1000),
        )
    ]
    nodes += [graph.add(name, args) for name, args in TURNS[quarter_turns_clockwise]]
    nodes.append(graph.add("buffersink"))
    graph.link_nodes(*nodes).configure()
    graph.vpush(frame)
    return graph.vpull()


def _encode_jpeg(frame: VideoFrame, width: int, aspect: Fraction) -> bytes:
    height = max(2, math.floor(width / aspect / 2 + Fraction(1, 2)) * 2)  # nearest even
    scaled = frame.reformat(width=width, height=height, format="yuvj420p", interpolation="AREA")
    scaled.pts = 0
    encoder = av.CodecContext.create("mjpeg", "w")
    assert isinstance(encoder, VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 1)
    encoder.qmin = encoder.qmax = JPEG_QSCALE
    packets = encoder.encode(scaled) + encoder.encode(None)
    return b"".join(bytes(p) for p in packets)
