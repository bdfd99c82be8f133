from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_witness_identity: bool = False
    """Put the witnesses' decrypted contact details in the bundle (supervisors only)."""
