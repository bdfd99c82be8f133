from __future__ import annotations

from pydantic import BaseModel


class InclusionProof(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]
    root: str


class ConsistencyProof(BaseModel):
    first: int
    second: int
    proof: list[str]
    first_root: str
    second_root: str


class EntryOut(BaseModel):
    seq: int
    event: str
    leaf_hash: str


class EntriesOut(BaseModel):
    start: int
    end: int
    tree_size: int
    entries: list[EntryOut]
