"""Sizes: what S3 allows, and what this backend chooses within it."""

MiB = 1024 * 1024
GiB = 1024 * MiB
PART_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB
MAX_PARTS = 10_000
MAX_COPY_PART = 5 * GiB
CHUNK = MiB
PIPELINE = 2  # parts in flight per PATCH (docs/benchmarks.md, S3 ingest)
IN_FLIGHT = 16  # parts in flight across all PATCHes of one process
READ_ATTEMPTS = 3
