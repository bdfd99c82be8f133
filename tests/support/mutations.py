"""Every single alteration of a JSON document: the walk the verifier mutation suites share."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

Steps = tuple[str | int, ...]
Mutation = tuple[str, str, Callable[[Any], None]]
"""(the path a verifier must flag, what was done, the edit in place)"""


def other(value: Any) -> Any:
    """A different value of the same JSON type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value[:-1] + ("A" if value[-1:] != "A" else "B") if value else "x"
    return [*value, value[0] if value else "x"]


def _wrong_type(value: Any) -> Any:
    return 1 if isinstance(value, str) else "1"


def at(doc: Any, steps: Steps) -> Any:
    node = doc
    for step in steps:
        node = node[step]
    return node


def name(steps: Steps) -> str:
    text = ""
    for step in steps:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _edit(steps: Steps, change: Callable[[Any, str | int], None]) -> Callable[[Any], None]:
    def apply(doc: Any) -> None:
        change(at(doc, steps[:-1]), steps[-1])

    return apply


def _put(v: Any) -> Callable[[Any, str | int], None]:
    return lambda container, key: container.__setitem__(key, copy.deepcopy(v))


def mutations(
    node: Any, steps: Steps = (), unordered: frozenset[str] = frozenset()
) -> Iterator[Mutation]:
    """Every single alteration below `node`, depth first: a new value, a wrong type, null,
    removal, an extra field in each object, and each list reversed unless `unordered` names it."""
    if steps:
        path, parent = name(steps), name(steps[:-1])
        if not isinstance(node, dict):  # a dict's new value is its extra field, below
            yield path, "new value", _edit(steps, _put(other(node)))
        yield path, "wrong type", _edit(steps, _put(_wrong_type(node)))
        yield path, "null", _edit(steps, _put(None))
        yield (
            (parent if isinstance(steps[-1], int) else path),
            "removal",
            _edit(steps, lambda container, key: container.__delitem__(key)),
        )
    if isinstance(node, dict):
        yield (
            name((*steps, "extra")),
            "extra field",
            lambda d: at(d, steps).__setitem__("extra", "1"),
        )
        for key in node:
            yield from mutations(node[key], (*steps, key), unordered)
    elif isinstance(node, list):
        if len(node) > 1 and name(steps) not in unordered:
            yield name(steps), "reordering", lambda d: at(d, steps).reverse()
        for i, item in enumerate(node):
            yield from mutations(item, (*steps, i), unordered)
