"""botocore's errors turned into the storage error family, by the codes S3 servers answer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from portal.errors import PortalError
from portal.storage import InsufficientStorage, ObjectMissing, StorageUnavailable

MISSING = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})
FULL = frozenset({"QuotaExceeded", "InsufficientStorage", "XMinioStorageFull", "StorageFull"})
LOCK_REFUSALS = frozenset({"AccessDenied", "ObjectLocked"})
NO_LOCK_CONFIG = frozenset(
    {
        "ObjectLockConfigurationNotFoundError",
        "NoSuchObjectLockConfiguration",
        "NotImplemented",
        "MethodNotAllowed",
    }
)


def error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: Any) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def translate(exc: Any, what: str) -> PortalError | ObjectMissing:
    code = error_code(exc)
    if code in MISSING:
        return ObjectMissing(f"{what}: no such object")
    if code in FULL or http_status(exc) == 507:
        return InsufficientStorage("object storage is full")
    if code == "NoSuchBucket":
        return StorageUnavailable(f"{what}: the bucket does not exist")
    return StorageUnavailable(f"object storage refused {what}: {code or exc}")


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn botocore and connection errors into the storage error family."""
    try:
        yield
    except (PortalError, ObjectMissing):
        raise
    except ClientError as exc:
        raise translate(exc, what) from exc
    except (BotoCoreError, OSError) as exc:  # refused connections, timeouts, cut-off bodies
        raise StorageUnavailable(f"object storage unavailable ({what}): {exc}") from exc


def caused_by(exc: BaseException, code: str) -> bool:
    """Whether a translated error came from an S3 answer with this error code."""
    cause = exc.__cause__
    return isinstance(cause, ClientError) and error_code(cause) == code


class UploadGone(Exception):
    """The multipart upload was completed or aborted."""


def upload_gone(exc: BaseException) -> bool:
    return caused_by(exc, "NoSuchUpload")
