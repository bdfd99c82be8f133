"""How long the witness waits for the answer to an upload's final PATCH.

Not a test. Starts `portal serve` (SQLite, local storage) on 127.0.0.1, makes a normal H.264
video at run time, and for each round opens a submission, sends all but the last 64 KiB in one
PATCH, then times the final PATCH: finalise (hash fixed, original moved home, evidence row and
custody events, retention date, checkpoint) and whatever else runs before the answer.

    python bench/ack_bench.py                       # 1080p, 10 s video, 15 rounds
    python bench/ack_bench.py --rounds 3 --seconds 2   # smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from tests.support.api import new_submission
from tests.support.media import make_video
from tests.support.servers import Server
from tests.support.uploads import create_upload, patch

TAIL = 64 * 1024


def final_patch_seconds(server: Server, data: bytes) -> float:
    with httpx.Client(base_url=server.url, timeout=120) as http:
        _, token = new_submission(http)
        auth = {"Authorization": f"Bearer {token}"}
        url = create_upload(http, auth, len(data))
        assert patch(http, url, auth, 0, data[:-TAIL]).status_code == 204
        started = time.perf_counter()
        r = patch(http, url, auth, len(data) - TAIL, data[-TAIL:])
        elapsed = time.perf_counter() - started
        assert r.status_code == 204, r.text
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ack-bench-") as tmp:
        video = make_video(Path(tmp) / "clip.mp4", seconds=args.seconds, size=args.size)
        data = video.read_bytes()
        server = Server(Path(tmp) / "data").start()
        try:
            final_patch_seconds(server, data)  # warm-up
            times = []
            for _ in range(args.rounds):
                times.append(final_patch_seconds(server, data))
                time.sleep(1.5)  # let the previous file's media work finish
        finally:
            server.stop()
    ms = sorted(t * 1000 for t in times)
    print(
        f"{len(data) / 1e6:.1f} MB {args.size} video, {args.rounds} rounds: final PATCH "
        f"median {statistics.median(ms):.0f} ms, min {ms[0]:.0f}, max {ms[-1]:.0f}"
    )


if __name__ == "__main__":
    main()
