"""Helpers for the redaction suites: a video with sound made at test time, and its pixels."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av


def video_with_sound(path: Path, *, seconds: int = 2, size: str = "320x240") -> Path:
    """H.264/AAC MP4 of FFmpeg's test pattern (noisy, so a blur shows) and a 440 Hz tone."""
    w, h = (int(x) for x in size.split("x"))
    graph = f"testsrc2=size={size}:rate=25:duration={seconds},noise=alls=40:allf=t"
    with av.open(str(path), "w") as dst:
        vout: Any = dst.add_stream("libx264", rate=25)
        vout.width, vout.height, vout.pix_fmt = w, h, "yuv420p"
        aout: Any = dst.add_stream("aac", rate=48000, layout="stereo")
        with av.open(graph, format="lavfi") as src:
            for picture in src.decode(video=0):
                dst.mux(vout.encode(picture.reformat(format="yuv420p")))
        dst.mux(vout.encode(None))
        tone = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
        with av.open(tone, format="lavfi") as src:
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000)
            for frame in src.decode(audio=0):
                for chunk in resampler.resample(frame):
                    chunk.pts = None
                    dst.mux(aout.encode(chunk))
        dst.mux(aout.encode(None))
    return path


def frame_at(data: bytes, seconds: float) -> Any:
    """The decoded picture (RGB, PIL) at or just after `seconds`."""
    src: Any
    with av.open(io.BytesIO(data)) as src:
        for frame in src.decode(video=0):
            if (frame.time or 0.0) + 1e-6 >= seconds:
                return frame.to_image().convert("RGB")
    raise AssertionError(f"no frame at {seconds}")


def mean_difference(a: Any, b: Any, box: tuple[int, int, int, int]) -> float:
    """Mean absolute difference per channel of two pictures inside `box` (l, t, r, b)."""
    pa, pb = a.crop(box).tobytes(), b.crop(box).tobytes()
    return float(sum(abs(x - y) for x, y in zip(pa, pb, strict=True))) / len(pa)


def loudness(data: bytes, start: float, end: float) -> float:
    """Mean absolute sample value of the sound between `start` and `end` seconds."""
    import array

    total, count, sent = 0.0, 0, 0
    src: Any
    with av.open(io.BytesIO(data)) as src:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48000)
        for frame in src.decode(audio=0):
            for chunk in resampler.resample(frame):
                samples = array.array("f", bytes(chunk.planes[0])[: chunk.samples * 4])
                for i, value in enumerate(samples):
                    t = (sent + i) / 48000
                    if start <= t < end:
                        total, count = total + abs(value), count + 1
                sent += chunk.samples
    return total / max(count, 1)


def rendered(client: Any, item: str, asker: dict[str, str], approver: dict[str, str]) -> Any:
    """A redaction of `item` (one blurred box) defined, approved and rendered; its JSON."""
    box = {"type": "box", "x": 20, "y": 20, "w": 120, "h": 100, "start": 0, "end": 2}
    body = {"purpose": "disclosure", "operations": [box]}
    r = client.post(f"/api/v1/evidence/{item}/redactions", json=body, headers=asker)
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/redactions/{r.json()['id']}/approve", headers=approver)
    assert r.status_code == 200 and r.json()["state"] == "rendered", r.text
    return r.json()
