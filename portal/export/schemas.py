from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_witness_identity: bool = False
    """Put the witnesses' decrypted contact details in the bundle (supervisors only)."""
    include_witness_data: bool = False
    """Put the incident place and description, and the place and device each file's metadata
    names (GPS, make, model, tags), in the bundle (supervisors only). Without it the manifest,
    the PDF and the JSON-LD list them as withheld; the originals are whole either way."""
