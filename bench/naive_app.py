"""The naive baseline for bench/upload_bench.py: what a typical FastAPI upload endpoint does.

One multipart `UploadFile` endpoint. Starlette/python-multipart spools the part to a temporary
file (SpooledTemporaryFile, on disk past 1 MiB), then the handler copies it to its destination
with shutil.copyfileobj and re-reads the destination to compute SHA-256. No fsync, no resume,
no media check: it is a floor to compare against, not a design to copy.

Serve with: python -m uvicorn naive_app:app --app-dir bench  (NAIVE_DATA_DIR picks the folder;
TMPDIR decides where the multipart spool goes).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from fastapi import FastAPI, UploadFile

DATA_DIR = Path(os.environ.get("NAIVE_DATA_DIR", "naive-data"))
READ_BLOCK = 1024 * 1024

app = FastAPI(title="naive upload baseline")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/upload")
def upload(file: UploadFile) -> dict[str, object]:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    dest = DATA_DIR / f"{uuid.uuid4().hex}.bin"
    with open(dest, "wb") as out:
        shutil.copyfileobj(file.file, out)
    digest = hashlib.sha256()
    size = 0
    with open(dest, "rb") as f:
        while block := f.read(READ_BLOCK):
            digest.update(block)
            size += len(block)
    return {"name": file.filename, "size": size, "sha256": digest.hexdigest(), "id": dest.stem}
