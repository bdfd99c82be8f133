"""Consent documents: data files in consent/, one per version; the highest is current."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from portal.custody.offline import canonical_json

LANGUAGES = ("es", "en")


@dataclass(frozen=True)
class ConsentDocument:
    version: str
    sha256: str
    text: dict[str, str]
    scopes: list[dict[str, Any]]

    @property
    def required_scopes(self) -> set[str]:
        return {s["name"] for s in self.scopes if s["required"]}

    @property
    def scope_names(self) -> set[str]:
        return {s["name"] for s in self.scopes}


@cache
def documents() -> dict[str, ConsentDocument]:
    out = {}
    for entry in resources.files("portal.submissions").joinpath("consent").iterdir():
        if not entry.name.endswith(".json"):
            continue
        raw = json.loads(entry.read_text(encoding="utf-8"))
        # The hash covers exactly what the witness is shown: version, text and scopes.
        digest = hashlib.sha256(canonical_json(raw)).hexdigest()
        out[raw["version"]] = ConsentDocument(raw["version"], digest, raw["text"], raw["scopes"])
    return out


def current() -> ConsentDocument:
    docs = documents()
    return docs[max(docs, key=int)]
