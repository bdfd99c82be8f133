"""Playback proxies: which originals a browser may not play, and the review copy's record.

Browsers play H.264 with AAC or MP3 in MP4/QuickTime, and VP8/VP9/AV1 with Opus or Vorbis
in WebM; anything else (HEVC from iPhones, 3GP's H.263 and AMR, AVI, MJPEG from dashcams,
HEVC or AV1 in other containers) may show sound without pictures, so it gets a proxy. The
decision is taken from the codecs the probe read, never from the file name. The proxy is a
separate write-once object under `derived/<source sha256>/proxy.mp4`; the original is only
read.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.custody import service as custody
from portal.custody.events import EventType
from portal.evidence.models import Derivative, Evidence
from portal.media.isolation import Limits, Proxy, run_transcode
from portal.media.service import source
from portal.media.transcode import SETTINGS
from portal.storage import Storage
from portal.storage.layout import derived_key

PROXY = "proxy"
# FFmpeg's demuxer names: "mov,mp4,m4a,3gp,3g2,mj2" covers MP4 and QuickTime (and 3GP,
# whose codecs then decide), "matroska,webm" WebM.
_PLAYABLE: dict[str, tuple[set[str], set[str]]] = {
    "mov,mp4,m4a,3gp,3g2,mj2": ({"h264"}, {"aac", "mp3"}),
    "matroska,webm": ({"vp8", "vp9", "av1"}, {"opus", "vorbis"}),
}


def needs_proxy(info: dict[str, Any] | None) -> bool:
    """Whether an item with this probe answer is video a browser may not play."""
    if not info or info.get("unreadable") or not info.get("video_codec") or not info.get("width"):
        return False
    videos, audios = _PLAYABLE.get(str(info.get("container")), (set(), set()))
    audio = info.get("audio_codec")
    return info["video_codec"] not in videos or (audio is not None and audio not in audios)


def make(storage: Storage, *, key: str, limits: Limits, tick: Any) -> Proxy:
    """Transcode the original at `key` in the limited child; never raises for bad media."""
    with source(storage, key) as (fileobj, _read):
        return run_transcode(fileobj, limits, tick)


def store(storage: Storage, *, sha256: str, data: bytes) -> tuple[str, bytes]:
    key = derived_key(sha256, "proxy.mp4")
    if storage.exists(key):
        # Write-once: a run a crash cut short stored it before its row; those bytes stand.
        return key, b"".join(storage.read(key))
    storage.put(key, data)
    return key, data


def record(
    db: Session,
    *,
    item: Evidence,
    key: str,
    data: bytes,
    made_with: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The proxy's derivative row and its custody event (in the caller's transaction)."""
    digest = hashlib.sha256(data).hexdigest()
    tool = {"name": "FFmpeg (PyAV)", "ffmpeg": made_with.get("ffmpeg"), "settings": SETTINGS}
    if db.get(Derivative, key) is None:
        db.add(
            Derivative(
                key=key,
                source_sha256=item.sha256,
                kind=PROXY,
                media_type="video/mp4",
                size=len(data),
                sha256=digest,
                created_at=now,
            )
        )
    details = {
        "sha256": item.sha256,
        "proxy": {
            "key": key,
            "sha256": digest,
            "size": len(data),
            "width": made_with.get("width"),
            "height": made_with.get("height"),
            "tool": tool,
        },
    }
    custody.append(
        db,
        type=EventType.EVIDENCE_DERIVED,
        actor=custody.SYSTEM,
        subject=item.id,
        details=details,
        at=now,
    )
    return details


def record_failure(db: Session, *, item: Evidence, reason: str, now: datetime) -> None:
    """A proxy that could not be made, after every attempt: said once in the log."""
    custody.append(
        db,
        type=EventType.EVIDENCE_DERIVED,
        actor=custody.SYSTEM,
        subject=item.id,
        details={"sha256": item.sha256, "proxy": "failed", "reason": reason},
        at=now,
    )


def proxy_of(db: Session, item: Evidence) -> Derivative | None:
    return db.query(Derivative).filter_by(source_sha256=item.sha256, kind=PROXY).first()
