"""Bodies of the redaction routes: the operations, checked for shape here and against the
video's own size and length by the service (422 naming the field)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from portal.redactions.models import Purpose, Redaction
from portal.schemas import Strict

Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Pixels = Annotated[int, Field(ge=0)]


class _Range(Strict):
    start: Seconds
    end: Seconds

    @model_validator(mode="after")
    def _rising(self) -> _Range:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Box(_Range):
    """A rectangle in the original's pixels, blurred or filled while start <= t < end."""

    type: Literal["box"]
    x: Pixels
    y: Pixels
    w: Annotated[int, Field(ge=2)]
    h: Annotated[int, Field(ge=2)]
    style: Literal["blur", "solid"] = "blur"


class FrameBlur(_Range):
    """The whole picture blurred while start <= t < end."""

    type: Literal["frame_blur"]


class Mute(_Range):
    """The sound silenced while start <= t < end."""

    type: Literal["mute"]


Operation = Annotated[Box | FrameBlur | Mute, Field(discriminator="type")]


class RedactionIn(Strict):
    purpose: Purpose
    operations: list[Operation] = Field(min_length=1, max_length=200)


class RedactionOut(BaseModel):
    id: str
    evidence_id: str
    source_sha256: str
    purpose: str
    operations: list[dict[str, Any]]
    state: str
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    output_sha256: str | None
    output_size: int | None
    provenance: dict[str, Any] | None
    failure: str | None
    released_at: datetime | None

    @classmethod
    def of(cls, r: Redaction) -> RedactionOut:
        return cls(
            id=r.id,
            evidence_id=r.evidence_id,
            source_sha256=r.source_sha256,
            purpose=r.purpose,
            operations=r.operations,
            state=r.state,
            requested_by=r.requested_by,
            requested_at=r.requested_at,
            approved_by=r.approved_by,
            approved_at=r.approved_at,
            output_sha256=r.output_sha256,
            output_size=r.output_size,
            provenance=r.provenance,
            failure=r.failure,
            released_at=r.released_at,
        )
