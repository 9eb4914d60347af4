"""Typed result records and their files: build reports, training results, netlists and
benchmark results are written through a temporary file, never left half-written, and read
back field by field."""

from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["record_from_dict", "write_text_atomic"]

R = TypeVar("R")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (its folder created) through a temporary file, so that
    ``path`` is never left half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def record_from_dict(cls: type[R], data: dict[str, Any], what: str) -> R:
    """The dataclass ``cls`` from ``data``, which may hold more keys (a benchmark record holding
    a report and its command); a missing required field raises a ``ValueError`` naming it and
    ``what`` the record is."""
    missing = [f.name for f in fields(cls)
               if f.default is MISSING and f.default_factory is MISSING and f.name not in data]
    if missing:
        raise ValueError(f"{what} lacks {', '.join(missing)}")
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})
