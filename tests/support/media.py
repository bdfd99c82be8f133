"""Test media generated at test time with PyAV (FFmpeg's testsrc), never downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av


def make_video(
    path: Path,
    *,
    seconds: float = 4,
    size: str = "640x360",
    rate: int = 25,
    bitrate: int = 4_000_000,
    tags: dict[str, str] | None = None,
    codec: str = "libx264",
    codec_tag: str | None = None,
) -> Path:
    """An H.264 MP4 of FFmpeg's test pattern with a moving noise overlay (so it is not tiny);
    `codec="libx265", codec_tag="hvc1"` and a `.mov` path make what iPhones record."""
    graph = f"testsrc2=size={size}:rate={rate}:duration={seconds},noise=alls=40:allf=t"
    with av.open(graph, format="lavfi") as src, av.open(str(path), "w") as dst:
        for k, v in (tags or {}).items():
            dst.metadata[k] = v
        w, h = (int(x) for x in size.split("x"))
        out: Any = dst.add_stream(codec, rate=rate)
        out.width, out.height, out.pix_fmt = w, h, "yuv420p"
        if codec_tag:
            out.codec_tag = codec_tag
        out.bit_rate = bitrate
        for frame in src.decode(video=0):
            for packet in out.encode(frame.reformat(format="yuv420p")):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)
    return path
