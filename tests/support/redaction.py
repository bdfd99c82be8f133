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


def c2pa_signer(folder: Path) -> tuple[Path, Path]:
    """A made-up CA and an ES256 signer it certifies (PEM chain, PEM key), as an operator's
    own C2PA credentials would be; validators that do not trust the CA say so."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def named(cn: str) -> Any:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Portal tests"),
            ]
        )

    def cert(subject: str, key: Any, issuer: Any, signing_key: Any, ca: bool) -> Any:
        usage = dict.fromkeys(
            (
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "encipher_only",
                "decipher_only",
            ),
            False,
        )
        built = (
            x509.CertificateBuilder()
            .subject_name(named(subject))
            .issuer_name(issuer or named(subject))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=not ca, key_cert_sign=ca, crl_sign=ca, **usage),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        )
        if not ca:
            built = built.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                critical=False,
            )
        return built.sign(signing_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("Portal test CA", ca_key, None, ca_key, True)
    leaf = cert("Portal redaction signer", key, ca.subject, ca_key, False)
    pem = serialization.Encoding.PEM
    chain, private = folder / "c2pa-chain.pem", folder / "c2pa-key.pem"
    chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    private.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return chain, private


def probed(client: Any, item: str, *, seconds: float = 60) -> str:
    """`item` once its metadata is read (a redaction is checked against its size and length);
    on the scale-out backends that happens after the receipt, on a worker."""
    import time

    from portal.evidence.models import Evidence

    rt = client.app.state.runtime
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with rt.sessions() as db:
            row = db.get(Evidence, item)
            if row is not None and row.media_info is not None:
                return item
        time.sleep(0.2)
    raise AssertionError(f"item {item} was never probed")
