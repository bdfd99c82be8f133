"""The callback through which a long audit shows how far it has come."""

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total); the log audit's phases are "entries" and "checkpoints"."""
