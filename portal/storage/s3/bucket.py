"""One bucket under a prefix, through one client: key names and the small requests that the
storage, its multipart uploads and its partial writers all make."""

from __future__ import annotations

from portal.storage import ObjectMissing, StorageUnavailable
from portal.storage.layout import key_parts
from portal.storage.s3.client import Body, Client
from portal.storage.s3.errors import translated


class Bucket:
    def __init__(self, client: Client, name: str, prefix: str) -> None:
        self.client = client
        self.name = name
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    # --- names ----------------------------------------------------------------------------

    def object_key(self, key: str) -> str:
        key_parts(key)  # refuses a key that could escape its place
        return self.prefix + key

    def partial_dir(self, upload_id: str) -> str:
        if not upload_id.isalnum() or not upload_id.isascii():
            raise ValueError(f"bad upload id {upload_id!r}")
        return f"{self.prefix}partial/{upload_id}/"

    # --- small requests -------------------------------------------------------------------

    def head(self, full_key: str) -> tuple[int, str | None] | None:
        """(size, version) of the current version, or None when absent."""
        try:
            with translated(f"HEAD {full_key}"):
                r = self.client.head_object(Bucket=self.name, Key=full_key)
        except ObjectMissing:
            return None
        version = r.get("VersionId")
        return int(r["ContentLength"]), None if version in (None, "null") else str(version)

    def versioned(self, full_key: str, version: str | None) -> dict[str, str]:
        args = {"Bucket": self.name, "Key": full_key}
        if version is not None:
            args["VersionId"] = version
        return args

    def get_bytes(self, full_key: str, version: str | None, size: int) -> bytes:
        with translated(f"GET {full_key}"):
            body: Body = self.client.get_object(**self.versioned(full_key, version))["Body"]
            try:
                data = body.read()
            finally:
                body.close()
        if len(data) != size:
            raise StorageUnavailable(f"{full_key} holds {len(data)} bytes, expected {size}")
        return data

    def put_temp(self, upload_id: str, name: str, data: bytes) -> str | None:
        key = self.partial_dir(upload_id) + name
        with translated(f"PUT {key}"):
            r = self.client.put_object(Bucket=self.name, Key=key, Body=data)
        version = r.get("VersionId")
        return None if version in (None, "null") else str(version)

    def delete_version(self, full_key: str, version: str | None) -> None:
        with translated(f"DELETE {full_key}"):
            self.client.delete_object(**self.versioned(full_key, version))

    def versions(self, prefix: str, *, exact: bool) -> list[tuple[str, str | None]]:
        """Every (key, version id) under a prefix, delete markers included."""
        found: list[tuple[str, str | None]] = []
        with translated(f"list versions of {prefix}"):
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.name, Prefix=prefix
            )
            for page in pages:
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    key = str(v["Key"])
                    if exact and key != prefix:
                        continue
                    version = v.get("VersionId")
                    found.append((key, None if version in (None, "null") else str(version)))
        return found
