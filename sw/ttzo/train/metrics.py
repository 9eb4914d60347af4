"""JSON-lines metrics log that survives resumes: records past the checkpoint are dropped."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["MetricsLog", "read_metrics"]


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a metrics log; a torn last line (crash mid-write) is ignored."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    with path.open() as fh:
        for line in fh:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return records


class MetricsLog:
    """Append-only JSON-lines log keyed by ``step``.

    Parameters
    ----------
    path : path-like
    resume_step : int or None
        When resuming, records with ``step`` beyond the checkpoint's step are removed, so a run
        that crashed after logging but before checkpointing does not log a step twice.
        ``None`` starts a fresh log.
    """

    def __init__(self, path: str | os.PathLike, resume_step: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = [] if resume_step is None else [
            r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step
        ]
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with tmp.open("w") as fh:
            for record in kept:
                fh.write(json.dumps(record) + "\n")
        os.replace(tmp, self.path)

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(read_metrics(self.path))
