"""The child process that makes a playback proxy: `python -m portal.media.transcode LIMITS_JSON`.

Started by `portal.media.isolation.run_transcode`, never by hand, with the same limits and
clean environment as the parser (portal.media.worker). It reads the original on standard
input and writes `proxy.mp4` (H.264 High / AAC, at most 1280x720, `faststart` so a browser
plays while it downloads) into its working directory, and the share done so far (0-100) into
`progress`, which the parent reads to keep its lease and show investigators how far it is.
"""

from __future__ import annotations

import json
import os
import sys
from fractions import Fraction
from typing import Any, BinaryIO

from portal.media.worker import _die_with_parent, _limit

PROXY_NAME = "proxy.mp4"
PROGRESS_NAME = "progress"
MAX_WIDTH, MAX_HEIGHT = 1280, 720
# Recorded in the proxy's custody event and derivative: the exact settings it was made with.
SETTINGS: dict[str, Any] = {
    "video": {"codec": "libx264", "preset": "veryfast", "crf": 23, "pix_fmt": "yuv420p"},
    "audio": {"codec": "aac", "rate": 48000, "layout": "stereo", "bit_rate": 128000},
    "max_size": [MAX_WIDTH, MAX_HEIGHT],
    "container": {"format": "mp4", "movflags": "+faststart"},
}


def fit(width: int, height: int) -> tuple[int, int]:
    """The proxy's picture size: within 1280x720 (either orientation), aspect kept, even."""
    box_w, box_h = (MAX_WIDTH, MAX_HEIGHT) if width >= height else (MAX_HEIGHT, MAX_WIDTH)
    scale = min(1.0, box_w / width, box_h / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _progress(share: float) -> None:
    with open(PROGRESS_NAME + ".tmp", "w") as f:
        f.write(str(int(max(0.0, min(share, 1.0)) * 100)))
    os.replace(PROGRESS_NAME + ".tmp", PROGRESS_NAME)


def transcode(fileobj: BinaryIO, limits: dict[str, Any]) -> dict[str, Any]:
    import av

    from portal.media.probe import is_picture_stream

    with av.open(fileobj, "r", metadata_errors="replace") as src:
        vin = next((s for s in src.streams.video if is_picture_stream(s)), None)
        ain = next(iter(src.streams.audio), None)
        if vin is None:
            return {"error": "no video stream to make a review copy of"}
        if vin.codec_context.width * vin.codec_context.height > limits["max_pixels"]:
            return {"unreadable": "over the media limits: picture too large"}
        turns = _quarter_turns(src, vin)
        stored = (vin.codec_context.width, vin.codec_context.height)
        size = fit(*(stored[::-1] if turns % 2 else stored))
        duration = float(src.duration / av.time_base) if src.duration else 0.0
        rate = Fraction(vin.average_rate or 30).limit_denominator(1001)
        with av.open(PROXY_NAME, "w", format="mp4", options={"movflags": "+faststart"}) as out:
            refused = _copy(src, out, vin, ain, size, rate, duration, limits["max_duration"], turns)
        if refused:
            return {"unreadable": refused}
    _progress(1.0)
    return {"info": {"width": size[0], "height": size[1], "ffmpeg": av.ffmpeg_version_info}}


def _copy(
    src: Any,
    out: Any,
    vin: Any,
    ain: Any,
    size: tuple[int, int],
    rate: Fraction,
    duration: float,
    max_duration: float,
    turns: int,
) -> str | None:
    """Decode the original once and encode the proxy's video and audio from it."""
    import av
    from av.audio.resampler import AudioResampler

    v, a = SETTINGS["video"], SETTINGS["audio"]
    vout = out.add_stream(
        v["codec"], rate=rate, options={"preset": v["preset"], "crf": str(v["crf"])}
    )
    vout.width, vout.height, vout.pix_fmt = size[0], size[1], v["pix_fmt"]
    aout = resampler = None
    if ain is not None:
        aout = out.add_stream(a["codec"], rate=a["rate"], layout=a["layout"])
        aout.bit_rate = a["bit_rate"]
        resampler = AudioResampler(format="fltp", layout=a["layout"], rate=a["rate"])
    last_pts = -1
    upright = _Upright(turns)
    for frame in src.decode(*[s for s in (vin, ain) if s is not None]):
        if isinstance(frame, av.VideoFrame):
            seconds = frame.time or 0.0
            if seconds > max_duration:  # the headers understated it
                return "over the media limits: longer than declared"
            pts = round(seconds * rate)
            if pts <= last_pts:
                continue  # a repeated timestamp: the encoder needs them rising
            last_pts = pts
            scaled = upright(frame).reformat(width=size[0], height=size[1], format=v["pix_fmt"])
            scaled.pts, scaled.time_base = pts, 1 / rate
            out.mux(vout.encode(scaled))
            if duration and pts % 30 == 0:
                _progress(seconds / duration)
        elif isinstance(frame, av.AudioFrame) and aout is not None and resampler is not None:
            for chunk in resampler.resample(frame):
                chunk.pts = None
                out.mux(aout.encode(chunk))
    out.mux(vout.encode(None))
    if aout is not None:
        out.mux(aout.encode(None))
    return None


def _quarter_turns(src: Any, vin: Any) -> int:
    """Clockwise quarter turns that stand the picture upright: phones store portrait video
    as landscape with a display matrix, which the proxy applies (it carries none itself)."""
    first = next(iter(src.decode(vin)), None)
    src.seek(0)  # back to the start: the copy decodes every frame
    return round(-first.rotation / 90) % 4 if first is not None else 0


class _Upright:
    """One filter graph for the whole copy (a graph per frame would cost its setup each time)."""

    def __init__(self, turns: int) -> None:
        self.turns = turns
        self.graph: Any = None

    def __call__(self, frame: Any) -> Any:
        if not self.turns:
            return frame
        if self.graph is None:
            import av

            from portal.media.thumbnail import TURNS

            graph = av.filter.Graph()
            nodes = [
                graph.add_buffer(
                    width=frame.width,
                    height=frame.height,
                    format=frame.format,
                    time_base=frame.time_base or Fraction(1, 1000),
                )
            ]
            nodes += [graph.add(name, args) for name, args in TURNS[self.turns]]
            nodes.append(graph.add("buffersink"))
            graph.link_nodes(*nodes).configure()
            self.graph = graph
        self.graph.vpush(frame)
        return self.graph.vpull()


def main(argv: list[str]) -> int:
    limits = json.loads(argv[0])
    _die_with_parent()
    _limit(limits["memory_bytes"], limits["cpu_seconds"], limits["output_bytes"])
    try:
        with os.fdopen(0, "rb", closefd=False) as fileobj:
            result = transcode(fileobj, limits)
    except Exception as exc:  # FFmpeg's errors on hostile input: a recorded reason, not a crash
        result = {"unreadable": f"the transcoder failed: {type(exc).__name__}: {exc}"[:500]}
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
