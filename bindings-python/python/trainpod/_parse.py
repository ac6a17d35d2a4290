"""What the generated modules (``_inputs``, ``_types``) parse core's JSON with: a leaf module, so
that they and the hand-written presentation import it without importing each other."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

_T = TypeVar("_T")


def _opt(value: Any, parse: Callable[[Any], _T]) -> _T | None:
    return None if value is None else parse(value)


def _known(cls: Any, d: Mapping[str, Any]) -> None:
    """Fail on a field ``cls`` lacks: a core newer than this package, never a silent drop."""
    unknown = d.keys() - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {sorted(unknown)}: regenerate _types.py")
