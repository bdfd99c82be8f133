"""The provenance of a redacted copy as a C2PA manifest embedded in the copy (c2pa-python).

Signed in the worker, not in the media child (which holds no keys), over the copy the child
made: only the portal's own encoder output is parsed here, never the witness's original,
which the manifest names as its `parentOf` ingredient by hash alone. The signer's chain is
the operator's (PORTAL_C2PA_CERT_CHAIN); a validator that does not trust its CA reports the
manifest intact but the credential untrusted. The custody log stays the proof that counts.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

ASSERTION = "org.portal.redaction.provenance"


def manifest(record: dict[str, Any]) -> dict[str, Any]:
    """The manifest definition: opened from the original (by hash), edited as recorded."""
    ops = ", ".join(sorted({op["type"] for op in record["operations"]}))
    return {
        "claim_generator_info": [{"name": "portal", "version": "1"}],
        "title": f"redaction-{record['redaction']}.mp4",
        "format": "video/mp4",
        "ingredients": [
            {
                "title": f"original sha256:{record['source_sha256']}",
                "format": "video/mp4",
                "relationship": "parentOf",
                "instance_id": f"sha256:{record['source_sha256']}",
                "label": "original",
            }
        ],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {"action": "c2pa.opened", "parameters": {"ingredientIds": ["original"]}},
                        {"action": "c2pa.edited", "parameters": {"description": ops}},
                    ]
                },
            },
            {"label": ASSERTION, "data": record},
        ],
    }


def sign(data: bytes, *, record: dict[str, Any], chain: Path, key: Path) -> tuple[bytes, str]:
    """The copy with the manifest embedded, and the manifest's label."""
    import c2pa

    info = c2pa.C2paSignerInfo(
        alg=b"es256", sign_cert=chain.read_bytes(), private_key=key.read_bytes(), ta_url=None
    )
    signer = c2pa.Signer.from_info(info)
    try:
        builder = c2pa.Builder(manifest(record))
        out = io.BytesIO()
        builder.sign(signer, "video/mp4", io.BytesIO(data), out)
    finally:
        signer.close()
    signed = out.getvalue()
    reader = c2pa.Reader("video/mp4", io.BytesIO(signed))
    label = str(json.loads(reader.json())["active_manifest"])
    return signed, label
