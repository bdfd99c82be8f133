"""The redaction child: `python -m portal.media.redact LIMITS_JSON TASK_JSON`.

Started by `portal.media.redaction`, never by hand, with the parser's limits and clean
environment (portal.media.worker). It reads the original on standard input and applies the
operations of TASK_JSON (already checked against the video's size and length by the server):
boxes blurred or filled over a time range, the whole picture blurred over a range, the sound
muted over a range. It writes `redacted.mp4` (H.264/AAC at the original's size, faststart), or
with `preview_at` only `preview.png`: the frame at that second with the operations applied
and every box of the redaction outlined, so the approver sees what will be hidden.
"""

from __future__ import annotations

import json
import os
import sys
from fractions import Fraction
from typing import Any, BinaryIO

from portal.media.worker import _die_with_parent, _limit

OUTPUT_NAME = "redacted.mp4"
PREVIEW_NAME = "preview.png"
PROGRESS_NAME = "progress"
# Recorded in every redaction's provenance: the exact settings the copy was made with.
SETTINGS: dict[str, Any] = {
    "video": {"codec": "libx264", "preset": "veryfast", "crf": 18, "pix_fmt": "yuv420p"},
    "audio": {"codec": "aac", "rate": 48000, "layout": "stereo", "bit_rate": 128000},
    "blur": {"filter": "Pillow GaussianBlur", "box_radius": "max(8, shorter side / 3)"},
    "frame_blur_radius": 24,
    "solid": {"fill": [0, 0, 0]},
    "container": {"format": "mp4", "movflags": "+faststart"},
}


def _active(op: dict[str, Any], seconds: float) -> bool:
    return float(op["start"]) <= seconds < float(op["end"])


def apply_picture(image: Any, ops: list[dict[str, Any]], seconds: float) -> Any:
    """The picture at `seconds` with every active box and frame blur applied (a PIL image)."""
    from PIL import ImageDraw, ImageFilter

    for op in ops:
        if not _active(op, seconds):
            continue
        if op["type"] == "frame_blur":
            image = image.filter(ImageFilter.GaussianBlur(SETTINGS["frame_blur_radius"]))
        elif op["type"] == "box":
            box = (op["x"], op["y"], op["x"] + op["w"], op["y"] + op["h"])
            if op["style"] == "solid":
                ImageDraw.Draw(image).rectangle(
                    (box[0], box[1], box[2] - 1, box[3] - 1), fill=tuple(SETTINGS["solid"]["fill"])
                )
            else:
                # Blurred from the box's own pixels only: nothing outside leaks in or out.
                radius = max(8, min(op["w"], op["h"]) // 3)
                region = image.crop(box).filter(ImageFilter.GaussianBlur(radius))
                image.paste(region, box[:2])
    return image


def _mute(frame: Any, start: float, ops: list[dict[str, Any]]) -> Any:
    """Zero the samples of `frame` (planar float, its first at `start` seconds) that fall in
    a mute range, to the sample."""
    rate, count = frame.sample_rate, frame.samples
    cut: list[tuple[int, int]] = []
    for op in ops:
        if op["type"] != "mute":
            continue
        lo = max(0, int((float(op["start"]) - start) * rate))
        hi = min(count, round((float(op["end"]) - start) * rate))
        if lo < hi:
            cut.append((lo, hi))
    if not cut:
        return frame
    width = frame.format.bytes
    for plane in frame.planes:
        data = bytearray(bytes(plane))
        for lo, hi in cut:
            data[lo * width : hi * width] = bytes((hi - lo) * width)
        plane.update(bytes(data))
    return frame


def _progress(share: float) -> None:
    with open(PROGRESS_NAME + ".tmp", "w") as f:
        f.write(str(int(max(0.0, min(share, 1.0)) * 100)))
    os.replace(PROGRESS_NAME + ".tmp", PROGRESS_NAME)


def preview(src: Any, vin: Any, ops: list[dict[str, Any]], at: float) -> dict[str, Any]:
    from PIL import ImageDraw

    for frame in src.decode(vin):
        seconds = frame.time or 0.0
        if seconds + 1e-6 < at:
            continue
        image = apply_picture(frame.to_image(), ops, seconds)
        draw = ImageDraw.Draw(image)
        for op in ops:
            if op["type"] == "box" and _active(op, seconds):
                edge = (op["x"], op["y"], op["x"] + op["w"] - 1, op["y"] + op["h"] - 1)
                draw.rectangle(edge, outline=(255, 0, 0), width=2)
        image.save(PREVIEW_NAME, format="PNG")
        return {"info": {"at": seconds, "width": image.width, "height": image.height}}
    return {"error": "the video has no frame at that time"}


def render(fileobj: BinaryIO, limits: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    import av

    from portal.media.probe import is_picture_stream

    ops: list[dict[str, Any]] = task["operations"]
    with av.open(fileobj, "r", metadata_errors="replace") as src:
        vin = next((s for s in src.streams.video if is_picture_stream(s)), None)
        if vin is None:
            return {"error": "no video stream to redact"}
        width, height = vin.codec_context.width, vin.codec_context.height
        if width * height > limits["max_pixels"]:
            return {"unreadable": "over the media limits: picture too large"}
        if task.get("preview_at") is not None:
            return preview(src, vin, ops, float(task["preview_at"]))
        ain = next(iter(src.streams.audio), None)
        duration = float(src.duration / av.time_base) if src.duration else 0.0
        rate = Fraction(vin.average_rate or 30).limit_denominator(1001)
        size = (width // 2 * 2, height // 2 * 2)
        with av.open(OUTPUT_NAME, "w", format="mp4", options={"movflags": "+faststart"}) as out:
            refused = _encode(src, out, (vin, ain), size, rate, duration, ops, limits)
        if refused:
            return {"unreadable": refused}
    _progress(1.0)
    tool = {"pyav": av.__version__, "ffmpeg": av.ffmpeg_version_info, "settings": SETTINGS}
    return {"info": {"width": size[0], "height": size[1], "tool": tool | _pillow()}}


def _pillow() -> dict[str, str]:
    import PIL

    return {"pillow": PIL.__version__}


def _encode(
    src: Any,
    out: Any,
    streams: tuple[Any, Any],
    size: tuple[int, int],
    rate: Fraction,
    duration: float,
    ops: list[dict[str, Any]],
    limits: dict[str, Any],
) -> str | None:
    """Decode the original once; encode each redacted picture and (muted) sound."""
    import av
    from av.audio.resampler import AudioResampler

    vin, ain = streams
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
    last_pts, samples = -1, 0
    for frame in src.decode(*[s for s in (vin, ain) if s is not None]):
        if isinstance(frame, av.VideoFrame):
            seconds = frame.time or 0.0
            if seconds > limits["max_duration"]:
                return "over the media limits: longer than declared"
            pts = round(seconds * rate)
            if pts <= last_pts:
                continue
            last_pts = pts
            image = apply_picture(frame.to_image(), ops, seconds)  # type: ignore[no-untyped-call]
            made = av.VideoFrame.from_image(image).reformat(  # type: ignore[no-untyped-call]
                width=size[0], height=size[1], format=v["pix_fmt"]
            )
            made.pts, made.time_base = pts, 1 / rate
            out.mux(vout.encode(made))
            if duration and pts % 30 == 0:
                _progress(seconds / duration)
        elif isinstance(frame, av.AudioFrame) and aout is not None and resampler is not None:
            for chunk in resampler.resample(frame):
                # Timed by the samples already sent, as the encoder numbers them.
                muted = _mute(chunk, samples / a["rate"], ops)
                samples += chunk.samples
                muted.pts = None
                out.mux(aout.encode(muted))
    out.mux(vout.encode(None))
    if aout is not None:
        out.mux(aout.encode(None))
    return None


def main(argv: list[str]) -> int:
    limits, task = json.loads(argv[0]), json.loads(argv[1])
    _die_with_parent()
    _limit(limits["memory_bytes"], limits["cpu_seconds"], limits["output_bytes"])
    try:
        with os.fdopen(0, "rb", closefd=False) as fileobj:
            result = render(fileobj, limits, task)
    except Exception as exc:  # FFmpeg's errors on hostile input: a recorded reason, not a crash
        result = {"unreadable": f"the redaction failed: {type(exc).__name__}: {exc}"[:500]}
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
