"""Playback proxy benchmark: the portal's proxy job against a plain transcode of the same clip.

Not a test. Makes an iPhone-like clip at run time (HEVC tagged hvc1 in QuickTime, 1920x1080,
25 fps, FFmpeg's testsrc2 pattern; 60 s by default), then, in the same run:

1. throughput: the portal's proxy step (`portal.media.proxy.make`: the limited child process,
   `python -m portal.media.transcode`, with the job's limits) against a baseline doing the same
   conversion (H.264 veryfast CRF 23 yuv420p, at most 1280x720, AAC, MP4 faststart): the
   `ffmpeg` CLI when one is on PATH, else PyAV's own decode/encode in a plain loop in this
   process (which it was is printed); interleaved rounds, median wall clock, goal >= 0.9x;
2. receipt to a playable proxy: the clip uploaded by tus to a portal on SQLite + local storage
   (in-process, `jobs_in_app` on), from the item's receipt time to its proxy's record;
3. two workers against one: four proxies made by one worker process one after another, then
   by two worker processes side by side (each as the job runs it), goal >= 1.6x.

    python bench/proxy_bench.py                 # 60 s 1080p clip, 3 rounds
    python bench/proxy_bench.py --seconds 5 --rounds 1   # smoke run
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.config import Settings
from portal.media.isolation import Limits
from portal.media.transcode import SETTINGS, fit

LIMITS = Limits(
    memory_bytes=2 << 30,
    cpu_seconds=3600,
    output_bytes=4 << 30,
    timeout_seconds=3600,
    max_pixels=4096 * 4096,
    max_streams=16,
    max_duration=6 * 3600,
)


def make_clip(path: Path, seconds: float) -> Path:
    """An iPhone-like HEVC .MOV with AAC sound (x265 ultrafast: the clip, not the bench)."""
    import av

    video = f"testsrc2=size=1920x1080:rate=25:duration={seconds}"
    audio = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
    with (
        av.open(video, format="lavfi") as vsrc,
        av.open(audio, format="lavfi") as asrc,
        av.open(str(path), "w") as dst,
    ):
        v: Any = dst.add_stream("libx265", rate=25, options={"preset": "ultrafast"})
        v.width, v.height, v.pix_fmt, v.codec_tag = 1920, 1080, "yuv420p", "hvc1"
        a: Any = dst.add_stream("aac", rate=48000, layout="mono")
        for frame in vsrc.decode(video=0):
            dst.mux(v.encode(frame.reformat(format="yuv420p")))
        dst.mux(v.encode(None))
        for aframe in asrc.decode(audio=0):
            aframe.pts = None
            dst.mux(a.encode(aframe))
        dst.mux(a.encode(None))
    return path


def portal_proxy(clip: Path) -> int:
    """The proxy job's transcode, as a worker runs it: the limited child, fed from a file."""
    from portal.media.isolation import run_transcode

    with open(clip, "rb") as f:
        made = run_transcode(f, LIMITS, lambda _progress: True)
    if made.data is None:
        raise RuntimeError(made.failure)
    return len(made.data)


def ffmpeg_cli(clip: Path, out: Path) -> int:
    v, a = SETTINGS["video"], SETTINGS["audio"]
    w, h = SETTINGS["max_size"]
    scale = (
        f"scale='min({w},iw)':'min({h},ih)'"
        ":force_original_aspect_ratio=decrease:force_divisible_by=2"
    )
    command = [
        *("ffmpeg", "-v", "error", "-y", "-i", str(clip), "-vf", scale),
        *("-c:v", v["codec"], "-preset", v["preset"], "-crf", str(v["crf"])),
        *("-pix_fmt", v["pix_fmt"], "-c:a", a["codec"], "-ar", str(a["rate"])),
        *("-ac", "2", "-b:a", str(a["bit_rate"]), "-movflags", "+faststart", str(out)),
    ]
    subprocess.run(command, check=True)
    return out.stat().st_size


def pyav_loop(clip: Path, out: Path) -> int:
    """The same conversion in a plain PyAV loop, no child process, no limits, no progress."""
    import av
    from av.audio.resampler import AudioResampler

    v, a = SETTINGS["video"], SETTINGS["audio"]
    with (
        av.open(str(clip), "r") as src,
        av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as dst,
    ):
        vin, ain = src.streams.video[0], src.streams.audio[0]
        w, h = fit(vin.codec_context.width, vin.codec_context.height)
        rate = Fraction(vin.average_rate or 25)
        vout: Any = dst.add_stream(
            v["codec"], rate=rate, options={"preset": v["preset"], "crf": str(v["crf"])}
        )
        vout.width, vout.height, vout.pix_fmt = w, h, v["pix_fmt"]
        aout: Any = dst.add_stream(a["codec"], rate=a["rate"], layout=a["layout"])
        aout.bit_rate = a["bit_rate"]
        resampler = AudioResampler(format="fltp", layout=a["layout"], rate=a["rate"])
        for frame in src.decode(vin, ain):
            if isinstance(frame, av.VideoFrame):
                scaled = frame.reformat(width=w, height=h, format=v["pix_fmt"])
                scaled.pts, scaled.time_base = round((frame.time or 0.0) * rate), 1 / rate
                dst.mux(vout.encode(scaled))
            else:
                for chunk in resampler.resample(frame):
                    chunk.pts = None
                    dst.mux(aout.encode(chunk))
        dst.mux(vout.encode(None))
        dst.mux(aout.encode(None))
    return out.stat().st_size


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def throughput(clip: Path, seconds: float, rounds: int, work: Path) -> tuple[str, float, float]:
    baseline_name = "ffmpeg CLI" if shutil.which("ffmpeg") else "PyAV plain loop"

    def baseline() -> int:
        out = work / "baseline.mp4"
        return ffmpeg_cli(clip, out) if shutil.which("ffmpeg") else pyav_loop(clip, out)

    portal_t, base_t = [], []
    for i in range(rounds):  # interleaved, alternating who goes first
        pair = [("portal", lambda: portal_proxy(clip)), ("base", baseline)]
        for name, fn in pair if i % 2 == 0 else pair[::-1]:
            (portal_t if name == "portal" else base_t).append(timed(fn))
    p, b = statistics.median(portal_t), statistics.median(base_t)
    print(f"proxy job transcode: median {p:.1f} s ({seconds / p:.2f}x real time), runs {portal_t}")
    print(f"{baseline_name}: median {b:.1f} s ({seconds / b:.2f}x real time), runs {base_t}")
    return baseline_name, p, b


def receipt_to_proxy(clip: Path, work: Path) -> float:
    """Upload by tus to an in-process portal; receipt time to the proxy's record."""
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from portal.app import create_app
    from portal.evidence.models import Derivative, Evidence
    from tests.support.api import new_submission
    from tests.support.uploads import upload

    settings = Settings(data_dir=work / "portal", proxy_timeout=timedelta(hours=1))
    with TestClient(create_app(settings)) as client:
        _, token = new_submission(client)
        upload(client, {"Authorization": f"Bearer {token}"}, clip.read_bytes(), name="IMG.MOV")
        rt: Any = client.app.state.runtime  # type: ignore[attr-defined]
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            with rt.sessions() as db:
                item = db.scalars(select(Evidence)).one()
                made = db.scalars(select(Derivative).where(Derivative.kind == "proxy")).first()
                if made is not None:
                    return (made.created_at - item.received_at).total_seconds()
            time.sleep(0.5)
    raise RuntimeError("no proxy within the hour")


def _worker(clips: list[str]) -> None:
    for clip in clips:
        portal_proxy(Path(clip))


def scaling(clip: Path, jobs: int) -> tuple[float, float]:
    clips = [str(clip)] * jobs
    ctx = multiprocessing.get_context("spawn")

    def run(workers: int) -> float:
        shares = [clips[i::workers] for i in range(workers)]
        procs = [ctx.Process(target=_worker, args=(share,)) for share in shares]
        start = time.perf_counter()
        for p in procs:
            p.start()
        for p in procs:
            p.join()
            if p.exitcode:
                raise RuntimeError("a worker failed")
        return time.perf_counter() - start

    one, two = run(1), run(2)
    print(f"{jobs} proxies: one worker {one:.1f} s, two workers {two:.1f} s")
    return one, two


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=4, help="proxies in the scaling part")
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="proxy-bench-") as tmp:
        work = Path(tmp)
        t = timed(lambda: make_clip(work / "IMG_0001.MOV", args.seconds))
        clip = work / "IMG_0001.MOV"
        size = clip.stat().st_size / 1e6
        print(f"clip: {args.seconds:g} s 1920x1080 HEVC, {size:.1f} MB ({t:.0f} s to make)")
        name, p, b = throughput(clip, args.seconds, args.rounds, work)
        latency = receipt_to_proxy(clip, work)
        print(f"receipt to playable proxy: {latency:.1f} s")
        one, two = scaling(clip, args.jobs)
    print(f"load average after: {os.getloadavg()}")
    print(f"ratio proxy job vs {name}: {b / p:.2f}x (goal >= 0.9x)")
    print(f"ratio two workers vs one: {one / two:.2f}x (goal >= 1.6x)")


if __name__ == "__main__":
    main()
