"""What every request body shares: unknown fields are refused, not silently dropped."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A request body: a field the API does not know is a client's mistake (422)."""

    model_config = ConfigDict(extra="forbid")
