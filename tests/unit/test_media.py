"""Media probing, poster frames and the storage-backed file object they read through."""

from __future__ import annotations

import io
import json
import math
import os
import random
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import pytest
from av.audio.stream import AudioStream
from av.video.frame import PictureType, VideoFrame

from portal.media.probe import Location, MediaError, MediaInfo, parse_iso6709, probe
from portal.media.thumbnail import poster
from portal.storage import ObjectMissing, StorageUnavailable
from portal.storage.local import LocalStorage
from portal.storage.reader import StorageReader
from tests.support.media import make_video

CREATED = "2026-03-04T05:06:07.000000Z"
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
MEXICO_CITY = "+19.4326-099.1332/"


def mux_video(
    path: Path,
    *,
    seconds: float = 1,
    size: str = "160x90",
    rate: int = 25,
    bitrate: int = 1_000_000,
    gop: int = 50,
    tags: dict[str, str] | None = None,
    metadata_tags: bool = False,
    rotation: int = 0,
) -> Path:
    """Like `make_video`, plus what it cannot do: real GOPs, arbitrary tags, a display matrix.

    `metadata_tags` sets the mov/mp4 muxer's `use_metadata_tags`, without which it keeps only
    the tags it has a QuickTime atom for (creation_time, location, title, ...), not make/model.
    """
    graph = f"testsrc2=size={size}:rate={rate}:duration={seconds},noise=alls=40:allf=t"
    flags = {"movflags": "use_metadata_tags"} if metadata_tags else {}
    with av.open(graph, format="lavfi") as src, av.open(str(path), "w", options=flags) as dst:
        for k, v in (tags or {}).items():
            dst.metadata[k] = v
        w, h = (int(x) for x in size.split("x"))
        params = f"keyint={gop}:min-keyint={gop}:scenecut=0"
        out = dst.add_stream(
            "libx264", rate=rate, options={"preset": "ultrafast", "x264-params": params}
        )
        out.width, out.height, out.pix_fmt = w, h, "yuv420p"
        out.bit_rate = bitrate
        if rotation:
            out.set_display_rotation(rotation)
        for frame in src.decode(video=0):
            picture = frame.reformat(format="yuv420p")
            # lavfi marks every frame I, which libx264 obeys: all-intra, so no seeking to test.
            picture.pict_type = PictureType.NONE
            for packet in out.encode(picture):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)
    return path


def make_audio(path: Path, codec: str, *, seconds: float = 1, rate: int = 44100) -> Path:
    with (
        av.open(f"sine=frequency=440:duration={seconds}:sample_rate={rate}", "r", "lavfi") as src,
        av.open(str(path), "w") as dst,
    ):
        out = dst.add_stream(codec, rate=rate)
        assert isinstance(out, AudioStream)
        out.layout = "mono"
        for frame in src.decode(audio=0):
            frame.pts = None
            for packet in out.encode(frame):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)
    return path


def encode_image(codec: str, width: int = 48, height: int = 30) -> bytes:
    with av.open(f"testsrc2=size={width}x{height}:rate=1:duration=1", "r", format="lavfi") as src:
        frame = next(src.decode(video=0))
    fmt = "rgb24" if codec == "png" else "yuvj420p"
    enc = av.CodecContext.create(codec, "w")
    assert isinstance(enc, av.video.codeccontext.VideoCodecContext)
    enc.width, enc.height, enc.pix_fmt, enc.time_base = width, height, fmt, Fraction(1, 1)
    picture = frame.reformat(format=fmt)
    picture.pts = 0
    return b"".join(bytes(p) for p in enc.encode(picture) + enc.encode(None))


def top_level_boxes(data: bytes) -> list[str]:
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
        boxes.append(kind.decode("latin-1"))
        if size == 0:
            break
        pos += size
    return boxes


def decode_jpeg(data: bytes) -> VideoFrame:
    with av.open(io.BytesIO(data), "r") as c:
        assert c.format.name in ("jpeg_pipe", "image2")
        assert c.streams.video[0].codec_context.name == "mjpeg"
        return next(c.decode(video=0))


def luma(frame: VideoFrame, width: int, height: int) -> bytes:
    return bytes(frame.reformat(width=width, height=height, format="gray").planes[0])[
        : width * height
    ]


def mean_abs_diff(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("probe")


@pytest.fixture(scope="session")
def tagged(media_dir: Path) -> Path:
    """The shared helper's 4 s 640x360 H.264 MP4, with tags through default muxing."""
    tags = {"creation_time": CREATED, "location": MEXICO_CITY, "make": "Apple", "model": "x"}
    return make_video(media_dir / "tagged.mp4", seconds=4, tags=tags)


@pytest.fixture(scope="session")
def iphone(media_dir: Path) -> Path:
    return mux_video(
        media_dir / "iphone.mov",
        metadata_tags=True,
        tags={
            "creation_time": CREATED,
            "location": MEXICO_CITY,
            "com.apple.quicktime.location.ISO6709": "+19.4326-099.1332+2240.000/",
            "com.apple.quicktime.make": "Apple",
            "com.apple.quicktime.model": "iPhone 15 Pro\n",
            "com.apple.quicktime.software": "17.3\u202e\u0007evil",
        },
    )


@pytest.fixture(scope="session")
def big(media_dir: Path) -> Path:
    """About 20 MB over 20 s, keyframes every 2 s, moov at the end (default muxing)."""
    return mux_video(media_dir / "big.mp4", seconds=20, size="640x360", bitrate=8_000_000)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


def stored(storage: LocalStorage, path: Path, key: str = "sha256/clip") -> StorageReader:
    # A raw binary stream that PyAV reads; probe() and poster() are annotated BinaryIO, so their
    # calls with one carry the same `type: ignore[arg-type]` as portal.media.service's.
    storage.put(key, path.read_bytes())
    return StorageReader(storage, key)


# --- probe ----------------------------------------------------------------------------------


def test_probe_default_mp4_muxing_keeps_time_and_place_but_not_make(tagged: Path) -> None:
    with tagged.open("rb") as f:
        info = probe(f)
    assert info.duration_seconds == pytest.approx(4, abs=0.1)
    assert (info.width, info.height) == (640, 360)
    assert info.video_codec == "h264"
    assert info.audio_codec is None
    assert info.container is not None and "mp4" in info.container
    assert info.creation_time == WHEN
    assert info.location == Location(19.4326, -99.1332)
    # Without movflags=use_metadata_tags the mp4 muxer drops tags it has no atom for.
    assert info.make is None and info.model is None
    assert info.raw_tags["location-eng"] == MEXICO_CITY
    assert info.raw_tags["stream0:handler_name"] == "VideoHandler"


def test_probe_apple_tags_through_storage(iphone: Path, storage: LocalStorage) -> None:
    info = probe(stored(storage, iphone))  # type: ignore[arg-type]
    assert info.creation_time == WHEN
    # The QuickTime ISO 6709 key (with altitude) wins over the plain `location`.
    assert info.location == Location(19.4326, -99.1332, 2240.0)
    assert (info.make, info.model) == ("Apple", "iPhone 15 Pro")
    assert (info.width, info.height, info.video_codec) == (160, 90, "h264")
    assert info.raw_tags["com.apple.quicktime.software"] == "17.3evil"  # controls dropped

    body = info.to_json()
    assert json.loads(json.dumps(body)) == body
    assert body["creation_time"] == "2026-03-04T05:06:07Z"
    assert body["location"] == {"latitude": 19.4326, "longitude": -99.1332, "altitude": 2240.0}
    assert body["make"] == "Apple" and body["video_codec"] == "h264"


def test_probe_android_tags(tmp_path: Path) -> None:
    path = mux_video(
        tmp_path / "pixel.mp4",
        seconds=0.4,
        metadata_tags=True,
        tags={
            "com.android.manufacturer": "Google",
            "com.android.model": "Pixel 8",
            "location": "+37.4220-122.0841/",
            "creation_time": "2026-03-04T05:06:07+0100",
        },
    )
    with path.open("rb") as f:
        info = probe(f)
    assert (info.make, info.model) == ("Google", "Pixel 8")
    assert info.location == Location(37.422, -122.0841)
    assert info.creation_time is not None and info.creation_time.tzinfo is not None


def test_probe_large_video_reads_a_small_part(big: Path, storage: LocalStorage) -> None:
    data = big.read_bytes()
    assert len(data) > 15_000_000
    assert top_level_boxes(data)[-2:] == ["mdat", "moov"]  # the index is at the very end
    reader = stored(storage, big)
    info = probe(reader)  # type: ignore[arg-type]
    assert info.duration_seconds == pytest.approx(20, abs=0.1)
    assert reader.bytes_fetched < len(data) / 8
    assert reader.fetches <= 4


def test_probe_audio_only(tmp_path: Path) -> None:
    for name, codec in (("tone.m4a", "aac"), ("tone.wav", "pcm_s16le")):
        path = make_audio(tmp_path / name, codec)
        with path.open("rb") as f:
            info = probe(f)
        assert info.audio_codec == codec
        assert info.video_codec is None and info.width is None and info.height is None
        assert info.duration_seconds == pytest.approx(1, abs=0.1)
        with path.open("rb") as f:
            assert poster(f) is None


@pytest.mark.parametrize("codec", ["png", "mjpeg"])
def test_probe_and_poster_of_an_image(codec: str) -> None:
    data = encode_image(codec, 48, 30)
    info = probe(io.BytesIO(data))
    assert (info.width, info.height, info.video_codec) == (48, 30, codec)
    assert info.audio_codec is None
    jpeg = poster(io.BytesIO(data), width=24)
    assert jpeg is not None
    frame = decode_jpeg(jpeg)
    assert (frame.width, frame.height) == (24, 16)  # 15 rounded to even


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is not a video\n" * 100,
        random.Random(7).randbytes(200_000),
        b"%PDF-1.7\n" + bytes(5000),
        b"1\n00:00:01,000 --> 00:00:02,000\nsubtitles only\n\n",
    ],
    ids=["empty", "text", "random", "pdf", "subtitles"],
)
def test_non_media_is_refused(data: bytes) -> None:
    with pytest.raises(MediaError):
        probe(io.BytesIO(data))
    with pytest.raises(MediaError):
        poster(io.BytesIO(data))


def test_truncated_mp4_without_its_index_is_refused(tagged: Path) -> None:
    with pytest.raises(MediaError, match="not a readable"):
        probe(io.BytesIO(tagged.read_bytes()[:100_000]))


class FailingStorage(LocalStorage):
    """Fails every read after the first, as a flaky remote backend would."""

    reads = 0

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        self.reads += 1
        if self.reads > 1:
            raise StorageUnavailable("backend went away")
        return super().read(key, start, end)


def test_storage_failures_are_not_reported_as_bad_media(big: Path, tmp_path: Path) -> None:
    storage = FailingStorage(tmp_path / "flaky")
    reader = stored(storage, big)
    with pytest.raises(StorageUnavailable):
        probe(reader)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+19.4326-099.1332/", Location(19.4326, -99.1332)),
        ("+19.4326-099.1332+2240.000/", Location(19.4326, -99.1332, 2240.0)),
        (" -33.8688+151.2093-12.5/ ", Location(-33.8688, 151.2093, -12.5)),
        ("+40.6892-074.0445CRSWGS_84/", Location(40.6892, -74.0445)),
        ("+1930-09915/", Location(19.5, -99.25)),  # ±DDMM±DDDMM
        ("+193000-0991500/", Location(19.5, -99.25)),  # ±DDMMSS±DDDMMSS
        ("+19.4326-099.1332", Location(19.4326, -99.1332)),
        ("+91.0000-099.1332/", None),
        ("+19.4326-181.0000/", None),
        ("+1960-09915/", None),
        ("19.4326,-99.1332", None),
        ("", None),
    ],
)
def test_parse_iso6709(text: str, expected: Location | None) -> None:
    got = parse_iso6709(text)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert got.latitude == pytest.approx(expected.latitude)
        assert got.longitude == pytest.approx(expected.longitude)
        assert got.altitude == expected.altitude


def test_media_info_json_when_nothing_is_known() -> None:
    body = MediaInfo().to_json()
    assert json.loads(json.dumps(body)) == body
    assert body["creation_time"] is None and body["location"] is None and body["raw_tags"] == {}


# --- poster ---------------------------------------------------------------------------------


def test_poster_is_a_jpeg_of_the_requested_width(tagged: Path) -> None:
    with tagged.open("rb") as f:
        jpeg = poster(f, width=320)
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    frame = decode_jpeg(jpeg)
    assert (frame.width, frame.height) == (320, 180)


def test_poster_of_a_clip_shorter_than_the_time_is_its_first_frame(tmp_path: Path) -> None:
    path = mux_video(tmp_path / "short.mp4", seconds=0.4)
    with path.open("rb") as f:
        jpeg = poster(f, width=80, at_seconds=5)
    assert jpeg is not None
    assert (decode_jpeg(jpeg).width, decode_jpeg(jpeg).height) == (80, 46)  # 45 -> even


def test_poster_seeks_instead_of_reading_the_whole_file(big: Path, storage: LocalStorage) -> None:
    reader = stored(storage, big)
    jpeg = poster(reader, width=160, at_seconds=15)  # type: ignore[arg-type]
    assert jpeg is not None
    assert reader.bytes_fetched < reader.size / 4, (reader.bytes_fetched, reader.size)

    # It is the picture at 15 s, not the first one.
    frames: dict[float, VideoFrame] = {}
    with av.open(str(big)) as c:
        for f in c.decode(video=0):
            if f.time in (0.0, 15.0):
                frames[f.time] = f
            if len(frames) == 2:
                break
    got = luma(decode_jpeg(jpeg), 160, 90)
    at_15, at_0 = luma(frames[15.0], 160, 90), luma(frames[0.0], 160, 90)
    assert mean_abs_diff(got, at_15) < mean_abs_diff(got, at_0)


def test_poster_stands_portrait_video_upright(tmp_path: Path) -> None:
    path = mux_video(tmp_path / "portrait.mp4", seconds=0.4, size="128x64", rotation=90)
    with path.open("rb") as f:
        info = probe(f)
    assert (info.width, info.height) == (128, 64)  # stored size; the display matrix turns it
    with path.open("rb") as f:
        jpeg = poster(f, width=32)
    assert jpeg is not None
    frame = decode_jpeg(jpeg)
    assert (frame.width, frame.height) == (32, 64)


@pytest.mark.parametrize(
    ("width", "at"), [(0, 1.0), (1, 1.0), (100_000, 1.0), (320, -1), (320, math.nan)]
)
def test_poster_refuses_bad_arguments(tagged: Path, width: int, at: float) -> None:
    with tagged.open("rb") as f, pytest.raises(ValueError):
        poster(f, width=width, at_seconds=at)


# --- StorageReader --------------------------------------------------------------------------


@pytest.fixture
def blob(storage: LocalStorage) -> bytes:
    data = random.Random(1).randbytes(10_000)
    storage.put("sha256/blob", data)
    return data


def test_reader_matches_a_bytes_io_under_random_seeks_and_reads(
    storage: LocalStorage, blob: bytes
) -> None:
    rng = random.Random(2)
    for read_ahead in (1, 7, 1000, 1 << 20):
        reader, ref = StorageReader(storage, "sha256/blob", read_ahead=read_ahead), io.BytesIO(blob)
        for _ in range(300):
            op = rng.random()
            if op < 0.3:
                whence = rng.choice([os.SEEK_SET, os.SEEK_CUR, os.SEEK_END])
                base = {os.SEEK_SET: 0, os.SEEK_CUR: ref.tell(), os.SEEK_END: len(blob)}[whence]
                offset = rng.randint(-base, 12_000 - base)
                assert reader.seek(offset, whence) == ref.seek(offset, whence)
            elif op < 0.9:
                n = rng.choice([0, 1, 5, 100, 4096, 20_000])
                got = bytearray()
                while len(got) < n and (chunk := reader.read(n - len(got))):
                    got += chunk
                assert bytes(got) == ref.read(n)
            else:
                assert reader.read() == ref.read()
            assert reader.tell() == ref.tell()


def test_reader_edges(storage: LocalStorage, blob: bytes) -> None:
    reader = StorageReader(storage, "sha256/blob", read_ahead=4096)
    assert reader.readable() and reader.seekable() and not reader.writable()
    assert reader.size == len(blob)

    assert reader.read(0) == b"" and reader.readinto(bytearray()) == 0
    assert reader.fetches == 0  # zero-length reads never touch storage

    assert reader.seek(-10, os.SEEK_END) == len(blob) - 10
    assert reader.read(100) == blob[-10:]
    assert reader.read(100) == b""  # at the end

    assert reader.seek(50_000) == 50_000  # past the end is allowed, like a file
    assert reader.read(10) == b"" and reader.readinto(bytearray(10)) == 0
    assert reader.read() == b""
    assert reader.tell() == 50_000

    assert reader.seek(-5, os.SEEK_CUR) == 49_995
    reader.seek(100)
    assert reader.seek(10, os.SEEK_CUR) == 110
    buf = bytearray(16)
    assert reader.readinto(memoryview(buf)[4:]) == 12
    assert buf[4:] == blob[110:122]

    with pytest.raises(ValueError):
        reader.seek(-1)
    with pytest.raises(ValueError):
        reader.seek(-len(blob) - 1, os.SEEK_END)
    with pytest.raises(ValueError):
        reader.seek(0, 3)

    reader.close()
    assert reader.closed
    with pytest.raises(ValueError):
        reader.read(1)
    with pytest.raises(ValueError):
        reader.seek(0)


def test_reader_counts_fetches_and_keeps_two_blocks(storage: LocalStorage, blob: bytes) -> None:
    reader = StorageReader(storage, "sha256/blob", read_ahead=1000)
    for _ in range(10):  # many small sequential reads, one fetch per 1000 bytes
        assert len(reader.read(100)) == 100
    assert (reader.fetches, reader.bytes_fetched) == (1, 1000)
    reader.seek(-100, os.SEEK_END)
    assert reader.read(100) == blob[-100:]
    assert (reader.fetches, reader.bytes_fetched) == (2, 1100)  # capped at the end
    reader.seek(0)
    assert reader.read(1000) == blob[:1000]  # the head is still cached
    assert reader.fetches == 2
    reader.seek(2000)
    assert reader.read(5000) == blob[2000:7000]  # a big read is one fetch of what was asked
    assert (reader.fetches, reader.bytes_fetched) == (3, 6100)
    reader.seek(9000)
    assert reader.read() == blob[9000:]  # readall: the rest in one request
    assert reader.fetches == 4


def test_reader_does_not_refetch_up_to_a_cached_block(storage: LocalStorage, blob: bytes) -> None:
    reader = StorageReader(storage, "sha256/blob", read_ahead=1000)
    reader.seek(500)
    reader.read(1)
    reader.seek(0)
    assert reader.read(1000) == blob[:500]  # stops where the cached block begins
    assert reader.bytes_fetched == 1500


def test_reader_through_buffered_reader_and_empty_objects(storage: LocalStorage) -> None:
    storage.put("sha256/empty", b"")
    reader = StorageReader(storage, "sha256/empty")
    assert reader.size == 0 and reader.read(10) == b"" and reader.read() == b""
    assert reader.fetches == 0

    storage.put("sha256/abc", b"abcdefgh")
    buffered = io.BufferedReader(StorageReader(storage, "sha256/abc", read_ahead=3))
    assert buffered.read(5) == b"abcde"
    assert buffered.read() == b"fgh"


def test_reader_of_a_missing_key(storage: LocalStorage) -> None:
    with pytest.raises(ObjectMissing):
        StorageReader(storage, "sha256/nothing")
