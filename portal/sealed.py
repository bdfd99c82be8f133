"""Witness text sealed at rest under the contact key: incident place and description, and
what a file's metadata says of where it was made and by which device.

The same MultiFernet as contact details (portal.keys.ContactCipher), so one key file, one
rotation and one backup cover all of it. Opening a sealed value is a logged look; that is the
callers' duty (portal.evidence.witness_data, portal.export.service).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portal.keys import ContactCipher

DEVICE_KEYS = ("location", "make", "model", "raw_tags")
"""Media metadata that places the witness or names the device: GPS, make, model, and every
container, stream and EXIF tag as the file wrote it (tags carry serial numbers, software
versions and owner names often enough that none is shown unsealed)."""


def seal(cipher: ContactCipher, value: dict[str, Any] | None) -> bytes | None:
    """A Fernet token of `value` as JSON; None when it holds nothing worth sealing."""
    if not value or not any(v not in (None, "", {}, []) for v in value.values()):
        return None
    return cipher.encrypt(json.dumps(value, sort_keys=True).encode())


def unseal(cipher: ContactCipher, token: bytes | None) -> dict[str, Any]:
    if token is None:
        return {}
    data: dict[str, Any] = json.loads(cipher.decrypt(token))
    return data


def incident(place: str | None, description: str | None) -> dict[str, Any]:
    return {"place": place, "description": description}


def split_media(info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what may stay in the clear, what is sealed) of a media description."""
    public = {k: v for k, v in info.items() if k not in DEVICE_KEYS}
    private = {k: info[k] for k in DEVICE_KEYS if k in info}
    return public, private
