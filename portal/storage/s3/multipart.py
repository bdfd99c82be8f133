"""Requests on one partial's multipart uploads; an upload that was completed or aborted
meanwhile raises `UploadGone` where the caller can carry on without it."""

from __future__ import annotations

import itertools
import logging
import math

from portal.storage import ObjectMissing, StorageUnavailable
from portal.storage.s3.bucket import Bucket
from portal.storage.s3.errors import UploadGone, translated, upload_gone
from portal.storage.s3.limits import MAX_COPY_PART
from portal.storage.s3.state import Mpu, Part

log = logging.getLogger("portal.storage.s3")


def create(bucket: Bucket, upload_id: str, name: str) -> Mpu:
    key = bucket.partial_dir(upload_id) + name
    with translated(f"create multipart upload {key}"):
        r = bucket.client.create_multipart_upload(Bucket=bucket.name, Key=key)
    return Mpu(name, str(r["UploadId"]))


def upload_part(bucket: Bucket, upload_id: str, mpu: Mpu, number: int, body: bytes) -> str:
    key = bucket.partial_dir(upload_id) + mpu.name
    try:
        with translated(f"upload part {number} of {key}"):
            r = bucket.client.upload_part(
                Bucket=bucket.name, Key=key, UploadId=mpu.id, PartNumber=number, Body=body
            )
    except StorageUnavailable as exc:
        if upload_gone(exc):
            raise UploadGone from exc
        raise
    return str(r["ETag"])


def complete(bucket: Bucket, upload_id: str, mpu: Mpu, parts: list[Part]) -> None:
    key = bucket.partial_dir(upload_id) + mpu.name
    try:
        with translated(f"complete {key}"):
            bucket.client.complete_multipart_upload(
                Bucket=bucket.name,
                Key=key,
                UploadId=mpu.id,
                MultipartUpload={
                    "Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]
                },
            )
    except StorageUnavailable as exc:
        if upload_gone(exc):
            raise UploadGone from exc
        raise


def abort_quietly(bucket: Bucket, upload_id: str, mpu: Mpu) -> None:
    key = bucket.partial_dir(upload_id) + mpu.name
    try:
        with translated(f"abort {key}"):
            bucket.client.abort_multipart_upload(Bucket=bucket.name, Key=key, UploadId=mpu.id)
    except (StorageUnavailable, ObjectMissing) as exc:
        if not upload_gone(exc):
            log.warning("could not abort multipart upload %s: %s", key, exc)


def copy_parts(
    bucket: Bucket, upload_id: str, mpu: Mpu, source: tuple[str, str | None], length: int
) -> list[Part]:
    """Server-side copy of source bytes [0, length) as the first parts of `mpu`."""
    if length == 0:
        return []
    count = math.ceil(length / MAX_COPY_PART)
    edges = [length * i // count for i in range(count + 1)]
    copy_source = {"Bucket": bucket.name, "Key": source[0]}
    if source[1] is not None:
        copy_source["VersionId"] = source[1]
    key = bucket.partial_dir(upload_id) + mpu.name
    parts = []
    for number, (lo, hi) in enumerate(itertools.pairwise(edges), start=1):
        with translated(f"copy into part {number} of {key}"):
            r = bucket.client.upload_part_copy(
                Bucket=bucket.name,
                Key=key,
                UploadId=mpu.id,
                PartNumber=number,
                CopySource=copy_source,
                CopySourceRange=f"bytes={lo}-{hi - 1}",
            )
        parts.append(Part(number, str(r["CopyPartResult"]["ETag"]), hi - lo))
    return parts
