"""S3 backend (AWS S3, MinIO, Ceph, SeaweedFS), for running more than one app instance.

Layout under the prefix:

    <key>                                       originals and derivatives, write-once
    partial/<upload_id>/data[-<nonce>]          a multipart upload's key (one per generation)
    partial/<upload_id>/pending-<start>-<nonce> bytes after the last full part, at <start>
    partial/<upload_id>/full-<size>             a rebuilt copy of the first <size> bytes

A partial is a multipart upload, as in tusd's s3store. Parts are `part_size` bytes (8 MiB; S3
wants at least 5 MiB for all parts but the last), uploaded as soon as one is full, so a PATCH is
never held in memory. `commit()` stores what is left over as a *pending object* and returns a
JSON state naming the upload, its parts (number, ETag, size) and the pending object; the next
`open_partial`, in whatever process, starts its buffer with the pending bytes. Nothing a
committed state refers to is overwritten or deleted before a later state has superseded it:
new parts take numbers past the committed ones, and every pending object gets a fresh name.
A superseded pending object is deleted by the first `open_partial` that sees the state which
replaced it; everything else left over goes when the partial is finished or deleted.

S3 cannot read the parts of an unfinished multipart upload. Reading a partial back
(`read_partial`, `read_partial_head`) therefore *materialises* it: it completes the upload
with the pending bytes as its last part, which finishing would have done anyway. A writer that
later finds its upload completed (NoSuchUpload) starts a new one whose first parts are
server-side copies of the committed bytes (UploadPartCopy). A committed prefix of an upload
has only one possible content (tus only appends), so "an object of the committed size" is
always the committed content; that is what makes every step here safe to repeat.

Modules: `storage` (S3Storage, with Object Lock), `writer` (the partial writer and its parts
in flight), `state` (the committed state), `multipart` and `materialize` (multipart uploads
and reading them back), `reading` (resumable ranged GETs), `bucket` (key names, small
requests), `client` (the boto3 client: its protocol and settings), `errors` (botocore errors
translated), `limits` (sizes).
"""

from portal.storage.s3.client import Checksum
from portal.storage.s3.limits import IN_FLIGHT, MIN_PART_SIZE, PART_SIZE, PIPELINE, MiB
from portal.storage.s3.storage import LockMode, S3Storage

__all__ = [
    "IN_FLIGHT",
    "MIN_PART_SIZE",
    "PART_SIZE",
    "PIPELINE",
    "Checksum",
    "LockMode",
    "MiB",
    "S3Storage",
]
