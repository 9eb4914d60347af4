"""Checkpoints written atomically: a crash mid-write never damages the previous checkpoint.

A checkpoint is one ``.npz`` file holding named arrays plus a JSON metadata string. It is written
to a temporary file in the same folder, flushed to disk, then renamed over the old one.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint"]

_META_KEY = "__meta__"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, damaged or does not belong to this run."""


def save_checkpoint(
    path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict[str, Any]
) -> None:
    """Write ``arrays`` and ``meta`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if _META_KEY in arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    payload = dict(arrays)
    payload[_META_KEY] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    CheckpointError
        If the file is missing or cannot be read as a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop(_META_KEY).tobytes().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        reason = f"{type(err).__name__}: {err}"
        raise CheckpointError(f"checkpoint {path} is damaged ({reason})") from None
    return arrays, meta
