"""A witness's tus client in a process of its own, so a test can SIGKILL it mid-upload.

It keeps only what a phone would keep between runs, in its state folder: the upload URL (saved
before the first byte is sent). A fresh run with the same folder resumes the tus way: HEAD for
the offset, then PATCH from there.

Every offset the server acknowledges (a PATCH's 204 or a HEAD's 200) is appended to `acks.jsonl`
with an unbuffered write before the next request is sent, and `sending` lines say what is on
the wire, so the test can kill at a chosen byte and later check that no acknowledged byte was
lost. Bodies are streamed in small pieces so that a kill can land in the middle of one.

    python -m tests.support.tus_client ENDPOINT TOKEN FILE STATE_DIR [--chunk N] [--checksum]

Exit status: 0 complete; 75 the server went away (restart it and run again); 1 anything else.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

TUS = {"Tus-Resumable": "1.0.0"}
PIECE = 64 * 1024
# Bounds: a run never loops forever, whatever the server answers.
MAX_REQUESTS = 10_000
MAX_SECONDS = 120
SERVER_GONE = 75


class Journal:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(self, event: str, **fields: object) -> None:
        line = json.dumps({"event": event, "pid": os.getpid(), **fields}) + "\n"
        os.write(self._fd, line.encode())


def save_url(state: Path, url: str) -> None:
    tmp = state / "url.tmp"
    with open(tmp, "w") as f:
        f.write(url)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state / "url")


def body(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), PIECE):
        yield data[start : start + PIECE]


def retry_after(r: httpx.Response) -> float:
    value = r.headers.get("Retry-After", "1")
    return min(float(value), 5.0) if value.isdigit() else 1.0


def run(args: argparse.Namespace) -> int:
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    journal = Journal(state / "acks.jsonl")
    data = Path(args.file).read_bytes()
    auth = {"Authorization": f"Bearer {args.token}"}
    deadline = time.monotonic() + MAX_SECONDS
    with httpx.Client(base_url=args.endpoint, headers={**TUS, **auth}, timeout=60) as http:
        url_file = state / "url"
        if url_file.exists():
            url = url_file.read_text()
        else:
            name = base64.b64encode(Path(args.file).name.encode()).decode()
            r = http.post(
                "/api/v1/uploads",
                headers={"Upload-Length": str(len(data)), "Upload-Metadata": f"filename {name}"},
            )
            if r.status_code != 201:
                journal.write("error", status=r.status_code, body=r.text)
                return 1
            url = r.headers["Location"]
            save_url(state, url)
            journal.write("created", url=url)
        offset: int | None = None
        for _ in range(MAX_REQUESTS):
            if time.monotonic() > deadline:
                journal.write("error", reason="out of time")
                return 1
            if offset is None:
                r = http.head(url)
                if r.status_code in (423, 503):
                    time.sleep(retry_after(r))
                    continue
                if r.status_code != 200:
                    journal.write("error", status=r.status_code, body=r.text)
                    return 1
                offset = int(r.headers["Upload-Offset"])
                journal.write("ack", via="head", offset=offset)
            if offset == len(data):
                journal.write("done", offset=offset)
                return 0
            chunk = data[offset : offset + args.chunk]
            headers = {
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(len(chunk)),
                "Upload-Offset": str(offset),
            }
            if args.checksum:
                digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                headers["Upload-Checksum"] = f"sha256 {digest}"
            journal.write("sending", offset=offset, end=offset + len(chunk))
            r = http.patch(url, content=body(chunk), headers=headers)
            if r.status_code == 204:
                offset = int(r.headers["Upload-Offset"])
                journal.write("ack", via="patch", offset=offset)
            elif r.status_code in (409, 423, 460, 503):
                # Offset moved (a dropped PATCH kept its bytes), lease held, checksum or storage
                # trouble: ask again where the upload stands.
                if r.status_code != 409:
                    time.sleep(retry_after(r))
                offset = None
            else:
                journal.write("error", status=r.status_code, body=r.text)
                return 1
    journal.write("error", reason="too many requests")
    return 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("endpoint")
    p.add_argument("token")
    p.add_argument("file")
    p.add_argument("state")
    p.add_argument("--chunk", type=int, default=1 << 20)
    p.add_argument("--checksum", action="store_true")
    args = p.parse_args()
    try:
        code = run(args)
    except httpx.TransportError as exc:
        Journal(Path(args.state) / "acks.jsonl").write("server_gone", error=repr(exc))
        code = SERVER_GONE
    sys.exit(code)


if __name__ == "__main__":
    main()
